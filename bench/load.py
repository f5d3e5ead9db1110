"""Load test (issue 19 item 8): gunicorn as shipped, 100 workspaces, admins and sales reps signed in through the real
form, a weighted mix of pages and writes sent by locust over loopback for a fixed time.

    .venv/bin/python bench/load.py                      # 100 workspaces, 8 users, 60 s (+ 5 s warm-up, 20 s floor)
    .venv/bin/python bench/load.py --users 40 --seconds 120
    .venv/bin/python bench/load.py --quick              # 10 workspaces, 10 s: a smoke run

Servers and conventions are bench/run.py's (embedded PostgreSQL + Valkey, or DATABASE_URL and REDIS_URL with a
database `crm_bench`, dropped at the end). Untimed set-up: `--tenants` workspaces made by the app's
`create_workspace`, each with an admin and two sales reps (accounts signing in with one password), CUSTOMERS
customers owned by the reps (a rep sees only theirs; a few have no owner), DEALS deals on the default pipeline,
ORDERS orders per member, each moved to `received`. Then gunicorn starts as scripts/deploy/crm-web.service runs it
(`gunicorn -c scripts/deploy/gunicorn.conf.py wsgi:app`: 2 sync workers a core, max-requests with jitter, JSON logs)
on a free port of 127.0.0.1, with two settings changed and said in the table: CRM_ENV is not `production` (its
cookies are Secure, which no client sends back over plain http) and LOGIN_IP_LIMITS is raised (every simulated person
signs in from 127.0.0.1). bench/load_users.py, in a process of its own, then sends the load (see there for the mix,
the checks and the sign-in rotation), and after it the floor: `GET /healthz` with the same users and the same tool.
gunicorn is stopped at the end (its whole process group).

Reported per kind of request: requests, requests/s, p50/p95/p99 and errors; overall requests/s; the floor's. Prints a
table and writes bench/results/load.json.
"""
import argparse
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import RESULTS, machine, no_nan, percentile, plain_url, services  # noqa: E402

PASSWORD = "load-test-password"
CUSTOMERS = 300
DEALS = 30
ORDERS = 4  # per member
PLAN_CUSTOMERS = 60  # customer ids each simulated person picks from
FULL = {"tenants": 100, "seconds": 60.0, "warmup": 5.0, "floor_seconds": 20.0}
QUICK = {"tenants": 10, "seconds": 10.0, "warmup": 2.0, "floor_seconds": 5.0}
KINDS = ("home", "customer list", "list search (htmx)", "customer page", "kanban", "follow-up: form",
         "follow-up: create", "order status change")


