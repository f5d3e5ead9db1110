"""Benchmark of the global search (issue 18 §2): the top bar's dropdown on a tenant with 100,000 customers.

    .venv/bin/python bench/search.py                               # bench/bigtenant.py's FULL sizes
    .venv/bin/python bench/search.py --customers 20000 --requests 50   # a quick run

Servers and conventions are bench/run.py's (embedded PostgreSQL + Valkey, or DATABASE_URL and REDIS_URL). The
tenant is bench/bigtenant.py's (100,000 customers, 200,000 contacts, 50,000 deals, 100,000 orders, 20,000
tickets). Each query is typed as people type (taken from the data: a two-character piece of a Chinese name, one
surname, a phone in national form and with +86, part of an email, an English name, an order number both ways, a
ticket number, a deal title's word, a contact's whole name, mobile and WeChat id, a word matching nothing) and asked `GET /<slug>/search/?q=` as htmx (the
dropdown fragment), in process (Flask's test client), as the admin (scope all) and as a sales rep (scope own).
Floor: the SQL statements that search sent for that query, replayed raw over psycopg (no ORM, no template).

Prints a table and writes bench/results/search.json.
"""
import argparse
import json
import os
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bigtenant import FULL, seed_big_tenant  # noqa: E402
from bench.run import RESULTS, logged_in_client, machine, no_nan, plain_url, services, summary  # noqa: E402

OUTPUT = RESULTS / "search.json"
TARGET_P95_MS = 50.0
WARMUP = 5
HX = {"HX-Request": "true"}


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def typed_queries(raw_url: str, schema: str) -> dict[str, str]:
    """What people type, taken from the data so that each query finds something (but the last)."""
    import psycopg

    with psycopg.connect(raw_url) as connection:
        def one(sql: str):
            return connection.execute(sql.replace("S.", f'"{schema}".')).fetchone()[0]

        chinese = one("SELECT name FROM S.customers WHERE name ~ '^[^ -~]{3}$' ORDER BY md5(id::text) LIMIT 1")
        english = one("SELECT split_part(name, ' ', 2) FROM S.customers WHERE name ~ '^[A-Za-z]+ [A-Za-z]+$' "
                      "ORDER BY md5(id::text) LIMIT 1")
        phone = one("SELECT phone FROM S.customers WHERE phone LIKE '+86%' ORDER BY md5(id::text) LIMIT 1")
        email = one("SELECT split_part(email, '@', 1) FROM S.customers WHERE email IS NOT NULL "
                    "ORDER BY md5(id::text) LIMIT 1")
        order = one("SELECT id FROM S.orders ORDER BY md5(id::text) LIMIT 1")
        ticket = one("SELECT id FROM S.tickets ORDER BY md5(id::text) LIMIT 1")
        contact = one("SELECT name FROM S.contacts WHERE name ~ '^[^ -~]{3}$' ORDER BY md5(id::text) LIMIT 1")
        mobile = one("SELECT mobile FROM S.contacts WHERE mobile IS NOT NULL ORDER BY md5(id::text) LIMIT 1")
        wechat = one("SELECT wechat FROM S.contacts WHERE wechat IS NOT NULL ORDER BY md5(id::text) LIMIT 1")
        deal_word = one("SELECT split_part(title, ' · ', 2) FROM S.deals WHERE title LIKE '% · %' "
                        "ORDER BY md5(id::text) LIMIT 1")
    national = phone[3:]
    return {"Chinese name, 2 chars": chinese[1:], "surname, 1 char": chinese[0],
            "phone, national": f"{national[:3]} {national[3:7]} {national[7:]}", "phone, +86": phone,
            "email, local part": email, "English surname": english, "order SO-000000": f"SO-{order:06d}",
            "order, digits": str(order), "ticket TK-000000": f"TK-{ticket:06d}", "deal title word": deal_word,
            "contact's name": contact, "contact's mobile": mobile[3:], "contact's WeChat id": wechat,
            "nothing matches": "zzqx"}


class Recorder:
    """The statements (and parameters) that crm.search.service.search sends while it runs."""

    def __init__(self, engine):
        from sqlalchemy import event

        from crm.search import service

        self.on, self.statements = False, []
        event.listen(engine, "before_cursor_execute", self._record)
        searching = service.search

        def recorded(viewer, q):
            self.on = True
            try:
                return searching(viewer, q)
            finally:
                self.on = False

        service.search = recorded  # the view calls it through the module

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        if self.on:
            self.statements.append((statement, parameters))


def bench_query(client, url: str, q: str, n: int) -> dict:
    for _i in range(WARMUP):
        client.get(url, query_string={"q": q}, headers=HX)
    ms = []
    for _i in range(n):
        def get():
            response = client.get(url, query_string={"q": q}, headers=HX)
            assert response.status_code == 200 and "<html" not in response.text, response.status_code
        ms.append(timed(get))
    return summary(ms)