def step(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------- data

def make_workspaces(app, n: int, prefix: str = "load", customers: int = CUSTOMERS, log=step) -> dict:
    """n workspaces of an admin and two reps with customers, deals and orders; returns the plan load_users reads:
    the accounts (interleaved: consecutive ones are in different workspaces) with what each may open."""
    from sqlalchemy import select

    from crm.accounts.models import Account
    from crm.accounts.service import create_workspace, hash_password
    from crm.customers.models import Customer
    from crm.demo import DEAL_TITLES, insert_customers
    from crm.deals import deals, stages
    from crm.extensions import db
    from crm.members.models import Member, Role
    from crm.orders import service as orders
    from crm.orders.forms import LineInput
    from tenants.binding import tenant_bound
    from tenants.models import Membership
    from tenants.resolver import find_tenant

    rng = random.Random(19)
    by_workspace = []
    with app.app_context():
        password_hash = hash_password(PASSWORD)  # the configured cost, once: every account shares it
        for i in range(n):
            slug = f"{prefix}-{i}"
            people = [Account(email=f"{kind}@{slug}.load.example", name=name, password_hash=password_hash,
                              language="en")
                      for kind, name in (("admin", f"Admin {i}"), ("rep1", f"王芳 {i}"), ("rep2", f"Emily Chen {i}"))]
            db.session.add_all(people)
            db.session.flush()
            tenant = create_workspace(f"Load {i} 负载贸易", slug, people[0])
            db.session.add_all(Membership(account_id=a.id, tenant_id=tenant.id) for a in people[1:])
            db.session.commit()
            with tenant_bound(find_tenant(slug)):
                rep_role = db.session.scalar(select(Role.id).where(Role.key == "sales_rep"))
                admin = db.session.scalar(select(Member).where(Member.account_id == people[0].id))
                reps = [Member(account_id=a.id, role_id=rep_role, name=a.name, email=a.email) for a in people[1:]]
                db.session.add_all(reps)
                db.session.flush()
                insert_customers(customers, [r.id for r in reps], [], rng)
                owned = {m.id: list(db.session.scalars(select(Customer.id).where(Customer.owner_id == m.id)
                                                       .order_by(Customer.id)))
                         for m in reps}
                unowned = list(db.session.scalars(select(Customer.id).where(Customer.owner_id.is_(None))))
                owned[admin.id] = unowned or owned[reps[0].id]
                open_stages = [s.id for s in stages.stages(stages.pipelines()[0].id) if s.kind == "open"]
                every = [(m, c) for m in reps for c in owned[m.id]]
                for d, (member, customer) in enumerate(rng.sample(every, min(DEALS, len(every)))):
                    deals.create_deal(admin, {"title": DEAL_TITLES[d % len(DEAL_TITLES)], "customer_id": str(customer),
                                              "stage_id": str(rng.choice(open_stages)), "currency": "CNY",
                                              "amount": str(rng.randrange(2000, 300000, 500)),
                                              "owner_id": str(member.id)})
                plan = []
                for member, account in zip([admin, *reps], people):
                    mine = []
                    for customer in owned[member.id][:ORDERS]:
                        order = orders.create_order(member, {"customer_id": str(customer)}, [
                            LineInput(key="a", description="运费 Shipping", quantity="1", unit_price="30")])
                        orders.move_order(member, order, "shipped")
                        orders.move_order(member, order, "received")
                        mine.append(order.id)
                    visible = (owned[member.id] + [c for r in reps for c in owned[r.id]]) if member is admin \
                        else owned[member.id]
                    plan.append({"email": account.email, "slug": slug, "member_id": member.id,
                                 "role": "admin" if member is admin else "rep", "orders": mine,
                                 "customers": rng.sample(visible, min(PLAN_CUSTOMERS, len(visible)))})
            db.session.commit()
            by_workspace.append(plan)
            if (i + 1) % 10 == 0:
                log(f"  {i + 1} workspaces")
    accounts = [plan[k] for k in (0, 1, 2) for plan in by_workspace]
    accounts = [a for j in range(n) for a in accounts[j::n]]  # workspace 0 admin, 1 rep, 2 rep, 3 admin, ...
    return {"password": PASSWORD, "accounts": accounts}


# ---------------------------------------------------------------- gunicorn

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gunicorn(database_url: str, redis_url: str, folder: Path, **settings):
    """gunicorn with the shipped configuration on a free loopback port: (base URL, master pid). Stopped (the whole
    process group) on exit."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "BIND": f"127.0.0.1:{port}",
           "LOG_FORMAT": "json", "SECRET_KEY": secrets.token_hex(32), "PROMETHEUS_MULTIPROC_DIR": str(folder / "m"),
           "LOGIN_IP_LIMITS": "100000 per minute", "FILE_DIR": str(folder / "files"), **settings}
    env.pop("CRM_ENV", None)
    log = open(folder / "gunicorn.log", "w")
    server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c", "scripts/deploy/gunicorn.conf.py",
                               "wsgi:app"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=30):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start:\n" + (folder / "gunicorn.log").read_text()[-3000:])
                time.sleep(0.2)
        yield base, server.pid
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=40)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def postmaster(database_url: str) -> int | None:
    """PostgreSQL's main process when it runs on this machine (a backend's parent), else None."""
    import psycopg

    with psycopg.connect(plain_url(database_url)) as connection:  # open while its process is read
        backend = connection.execute("select pg_backend_pid()").fetchone()[0]
        try:
            parent = int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
            return parent if "postgres" in Path(f"/proc/{parent}/cmdline").read_text() else None
        except (OSError, ValueError):
            return None


def warm(base: str, workers: int) -> None:
    """Each worker's first request builds its app: ask often enough that every worker has answered once."""
    for _ in range(4 * workers):
        with urllib.request.urlopen(base + "/healthz", timeout=60):
            pass


# ---------------------------------------------------------------- the load