def floor(raw_url: str, statements: list, n: int) -> dict:
    """The same statements with the same parameters, raw, in one transaction each time."""
    import psycopg

    with psycopg.connect(raw_url) as connection:
        each = [[] for _statement in statements]

        def run():
            with connection.transaction():
                for i, (statement, parameters) in enumerate(statements):
                    each[i].append(timed(lambda: connection.execute(statement, parameters).fetchall()))
        for _i in range(WARMUP):
            run()
        each = [[] for _statement in statements]
        result = summary([timed(run) for _i in range(n)])
    # Which statement the time goes to: its median, and where it reads from (the FROM clause's first table).
    result["statements"] = [{"median": summary(ms)["median"], "from": _table(statement)}
                            for ms, (statement, _parameters) in zip(each, statements)]
    return result


def _table(statement: str) -> str:
    found = re.search(r"\bFROM\s+(\S+)", statement)
    return found.group(1).split(".")[-1] if found else statement[:30]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=FULL["customers"])
    parser.add_argument("--requests", type=int, default=200, help="timed requests per query and viewer")
    args = parser.parse_args()
    scale = args.customers / FULL["customers"]
    sizes = {k: max(int(v * scale), 10) for k, v in FULL.items() if k != "customers"}
    begun = time.perf_counter()

    def step(message: str) -> None:
        print(f"[{time.perf_counter() - begun:6.1f}s] {message}", flush=True)

    with services() as (database_url, redis_url, services_mode):
        os.environ.update(DATABASE_URL=database_url, REDIS_URL=redis_url, TENANT_CACHE_SECONDS="1000000")
        raw_url = plain_url(database_url)
        from crm import create_app
        from crm.accounts.models import Account
        from crm.extensions import db
        from tenants.migrations import upgrade_public

        app = create_app()
        with app.app_context():
            upgrade_public(db.engine)
            recorder = Recorder(db.engine)
        step(f"seeding a tenant with {args.customers:,} customers and {sizes} ...")
        big = seed_big_tenant(app, slug="searchbench", customers=args.customers, **sizes, log=step)
        queries = typed_queries(raw_url, big.schema)
        results = {"queries": {}, "sizes": {"customers": args.customers, **sizes}}
        with app.app_context():
            viewers = {"admin": logged_in_client(app, db.session.get(Account, big.admin_account_id)),
                       "rep": logged_in_client(app, db.session.get(Account, big.rep_account_ids[0]))}
        for label, q in queries.items():
            for who, client in viewers.items():
                url = f"/{big.slug}/search/"
                recorder.statements = []
                client.get(url, query_string={"q": q}, headers=HX)
                statements = list(recorder.statements)
                stats = bench_query(client, url, q, args.requests)
                raw = floor(raw_url, statements, args.requests)
                results["queries"][f"{label} [{who}]"] = {"q": q, "fragment": stats, "floor": raw,
                                                          "statements": len(statements)}
                parts = ", ".join(f"{s['from']} {s['median']:.1f}" for s in raw["statements"])
                step(f"{label} [{who}] {q!r}: p95 {stats['p95']:.1f} ms, floor p95 {raw['p95']:.1f} ms ({parts})")
        info = machine(raw_url, services_mode)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    results.update({"when": datetime.now(UTC).isoformat(timespec="seconds"), "requests": args.requests,
                    "machine": info, "loadavg_at_end": os.getloadavg(), "target_p95_ms": TARGET_P95_MS,
                    "seconds": time.perf_counter() - begun})
    print_table(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(no_nan(results), indent=2, ensure_ascii=False, default=str))
    print(f"\nwrote {OUTPUT.relative_to(ROOT)}")


def print_table(results: dict) -> None:
    print(f"\nGlobal search on {results['sizes']['customers']:,} customers, {results['requests']} requests each "
          f"(load average at the end {results['loadavg_at_end'][0]:.2f}); target p95 < {TARGET_P95_MS:.0f} ms")
    print(f"| {'query [viewer]':<34} | {'q':<16} | SQL | median ms | p95 ms | floor median | floor p95 | slowest |")
    print(f"|{'-' * 36}|{'-' * 18}|-----|-----------|--------|--------------|-----------|---------|")
    for name, row in results["queries"].items():
        stats, raw = row["fragment"], row["floor"]
        slowest = max(raw["statements"], key=lambda s: s["median"], default={"from": "", "median": 0.0})
        print(f"| {name:<34} | {row['q']:<16} | {row['statements']:>3} | {stats['median']:>9.1f} | "
              f"{stats['p95']:>6.1f} | {raw['median']:>12.1f} | {raw['p95']:>9.1f} | "
              f"{slowest['from']} {slowest['median']:.1f} |")


if __name__ == "__main__":
    main()