def send_load(base: str, plan_file: Path, users: int, seconds: float, warmup: float, floor_seconds: float,
              session: int, server_pid: int, database_pid: int | None) -> dict:
    """bench/load_users.py in its own process (gevent patches the process it runs in); its raw results by phase."""
    out = plan_file.with_name("load.json")
    command = [sys.executable, str(ROOT / "bench" / "load_users.py"), "--host", base, "--plan", str(plan_file),
               "--users", str(users), "--seconds", str(seconds), "--warmup", str(warmup), "--session", str(session),
               "--floor-seconds", str(floor_seconds), "--server-pid", str(server_pid), "--out", str(out)]
    command += ["--database-pid", str(database_pid)] if database_pid else []
    log_file = plan_file.with_name("locust.log")
    with open(log_file, "w") as log:
        done = subprocess.run(command, timeout=warmup + seconds + floor_seconds + 600, stdout=log, stderr=log)
    if done.returncode:
        raise RuntimeError(f"bench/load_users.py failed ({done.returncode}):\n" + log_file.read_text()[-3000:])
    return json.loads(out.read_text())


def summarise(raw: dict) -> dict:
    """Per kind: requests, requests/s, p50/p95/p99 ms, errors; and the whole."""
    seconds = raw["seconds"]
    kinds = {}
    for name, times in sorted(raw["times_ms"].items()):
        kinds[name] = {"requests": len(times), "per_second": len(times) / seconds, "p50": percentile(times, 50),
                       "p95": percentile(times, 95), "p99": percentile(times, 99),
                       "errors": raw["errors"].get(name, 0)}
    every = [t for times in raw["times_ms"].values() for t in times]
    total = {"requests": len(every), "per_second": len(every) / seconds if seconds else 0.0,
             "p50": percentile(every, 50), "p95": percentile(every, 95), "p99": percentile(every, 99),
             "errors": sum(raw["errors"].values())}
    return {"seconds": seconds, "users": raw["users"], "kinds": kinds, "total": total,
            "tool_cpu_share": raw["tool_cpu_seconds"] / raw["wall_seconds"],
            # gunicorn's CPU (master and workers: the app and the WSGI server, not PostgreSQL) per counted request
            "server_cpu_ms_per_request": 1000 * raw["server_cpu_seconds"] / max(len(every), 1),
            # PostgreSQL's (every backend of the cluster: other work on it counts too), when it runs on this machine
            "database_cpu_ms_per_request": 1000 * raw["database_cpu_seconds"] / max(len(every), 1),
            "error_examples": raw.get("error_examples", {})}


def run(app, database_url: str, redis_url: str, *, tenants: int, users: int, seconds: float, warmup: float,
        floor_seconds: float, session: int, prefix: str = "load", log=step) -> dict:
    """Set-up, gunicorn, the mix, the floor: the results."""
    log(f"making {tenants} workspaces (an admin, two reps, {CUSTOMERS} customers, {DEALS} deals, "
        f"{ORDERS} orders a member) ...")
    started = time.perf_counter()
    plan = make_workspaces(app, tenants, prefix=prefix, log=log)
    setup_seconds = time.perf_counter() - started
    folder = Path(tempfile.mkdtemp(prefix="crm-load-"))
    plan_file = folder / "plan.json"
    plan_file.write_text(json.dumps(plan))
    workers = int(os.environ.get("WEB_CONCURRENCY", str(2 * (os.cpu_count() or 1))))
    try:
        with gunicorn(database_url, redis_url, folder) as (base, server_pid):
            warm(base, workers)
            log(f"{len(plan['accounts'])} sign-ins, then the mix ({users} users, {warmup:g} s warm-up + "
                f"{seconds:g} s), then the floor ({floor_seconds:g} s) ...")
            raw = send_load(base, plan_file, users, seconds, warmup, floor_seconds, session, server_pid,
                            postmaster(database_url))
        server_log = (folder / "gunicorn.log").read_text()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"argon2": app.config["ARGON2_PROFILE"], "tenants": tenants, "accounts": len(plan["accounts"]),
            "users": users, "seconds": seconds, "warmup": warmup, "session": session, "workers": workers,
            "setup_seconds": setup_seconds, **{name: summarise(raw[name]) for name in ("sign_in", "mix", "floor")},
            "gunicorn_log_tail": server_log[-2000:]}


# ---------------------------------------------------------------- report

def print_table(results: dict) -> None:
    sign_in, mix, floor = results["sign_in"], results["mix"], results["floor"]
    m = results["machine"]
    print(f"\nLoad test: gunicorn ({results['workers']} sync workers), {results['tenants']} workspaces, "
          f"{results['accounts']} accounts, {results['users']} locust users without think time, "
          f"{mix['seconds']:.0f} s counted; load average {m['loadavg_at_start'][0]:.2f} at start, "
          f"{m['loadavg_at_end'][0]:.2f} at end")
    print(f"| {'kind':<30} | requests |  req/s | p50 ms | p95 ms | p99 ms | errors |")
    print(f"|{'-' * 32}|----------|--------|--------|--------|--------|--------|")
    rows = [*[(k, mix["kinds"][k]) for k in KINDS if k in mix["kinds"]],
            *[(k, v) for k, v in mix["kinds"].items() if k not in KINDS],
            ("all of the mix", mix["total"]), *floor["kinds"].items(),
            *[(f"{k} (phase 1)", v) for k, v in sign_in["kinds"].items()]]
    for name, r in rows:
        print(f"| {name:<30} | {r['requests']:>8} | {r['per_second']:>6.1f} | {r['p50']:>6.1f} | {r['p95']:>6.1f} | "
              f"{r['p99']:>6.1f} | {r['errors']:>6} |")
    print(f"gunicorn's CPU per request (app + WSGI server, PostgreSQL aside): "
          f"{mix['server_cpu_ms_per_request']:.1f} ms "
          f"in the mix, {floor['server_cpu_ms_per_request']:.2f} ms in the floor, "
          f"{sign_in['server_cpu_ms_per_request']:.1f} ms in the sign-in phase (3 requests an account); "
          f"PostgreSQL's: {mix['database_cpu_ms_per_request']:.1f} ms in the mix")
    print(f"phase 1: {results['accounts']} accounts signed in in {sign_in['seconds']:.1f} s "
          f"({results['accounts'] / sign_in['seconds']:.1f} a second, argon2 {results['argon2']}); locust itself "
          f"used {mix['tool_cpu_share']:.2f} of a core in the mix, {floor['tool_cpu_share']:.2f} in the floor")
    for name, example in {**sign_in["error_examples"], **mix["error_examples"], **floor["error_examples"]}.items():
        print(f"  error in {name}: {example}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 workspaces, 10 s: a smoke run")
    parser.add_argument("--tenants", type=int)
    parser.add_argument("--users", type=int, default=8, help="simulated people at once (default 8: 2 a worker)")
    parser.add_argument("--seconds", type=float, help="counted seconds of the mix (default 60; quick 10)")
    parser.add_argument("--session", type=int, default=50, help="requests between two sign-ins of a user")
    args = parser.parse_args()
    sizes = dict(QUICK if args.quick else FULL)
    sizes.update({k: v for k, v in (("tenants", args.tenants), ("seconds", args.seconds)) if v is not None})
    begun, load_at_start = time.perf_counter(), os.getloadavg()
    with services() as (database_url, redis_url, services_mode):
        os.environ.update(DATABASE_URL=database_url, REDIS_URL=redis_url, TENANT_POOL_SIZE="0")
        from crm import create_app
        from crm.extensions import db
        from tenants.migrations import upgrade_public

        app = create_app()
        with app.app_context():
            upgrade_public(db.engine)
        try:
            results = run(app, database_url, redis_url, users=args.users, session=args.session, **sizes)
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
        info = machine(plain_url(database_url), services_mode)
    info["loadavg_at_start"] = load_at_start
    results.update(when=datetime.now(UTC).isoformat(timespec="seconds"), mode="quick" if args.quick else "full",
                   command=" ".join(["bench/load.py", *sys.argv[1:]]), machine=info,
                   changed_settings={"CRM_ENV": "development (Secure cookies need https)",
                                     "LOGIN_IP_LIMITS": "100000 per minute (every user is 127.0.0.1)"},
                   total_seconds=time.perf_counter() - begun)
    print_table(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "load.json"
    out.write_text(json.dumps(no_nan(results), indent=2, ensure_ascii=False, default=str))
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
