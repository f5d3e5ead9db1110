"""Benchmarks of the sales pages: the kanban board of a pipeline with 5,000 open deals, and a customer whose
timeline holds 500 events.

    .venv/bin/python bench/sales.py            # full run: 50 timed requests per page (about 45 s)
    .venv/bin/python bench/sales.py --quick    # 10 timed requests per page, same data (about 25 s)

Servers, helpers and conventions are bench/run.py's (imported from it): embedded PostgreSQL + Valkey in a
temporary folder, or the servers named by DATABASE_URL and REDIS_URL when both are set; a statement timeout on
the bench database and a time budget per phase. Prints a table and writes bench/results/sales-latest.json.

Data (the same in both modes): one tenant made with `sign_up`, 8 sales reps in 2 teams, 2,000 customers
(crm.demo), and in the default pipeline 5,000 open deals spread over its four open stages (40/25/20/15 %) plus
1,000 won and 1,000 lost ones; a second pipeline holds 500 more. One customer has 500 timeline events of mixed
kinds among ~28,000 events of other customers, 8 of the deals, 4 orders, 2 tickets and 3 planned follow-ups.
Everything is timed through Flask's test client, signed in as the workspace's admin (scope "all"), except the
one row that says "sales rep (own scope)".
"""
import argparse
import gc
import importlib.util
import json
import os
import random
import re
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path


def _load_run():
    """bench/run.py as a module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bench_run", Path(__file__).resolve().parent / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


base = _load_run()  # also puts the project root on sys.path
ROOT, RESULTS = base.ROOT, base.RESULTS
OUTPUT = RESULTS / "sales-latest.json"

FULL = {"runs": 50, "warmup": 5}
QUICK = {"runs": 10, "warmup": 3}
DATA = {"customers": 2000, "reps": 8, "open_deals": 5000, "won_deals": 1000, "lost_deals": 1000,
        "other_pipeline_deals": 500, "hero_deals": 8, "timeline_events": 500, "other_events": 20_000}
OPEN_SHARES = (40, 25, 20, 15)  # Lead, Qualified, Proposal, Negotiation
BUDGETS = {"full": {"fill": 240, "phase": 60}, "quick": {"fill": 240, "phase": 20}}
# The issue gives no target; 100 ms p95 is the line the lead drew for "slow" when asking for this benchmark.
TARGETS = {"board_p95_ms": 100.0, "customer_page_p95_ms": 100.0}

REPS = ("王芳", "Emily Chen", "李强", "张伟", "Michael Brown", "刘洋", "陈静", "Sarah Miller")
PRODUCTS = ("ERP 部署", "年度维护合同", "CRM licences", "Cloud migration", "培训服务", "硬件采购", "Support renewal",
            "数据分析平台", "Website redesign", "安防系统升级", "Office fit-out", "物流管理软件")
LOST_REASONS = ("Price too high", "选择了竞争对手", "No budget this year", "项目取消", "No decision maker", "Went silent")
SUMMARIES = ("Discussed the quote", "确认了交付时间", "Sent the revised proposal", "客户要求再打折扣",
             "Demo for the IT team", "介绍了新产品线", "Asked for references", "约了下周拜访")
OUTCOMES = ("Interested, wants a call next week", "已签字回传", "Needs approval from the CFO", "暂时没有预算",
            "Agreed on the scope", "要求提供案例", "Will compare with another vendor")
NOTES = ("Prefers WeChat over email.", "客户的采购流程需要三方比价，预计两周。",
         ("Met at the Shanghai trade fair; decision in Q3. Their current vendor's contract ends in September and "
          "the IT director is unhappy with support response times."),
         "财务部联系人换成了李经理，发票寄到新地址。", "Asked for a discount for a three-year commitment.")


# ---------------------------------------------------------------- data

def make_reps(app, tenant_id: int) -> list[int]:
    """Accounts and memberships (public) for the sales reps; their member rows come in fill()."""
    from crm.accounts.models import Account
    from crm.extensions import db
    from tenants.models import Membership

    with app.app_context():
        accounts = [Account(email=f"rep{i}@bench.example.com", name=name, password_hash="x", language="en")
                    for i, name in enumerate(REPS[:DATA["reps"]])]
        db.session.add_all(accounts)
        db.session.flush()
        db.session.add_all(Membership(account_id=a.id, tenant_id=tenant_id) for a in accounts)
        db.session.commit()
        return [a.id for a in accounts]


def labels_in_both_languages(app) -> dict:
    """Timeline values stored in both languages, made the way the app makes them."""
    from crm.followups.service import method_in_both_languages
    from crm.orders.forms import STATUS_LABELS as ORDER_STATUSES
    from crm.tickets.forms import STATUS_LABELS as TICKET_STATUSES
    from crm.timeline.service import in_both_languages

    with app.test_request_context("/"):
        return {"methods": {m: method_in_both_languages(m) for m in ("call", "email", "visit", "wechat", "meeting")},
                "order_statuses": {k: in_both_languages(lambda v=v: v) for k, v in ORDER_STATUSES.items()},
                "ticket_statuses": {k: in_both_languages(lambda v=v: v) for k, v in TICKET_STATUSES.items()}}


def fill(app, tenant_id: int, admin_account_id: int, rep_account_ids: list[int], labels: dict,
         rng: random.Random, budget: base.Budget) -> dict:
    from sqlalchemy import func, insert, select

    from crm.followups.models import Activity
    from crm.customers.models import Customer, Tag
    from crm.demo import SOURCES, TAGS, insert_customers
    from crm.extensions import db
    from crm.members.models import Member, Role, Team
    from crm.orders import service as orders
    from crm.orders.forms import LineInput
    from crm.deals import stages
    from crm.deals.models import Deal, DealStageChange
    from crm.tickets import service as tickets
    from crm.timeline.models import TimelineEvent
    from tenants.binding import tenant_bound
    from crm.extensions import utcnow
    from tenants.service import tenant_ref

    started = time.perf_counter()
    with app.app_context():
        ref = tenant_ref(tenant_id)
        with tenant_bound(ref):
            admin = db.session.scalar(select(Member).where(Member.account_id == admin_account_id))
            rep_role = db.session.scalar(select(Role).where(Role.key == "sales_rep"))
            teams = [Team(name="华东销售"), Team(name="North America")]
            db.session.add_all(teams)
            db.session.flush()
            reps = [Member(account_id=account_id, role_id=rep_role.id, team_id=teams[i % 2].id, name=REPS[i],
                           email=f"rep{i}@bench.example.com") for i, account_id in enumerate(rep_account_ids)]
            db.session.add_all(reps)
            db.session.flush()
            owners = [admin.id] + [m.id for m in reps]
            tags = [Tag(name=name, color=color) for name, color in TAGS]
            db.session.add_all(tags)
            db.session.flush()
            insert_customers(DATA["customers"], owners, [t.id for t in tags], rng, batch=1000)
            customers = db.session.execute(select(Customer.id, Customer.name, Customer.company)
                                           .order_by(Customer.id)).all()
            hero, others = customers[0], customers[1:]  # the hero's events and deals are counted exactly
            db.session.get(Customer, hero.id).owner_id = reps[0].id

            main = stages.board_pipeline(None)
            other = stages.create_pipeline({"name_en": "Renewals", "name_zh": "续约"})
            main_stages, other_stages = stages.stages(main.id), stages.stages(other.id)
            opens = [s for s in main_stages if s.kind == "open"]
            won = next(s for s in main_stages if s.kind == "won")
            lost = next(s for s in main_stages if s.kind == "lost")
            other_opens = [s for s in other_stages if s.kind == "open"]

            # Which deal goes where; shuffled, so that ids (the board's order) interleave the stages.
            plan = ([(main, s) for s in rng.choices(opens, weights=OPEN_SHARES, k=DATA["open_deals"])]
                    + [(main, won)] * DATA["won_deals"] + [(main, lost)] * DATA["lost_deals"]
                    + [(other, s) for s in rng.choices(other_opens, k=DATA["other_pipeline_deals"])])
            rng.shuffle(plan)
            hero_at = set(rng.sample(range(len(plan)), DATA["hero_deals"]))
            now = utcnow()
            created = sorted(now - timedelta(minutes=rng.randint(60, 540 * 1440)) for _ in plan)
            rows = []
            for i, ((pipeline, stage), at) in enumerate(zip(plan, created)):
                customer = hero if i in hero_at else rng.choice(others)
                currency = rng.choices(("CNY", "USD", "EUR"), weights=(90, 7, 3))[0]
                amount = Decimal(str(min(rng.lognormvariate(11.0, 1.1), 9e8))).quantize(Decimal("0.01"))
                if currency != "CNY":
                    amount = (amount / 7).quantize(Decimal("0.01"))
                typed = rng.random() < 0.1
                rows.append({
                    "title": f"{customer.company or customer.name} · {rng.choice(PRODUCTS)}"[:200],
                    "customer_id": customer.id, "pipeline_id": pipeline.id, "stage_id": stage.id,
                    "amount": amount, "currency": currency,
                    "expected_close": (now + timedelta(days=rng.randint(-30, 240))).date() if rng.random() < 0.75
                    else None,
                    "owner_id": rng.choice(owners) if rng.random() < 0.95 else None,
                    "probability": rng.randint(5, 95) if typed else stage.probability, "probability_set": typed,
                    "source": rng.choice(SOURCES), "notes": rng.choice(NOTES) if rng.random() < 0.3 else None,
                    "custom": {}, "status": stage.kind,
                    "lost_reason": rng.choice(LOST_REASONS) if stage.kind == "lost" else None,
                    "closed_at": at + timedelta(days=rng.randint(1, 60)) if stage.kind != "open" else None,
                    "created_at": at, "updated_at": at,
                })
            for start in range(0, len(rows), 1000):
                db.session.execute(insert(Deal).execution_options(render_nulls=True), rows[start:start + 1000])
            deals = db.session.execute(select(Deal.id, Deal.customer_id, Deal.title, Deal.stage_id, Deal.owner_id,
                                              Deal.created_at).order_by(Deal.id)).all()
            changes = [{"deal_id": d.id, "from_stage_id": None, "to_stage_id": d.stage_id, "at": d.created_at,
                        "actor_id": d.owner_id} for d in deals]
            for start in range(0, len(changes), 2000):
                db.session.execute(insert(DealStageChange).execution_options(render_nulls=True),
                                   changes[start:start + 2000])
            stage_names = {s.id: s.names for s in main_stages + other_stages}
            names = {m.id: m.name for m in [admin, *reps]}
            hero_deals = [d for d in deals if d.customer_id == hero.id]

            # Timeline: every deal's "created" event, other customers' follow-ups and notes, and the hero's
            # mixed history; all sorted by time before the insert, so the hero's rows are spread over the heap
            # as they would be in a live workspace.
            events = [_event("deal_created", d.created_at, d.customer_id, d.id, d.owner_id, names,
                             deal=d.title, stage=stage_names[d.stage_id], link=["deals.show", {"deal_id": d.id}])
                      for d in deals if d.customer_id != hero.id]
            for _ in range(DATA["other_events"]):
                customer = rng.choice(others)
                at = now - timedelta(minutes=rng.randint(60, 720 * 1440))
                if rng.random() < 0.6:
                    events.append(_event("follow_up_logged", at, customer.id, None, rng.choice(owners), names,
                                         method=labels["methods"][rng.choice(list(labels["methods"]))],
                                         summary=rng.choice(SUMMARIES)))
                else:
                    events.append(_event("note", at, customer.id, None, rng.choice(owners), names,
                                         text=rng.choice(NOTES)))
            service_events = 6  # 4 orders and 2 tickets below log one event each
            hero_events = hero_history(rng, hero.id, hero_deals, owners, names, stage_names, labels, now,
                                       DATA["timeline_events"] - len(hero_deals) - service_events)
            events.extend(hero_events)
            events.sort(key=lambda e: e["at"])
            for start in range(0, len(events), 2000):
                if budget.expired():
                    raise RuntimeError("the fill ran out of its time budget")
                db.session.execute(insert(TimelineEvent).execution_options(render_nulls=True),
                                   events[start:start + 2000])

            # Newest: what the customer page's other cards show.
            for i in range(4):
                lines = [LineInput(key=f"k{j}", description=rng.choice(PRODUCTS), quantity=str(rng.randint(1, 20)),
                                   unit_price=f"{rng.randint(100, 20000)}.00", discount=rng.choice(("", "5", "10")))
                         for j in range(rng.randint(1, 4))]
                orders.create_order(admin, {"customer_id": str(hero.id), "owner_id": str(reps[0].id)}, lines)
            for subject in ("Printer jams on startup", "发票抬头需要更改"):
                tickets.create_ticket(admin, {"subject": subject, "customer_id": hero.id})
            db.session.add_all(Activity(customer_id=hero.id, owner_id=reps[0].id, method=m, summary=s,
                                        due_at=now + timedelta(days=d), created_by=reps[0].id)
                               for m, s, d in (("call", "Follow up on the quote", 1), ("visit", "上门演示", 5),
                                               ("email", "Send the contract draft", 9)))
            db.session.flush()
            hero_count = db.session.scalar(select(func.count()).select_from(TimelineEvent)
                                           .where(TimelineEvent.customer_id == hero.id))
            total_events = db.session.scalar(select(func.count()).select_from(TimelineEvent))
            result = {"pipeline_id": main.id, "other_pipeline_id": other.id,
                      "stages": {s.id: {"name": s.name_en, "kind": s.kind} for s in main_stages},
                      "hero_customer_id": hero.id, "hero_events": hero_count, "timeline_events_total": total_events,
                      "hero_event_ids": list(db.session.scalars(
                          select(TimelineEvent.id).where(TimelineEvent.customer_id == hero.id)
                          .order_by(TimelineEvent.id.desc()))),
                      "deals_by_stage": {str(k): v for k, v in stages.stage_deal_counts(main.id).items()},
                      "deals_total": len(deals), "customers": len(customers), "members": len(owners),
                      "admin_member_id": admin.id, "rep_member_id": reps[0].id, "schema": ref.schema}
    result["insert_seconds"] = time.perf_counter() - started
    return result


def _event(kind, at, customer_id, deal_id, actor_id, names, **payload) -> dict:
    return {"at": at, "customer_id": customer_id, "deal_id": deal_id, "kind": kind, "actor_id": actor_id,
            "actor_name": names.get(actor_id, "") if actor_id else "", "payload": payload}


def hero_history(rng, customer_id, deals, owners, names, stage_names, labels, now, count) -> list[dict]:
    """`count` events of one customer over two years, of every kind its page tells, plus its deals' creation."""
    events = [_event("deal_created", d.created_at, customer_id, d.id, d.owner_id, names, deal=d.title,
                     stage=stage_names[d.stage_id], link=["deals.show", {"deal_id": d.id}]) for d in deals]
    kinds = ("follow_up_logged", "follow_up_done", "note", "deal_stage", "deal_won", "deal_lost", "order_created",
             "order_status", "ticket_opened", "ticket_status", "pool_claimed")
    weights = (25, 15, 14, 16, 3, 2, 8, 10, 3, 3, 1)
    stage_list = list(stage_names.values())
    order_statuses, ticket_statuses = list(labels["order_statuses"]), list(labels["ticket_statuses"])
    for _ in range(count):
        kind = rng.choices(kinds, weights=weights)[0]
        at = now - timedelta(minutes=rng.randint(60, 720 * 1440))
        actor = rng.choice(owners) if rng.random() < 0.9 else None
        deal = rng.choice(deals)
        deal_link = {"deal": deal.title, "link": ["deals.show", {"deal_id": deal.id}]}
        order = rng.randint(1, 400)
        order_link = {"number": f"SO-{order:06d}", "link": ["orders.show", {"order_id": order}]}
        ticket = rng.randint(1, 200)
        ticket_link = {"number": f"#{ticket}", "link": ["tickets.show", {"ticket_id": ticket}]}
        method = labels["methods"][rng.choice(list(labels["methods"]))]
        if kind == "follow_up_logged":
            payload, deal_id = {"method": method, "summary": rng.choice(SUMMARIES)}, None
        elif kind == "follow_up_done":
            payload, deal_id = {"method": method, "outcome": rng.choice(OUTCOMES)}, None
        elif kind == "note":
            payload, deal_id = {"text": rng.choice(NOTES)}, None
        elif kind == "deal_stage":
            moved = rng.sample(stage_list, 2)
            payload, deal_id = {**deal_link, "from": moved[0], "to": moved[1]}, deal.id
        elif kind == "deal_won":
            payload, deal_id = deal_link, deal.id
        elif kind == "deal_lost":
            payload, deal_id = {**deal_link, "reason": rng.choice(LOST_REASONS)}, deal.id
        elif kind == "order_created":
            amount = rng.randint(500, 500_000)
            payload, deal_id = {**order_link, "total": {"en": f"CN¥{amount:,}.00", "zh": f"¥{amount:,}.00"}}, None
        elif kind == "order_status":
            pair = rng.sample(order_statuses, 2)
            payload = {**order_link, "from": labels["order_statuses"][pair[0]], "to": labels["order_statuses"][pair[1]]}
            deal_id = None
        elif kind == "ticket_opened":
            payload, deal_id = {**ticket_link, "subject": rng.choice(SUMMARIES)}, None
        elif kind == "ticket_status":
            payload = {**ticket_link, "status": labels["ticket_statuses"][rng.choice(ticket_statuses)]}
            deal_id = None
        else:
            payload, deal_id = {"member": names[rng.choice(owners)]}, None
        events.append(_event(kind, at, customer_id, deal_id, actor, names, **payload))
    return events


def vacuum(raw_url: str, schema: str) -> None:
    import psycopg

    tables = ("deals", "deal_stage_changes", "timeline_events", "customers", "members", "stages", "pipelines",
              "activities", "orders", "order_lines", "tickets", "audit_log", "teams", "tags")
    with psycopg.connect(raw_url, autocommit=True) as connection:
        connection.execute("vacuum (analyze) " + ", ".join(f'"{schema}".{t}' for t in tables))


# ---------------------------------------------------------------- timing

class Collector:
    """Milliseconds the cyclic garbage collector paused the process, in all and in full (generation 2) passes.

    A full pass walks every tracked object of the process (~150,000 once the app is built), and a board request
    allocates enough to trigger one every few requests: this is what sets the board's p95."""

    def __init__(self):
        self.ms = self.full_ms = 0.0
        self.full = 0
        gc.callbacks.append(self._callback)

    def _callback(self, phase, info):
        if phase == "start":
            self._t0 = time.perf_counter()
            return
        took = (time.perf_counter() - self._t0) * 1000
        self.ms += took
        if info["generation"] == 2:
            self.full += 1
            self.full_ms += took


COLLECTOR = Collector()


class Rendering:
    """Milliseconds spent rendering templates in a request (Flask's and jinja2-fragments' signals), less any
    SQL run while rendering (lazy loads), which the statement timers count."""

    def __init__(self, app, counter):
        from flask import before_render_template, template_rendered
        from jinja2_fragments.flask import (
            before_render_template_block,
            template_block_rendered,
        )

        self.counter, self.ms, self._depth = counter, 0.0, 0
        self._pairs = ((before_render_template, self._start, template_rendered, self._end),
                       (before_render_template_block, self._start, template_block_rendered, self._end))
        for start_signal, start, end_signal, end in self._pairs:
            start_signal.connect(start, app, weak=False)
            end_signal.connect(end, app, weak=False)

    def _start(self, sender, **extra):
        if self._depth == 0:
            self._t0, self._sql0 = time.perf_counter(), self.counter.seconds
        self._depth += 1

    def _end(self, sender, **extra):
        self._depth -= 1
        if self._depth == 0:
            self.ms += ((time.perf_counter() - self._t0) - (self.counter.seconds - self._sql0)) * 1000


def flat(statement: str) -> str:
    text = re.sub(r"%\((\w+?)_\d+\)s", r"%(\1_N)s", " ".join(statement.split()))
    return text if len(text) < 120 else f"{text[:70]} … {text[-45:]}"


def time_requests(client, requests, n: int, warmup: int, counter, rendering: Rendering, budget_seconds: float,
                  check) -> dict:
    """GET each (url, headers) of `requests` in turn: `warmup` untimed, then `n` timed. `check(response, url)`
    raises on a wrong page (the first response of each URL is checked; every status code is counted)."""
    checked = set()
    for i in range(warmup):
        url, headers = requests[i % len(requests)]
        response = client.get(url, headers=headers)
        if url not in checked:
            check(response, url)
            checked.add(url)
    times, sql_ms, render_ms, rest_ms, statements, per_statement, errors, sizes = [], [], [], [], [], {}, 0, []
    gc_ms = []
    budget = base.Budget(budget_seconds)
    gc.collect()
    full_before = COLLECTOR.full
    for i in range(n):
        if budget.expired():
            break
        url, headers = requests[i % len(requests)]
        rendering.ms, collected = 0.0, COLLECTOR.ms
        with counter.counting(keep=True):
            started = time.perf_counter_ns()
            response = client.get(url, headers=headers)
            elapsed = (time.perf_counter_ns() - started) / 1e6
        gc_ms.append(COLLECTOR.ms - collected)
        if url not in checked:
            check(response, url)
            checked.add(url)
        errors += response.status_code != 200
        times.append(elapsed)
        sql_ms.append(counter.seconds * 1000)
        render_ms.append(rendering.ms)
        rest_ms.append(elapsed - counter.seconds * 1000 - rendering.ms)
        statements.append(counter.count)
        sizes.append(len(response.data))
        for statement, took in zip(counter.statements, counter.durations):
            per_statement.setdefault(flat(statement), []).append(took)
    return {"app": base.summary(times, budget.hit), "sql_ms": base.summary(sql_ms, budget.hit),
            "render_ms": base.summary(render_ms, budget.hit), "rest_ms": base.summary(rest_ms, budget.hit),
            "gc_ms": base.summary(gc_ms, budget.hit), "full_collections": COLLECTOR.full - full_before,
            "errors": errors, "statements_per_request": max(statements, default=0),
            "bytes_median": base.percentile(sizes, 50),
            "per_statement_ms": {k: {"n": len(v), "median": base.percentile(v, 50), "p95": base.percentile(v, 95)}
                                 for k, v in sorted(per_statement.items(), key=lambda kv: -base.percentile(kv[1], 50))},
            "urls": sorted({url for url, _h in requests})[:20]}


def time_service(app, tenant_id: int, member_id: int, call, n: int, warmup: int, counter,
                 budget_seconds: float) -> dict:
    """`call(viewer)` alone, as a request would run it: a new transaction and an empty session each time."""
    from crm.extensions import db
    from crm.members.models import Member
    from tenants.binding import tenant_bound
    from tenants.service import tenant_ref

    times, sql_ms, statements, per_statement = [], [], 0, {}
    budget = base.Budget(budget_seconds)
    with app.test_request_context("/"), tenant_bound(tenant_ref(tenant_id)):
        for i in range(warmup + n):
            if i >= warmup and budget.expired():
                break
            db.session.rollback()
            db.session.expunge_all()
            viewer = db.session.get(Member, member_id)
            if i == warmup:
                gc.collect()
            with counter.counting(keep=True):
                started = time.perf_counter_ns()
                call(viewer)
                elapsed = (time.perf_counter_ns() - started) / 1e6
            if i >= warmup:
                times.append(elapsed)
                sql_ms.append(counter.seconds * 1000)
                statements = counter.count
                for statement, took in zip(counter.statements, counter.durations):
                    per_statement.setdefault(flat(statement), []).append(took)
        db.session.rollback()
    return {"call": base.summary(times, budget.hit), "sql_ms": base.summary(sql_ms, budget.hit),
            "statements": statements,
            "per_statement_ms": {k: {"n": len(v), "median": base.percentile(v, 50), "p95": base.percentile(v, 95)}
                                 for k, v in sorted(per_statement.items(), key=lambda kv: -base.percentile(kv[1], 50))}}


# ---------------------------------------------------------------- query plans

@contextmanager
def captured(engine):
    """The (statement, parameters) an engine sends inside the block, as sent (schema already translated)."""
    from sqlalchemy import event

    sent = []

    def before(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", before)


PLAN_NODE = re.compile(r"(Index Only Scan(?: Backward)? using|Index Scan(?: Backward)? using|Bitmap Index Scan on"
                       r"|Seq Scan on) (\S+)")


def explain(raw_url: str, statements: list[tuple[str, dict]], label: str) -> list[dict]:
    """EXPLAIN (ANALYZE, BUFFERS) of each statement with its real parameters (a custom plan, as the first
    executions get), and of the generic plan PostgreSQL may switch to once psycopg has prepared the statement."""
    import psycopg

    plans = []
    with psycopg.connect(raw_url, prepare_threshold=None) as connection:
        for statement, parameters in statements:
            entry = {"query": label, "sql": " ".join(statement.split()), "parameters": _plain(parameters)}
            try:
                # Twice: the first run in a fresh backend pays for catalog look-ups that a pooled connection
                # of the app has long cached; the second one is reported.
                connection.execute("explain (analyze) " + statement, parameters).fetchall()
                rows = connection.execute("explain (analyze, buffers) " + statement, parameters).fetchall()
                entry["plan"] = [r[0] for r in rows]
                connection.rollback()
                entry["generic_plan"] = _generic_plan(connection, statement, parameters)
            except psycopg.Error as error:
                connection.rollback()
                entry["error"] = str(error).strip()
            entry.update(_plan_summary(entry.get("plan", [])))
            generic = _plan_summary(entry.get("generic_plan") or [])
            entry["generic_execution_ms"], entry["generic_scans"] = generic["execution_ms"], generic["scans"]
            plans.append(entry)
    return plans


def _generic_plan(connection, statement: str, parameters) -> list[str] | None:
    """The plan of the statement prepared with $n parameters under plan_cache_mode = force_generic_plan."""
    from psycopg import sql

    if not isinstance(parameters, dict) or not parameters:
        return None
    order: list[str] = []

    def number(match):
        name = match.group(1)
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    numbered = re.sub(r"%\((\w+)\)s", number, statement).replace("%%", "%")
    try:
        connection.execute("set local plan_cache_mode = force_generic_plan")
        connection.execute(sql.SQL("prepare bench_generic as {}").format(sql.SQL(numbered)))
        arguments = sql.SQL(", ").join(sql.Literal(parameters[name]) for name in order)
        connection.execute(sql.SQL("explain (analyze) execute bench_generic ({})").format(arguments))
        rows = connection.execute(sql.SQL("explain (analyze, buffers) execute bench_generic ({})").format(arguments))
        return [r[0] for r in rows.fetchall()]
    finally:
        connection.rollback()
        connection.execute("deallocate all")
        connection.commit()


def _plan_summary(plan: list[str]) -> dict:
    scans = [f"{kind.replace(' using', '').replace(' on', '')}: {name}" for kind, name in
             (m.groups() for m in (PLAN_NODE.search(line) for line in plan) if m)]
    execution = next((float(line.split(":")[1].split()[0]) for line in plan if line.startswith("Execution Time")),
                     float("nan"))
    return {"scans": scans, "execution_ms": execution}


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)


def query_plans(app, raw_url: str, tenant_id: int, member_id: int, data: dict) -> list[dict]:
    """The SQL of service.board, service.column (a "more cards" page) and timeline.events (first and an older
    page), sent once each and explained."""
    from crm.extensions import db
    from crm.listing import cursor
    from crm.members.models import Member
    from crm.deals import deal_queries, stages
    from crm.timeline import service as timeline
    from tenants.binding import tenant_bound
    from tenants.service import tenant_ref

    plans = []
    with app.test_request_context("/"):
        ref = tenant_ref(tenant_id)
        with tenant_bound(ref):
            viewer, rep = db.session.get(Member, member_id), db.session.get(Member, data["rep_member_id"])
            pipeline = stages.get_pipeline(data["pipeline_id"])
            stage = stages.get_stage(data["more_stage_id"])
            calls = (
                ("service.board", lambda: deal_queries.board(viewer, pipeline, deal_queries.DealQuery())),
                ("service.board, sales rep (own scope)",
                 lambda: deal_queries.board(rep, pipeline, deal_queries.DealQuery())),
                ("service.column (more cards)", lambda: deal_queries.column(viewer, stage, deal_queries.DealQuery(),
                                                                            after=data["more_after"])),
                ("timeline.events (first page)", lambda: timeline.events(customer_id=data["hero_customer_id"])),
                ("timeline.events (older page)", lambda: timeline.events(customer_id=data["hero_customer_id"],
                                                                         after=cursor([data["hero_event_ids"][239]]))),
            )
            for label, call in calls:
                with captured(db.engine) as sent:
                    call()
                plans += explain(raw_url, sent, label)
    return plans


# ---------------------------------------------------------------- checks

def count(response, marker: bytes) -> int:
    return response.data.count(marker)


def expect(condition: bool, what: str, response) -> None:
    if not condition:
        raise AssertionError(f"{what}: HTTP {response.status_code}, {len(response.data)} bytes: "
                             f"{response.data[:300]!r}")


def board_check(expected_cards: int, expected_more: int, fragment: bool):
    def check(response, url):
        expect(response.status_code == 200, f"board {url}", response)
        cards = count(response, b'class="deal-card"')
        expect(cards == expected_cards, f"board {url}: {cards} cards, expected {expected_cards}", response)
        expect(count(response, b'class="kanban-more"') == expected_more, f"board {url}: 'Show more' items", response)
        expect((b"<html" in response.data) != fragment, f"board {url}: page or fragment", response)
    return check


def column_check(response, url):
    expect(response.status_code == 200, f"column {url}", response)
    expect(count(response, b'class="deal-card"') == 30, f"column {url}: 30 cards", response)


def customer_check(response, url):
    expect(response.status_code == 200, f"customer page {url}", response)
    expect(count(response, b'class="timeline-event ') == 30, f"customer page {url}: 30 events", response)
    expect(b'class="timeline-more"' in response.data, f"customer page {url}: 'Older events'", response)
    expect(b'class="plain-list deal-rows"' in response.data, f"customer page {url}: its deals", response)


def older_check(response, url):
    expect(response.status_code == 200, f"older events {url}", response)
    expect(0 < count(response, b'class="timeline-event ') <= 30, f"older events {url}: events", response)


# ---------------------------------------------------------------- report

def rows_of(results: dict) -> list[dict]:
    row, b, t = base.row, results["board"], TARGETS
    board_target = f"p95 < {t['board_p95_ms']:g} ms"
    customer_target = f"p95 < {t['customer_page_p95_ms']:g} ms"
    d = results["data"]
    deals = f"{d['open_in_pipeline']:,} open + {d['closed_in_pipeline']:,} closed deals"
    page, fragment = b["page"], b["fragment"]
    rows = [
        row(f"(a) board page GET /deals/, {deals} ({page['statements_per_request']} SQL)", page["app"],
            board_target, page["app"]["p95"] < t["board_p95_ms"], p99=True),
        row("(a)   of which SQL time", page["sql_ms"], p99=True),
        row("(a)   of which template rendering", page["render_ms"], p99=True),
        row("(a)   the rest: ORM objects, view code, Flask", page["rest_ms"], p99=True),
        row(f"(a)   GC pauses within the above (full passes: {page['full_collections']})", page["gc_ms"], p99=True),
        row(f"(a) board fragment, HX-Target: board ({fragment['statements_per_request']} SQL)", fragment["app"],
            board_target, fragment["app"]["p95"] < t["board_p95_ms"], p99=True),
        row("(a)   of which SQL time", fragment["sql_ms"], p99=True),
        row("(a)   of which template rendering", fragment["render_ms"], p99=True),
        row("(a)   the rest: ORM objects, view code, Flask", fragment["rest_ms"], p99=True),
        row(f"(a)   GC pauses within the above (full passes: {fragment['full_collections']})", fragment["gc_ms"],
            p99=True),
        row(f"(a) board fragment as a sales rep, own scope ({b['fragment_rep']['statements_per_request']} SQL)",
            b["fragment_rep"]["app"], p99=True),
        row(f"(a) more cards: GET /deals/stages/<id>/cards?after= ({b['column']['statements_per_request']} SQL)",
            b["column"]["app"], p99=True),
        row(f"(a) service.board alone ({b['service']['statements']} SQL)", b["service"]["call"], p99=True),
        row("(a)   of which SQL time", b["service"]["sql_ms"], p99=True),
    ]
    c = results["customer"]
    rows += [
        row(f"(b) customer page, {d['hero_events']} events, newest 30 ({c['page']['statements_per_request']} SQL)",
            c["page"]["app"], customer_target, c["page"]["app"]["p95"] < t["customer_page_p95_ms"], p99=True),
        row("(b)   of which SQL time", c["page"]["sql_ms"], p99=True),
        row("(b)   of which template rendering", c["page"]["render_ms"], p99=True),
        row("(b)   the rest: ORM objects, view code, Flask", c["page"]["rest_ms"], p99=True),
        row(f"(b)   GC pauses within the above (full passes: {c['page']['full_collections']})", c["page"]["gc_ms"],
            p99=True),
        row(f"(b) Older events: GET /customers/<id>/timeline?after= ({c['older']['statements_per_request']} SQL)",
            c["older"]["app"], p99=True),
        row("(b)   of which template rendering", c["older"]["render_ms"], p99=True),
        row("(b) timeline.events alone (one page of 30)", c["service"]["call"], p99=True),
    ]
    return rows


def print_table(rows: list[dict], results: dict) -> None:
    header = ["benchmark", "n", "median/p50 ms", "p95 ms", "p99 ms", "target", "pass/fail"]
    body = [[r["benchmark"], str(r["n"]), base.fmt(r["median"]), base.fmt(r["p95"]), base.fmt(r["p99"]),
             r["target"] or "-", {True: "PASS", False: "FAIL", None: "-"}[r["pass"]]] for r in rows]
    widths = [max(len(h), *(len(line[i]) for line in body)) for i, h in enumerate(header)]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for line in body:
        print("  ".join(cell.rjust(w) if 0 < i < 5 else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths))))
    for title, stats in (("(a) board fragment", results["board"]["fragment"]["per_statement_ms"]),
                         ("(b) customer page", results["customer"]["page"]["per_statement_ms"])):
        print(f"\n{title}: SQL per statement, median / p95 ms")
        for statement, s in list(stats.items())[:12]:
            print(f"   {s['median']:6.2f} / {s['p95']:6.2f}  {statement[:70]} … {statement[-40:]}")
    print("\nquery plans (EXPLAIN ANALYZE with the real parameters; generic plan after psycopg prepares it):")
    for p in results["plans"]:
        if "error" in p:
            print(f"   {p['query']}: ERROR {p['error'][:120]}")
            continue
        print(f"   {p['query']}: {p['execution_ms']:.2f} ms (generic {p['generic_execution_ms']:.2f} ms)  "
              f"{p['sql'][:60]} …")
        print(f"      scans: {', '.join(p['scans']) or '-'}")
        if p["generic_scans"] != p["scans"]:
            print(f"      generic plan scans: {', '.join(p['generic_scans']) or '-'}")
    d, m = results["data"], results["machine"]
    print(f"\ndata: {d['deals_total']:,} deals, {d['customers']:,} customers, {d['members']} members, "
          f"{d['timeline_events_total']:,} timeline events ({d['hero_events']} of the customer); "
          f"inserted in {d['insert_seconds']:.1f} s; {d['gc_tracked_objects']:,} objects tracked by the GC, "
          f"thresholds {d['gc_thresholds']}")
    print(f"machine: {m['nproc']} CPU ({m['cpu']}), Python {m['python']}, {m['postgres'].split(' on ')[0]}, "
          f"{m['services']} services; {results['mode']} mode, {results['seconds']:.1f} s; "
          f"load average {m['loadavg_at_start'][0]:.2f} at start, {m['loadavg_at_end'][0]:.2f} at end")


# ---------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10 timed requests per page instead of 50")
    args = parser.parse_args()
    mode = "quick" if args.quick else "full"
    sizes, budgets = (QUICK if args.quick else FULL), BUDGETS[mode]
    runs, warmup = sizes["runs"], sizes["warmup"]
    begun = time.perf_counter()
    load_at_start = os.getloadavg()
    if load_at_start[0] > 0.5:
        print(f"note: load average {load_at_start[0]:.2f} at start; other work on this machine will show in the "
              "figures", file=sys.stderr, flush=True)

    def step(message: str) -> None:
        print(f"[{time.perf_counter() - begun:5.1f}s] {message}", flush=True)

    with base.services() as (database_url, redis_url, services_mode):
        os.environ["DATABASE_URL"] = database_url
        os.environ["REDIS_URL"] = redis_url
        os.environ["TENANT_CACHE_SECONDS"] = "1000000"
        raw_url = base.plain_url(database_url)

        from crm import create_app
        from crm.accounts.service import sign_up
        from crm.extensions import db
        from crm.listing import cursor
        from tenants.migrations import upgrade_public

        app = create_app()
        try:
            with app.app_context():
                upgrade_public(db.engine)
                counter = base.StatementCounter(db.engine)
                account, tenant = sign_up("Bench Sales 销售基准", "sales", "Bench Admin", "sales@example.com",
                                          "bench-password", "en")
                db.session.commit()
                db.session.refresh(account)
                db.session.expunge(account)
                slug, tenant_id = tenant.slug, tenant.id
            rendering = Rendering(app, counter)
            step("inserting customers, deals and timeline events ...")
            rep_accounts = make_reps(app, tenant_id)
            data = fill(app, tenant_id, account.id, rep_accounts, labels_in_both_languages(app), random.Random(11),
                        base.Budget(budgets["fill"]))
            vacuum(raw_url, data["schema"])
            stages = data["stages"]
            counts = {int(k): v for k, v in data["deals_by_stage"].items()}
            data["open_in_pipeline"] = sum(n for s, n in counts.items() if stages[s]["kind"] == "open")
            data["closed_in_pipeline"] = sum(n for s, n in counts.items() if stages[s]["kind"] != "open")
            step(f"{data['deals_total']:,} deals, {data['timeline_events_total']:,} events "
                 f"({data['insert_seconds']:.1f} s); timing {runs} requests per page ...")

            gc.collect()
            data["gc_tracked_objects"], data["gc_thresholds"] = len(gc.get_objects()), gc.get_threshold()
            gc.freeze()  # as wsgi.py does once the app is made
            admin = base.logged_in_client(app, account)
            with app.app_context():
                from crm.accounts.models import Account

                rep_account = db.session.get(Account, rep_accounts[0])
                db.session.expunge(rep_account)
            rep = base.logged_in_client(app, rep_account)

            # (a) the board
            expected_cards = sum(min(30, n) for n in counts.values())
            expected_more = sum(1 for n in counts.values() if n > 30)
            board_url = f"/{slug}/deals/"
            page = time_requests(admin, [(board_url, {})], runs, warmup, counter, rendering, budgets["phase"],
                                 board_check(expected_cards, expected_more, fragment=False))
            step(f"(a) board page p50 {page['app']['median']:.1f} ms, p95 {page['app']['p95']:.1f} ms")
            fragment_headers = {"HX-Request": "true", "HX-Target": "board"}
            fragment = time_requests(admin, [(board_url, fragment_headers)], runs, warmup, counter, rendering,
                                     budgets["phase"], board_check(expected_cards, expected_more, fragment=True))
            step(f"(a) board fragment p50 {fragment['app']['median']:.1f} ms, p95 {fragment['app']['p95']:.1f} ms")

            def rep_check(response, url):
                expect(response.status_code == 200 and b'id="board"' in response.data, "rep board", response)

            fragment_rep = time_requests(rep, [(board_url, fragment_headers)], runs, warmup, counter, rendering,
                                         budgets["phase"], rep_check)
            # "Show more" of every column that has more: the cursor the board page gives.
            first = admin.get(board_url, headers=fragment_headers).data.decode()
            more = re.findall(r'hx-get="([^"]*/deals/stages/(\d+)/cards\?after=([^"&]+)[^"]*)"', first)
            column_requests = [(url.replace("&amp;", "&"), {"HX-Request": "true"}) for url, _s, _a in more]
            column = time_requests(admin, column_requests, runs, warmup, counter, rendering, budgets["phase"],
                                   column_check)
            step(f"(a) more cards p50 {column['app']['median']:.1f} ms, p95 {column['app']['p95']:.1f} ms")
            data["more_stage_id"], data["more_after"] = int(more[0][1]), more[0][2]

            from crm.deals import deal_queries
            from crm.deals.stages import board_pipeline

            def call_board(viewer):
                pipeline = board_pipeline(None)
                return deal_queries.board(viewer, pipeline, deal_queries.DealQuery(pipeline_id=pipeline.id))

            service = time_service(app, tenant_id, data["admin_member_id"], call_board, runs, warmup, counter,
                                   budgets["phase"])
            step(f"(a) service.board p50 {service['call']['median']:.1f} ms, p95 {service['call']['p95']:.1f} ms")

            # (b) the customer page and its older events
            hero, ids = data["hero_customer_id"], data["hero_event_ids"]
            customer_url = f"/{slug}/customers/{hero}"
            customer_page = time_requests(admin, [(customer_url, {})], runs, warmup, counter, rendering,
                                          budgets["phase"], customer_check)
            step(f"(b) customer page p50 {customer_page['app']['median']:.1f} ms, "
                 f"p95 {customer_page['app']['p95']:.1f} ms")
            # Every "Older events" page in turn, as clicking through the whole history: after the last event shown.
            older_requests = [(f"{customer_url}/timeline?after={cursor([ids[k - 1]])}", {"HX-Request": "true"})
                              for k in range(30, len(ids), 30)]
            older = time_requests(admin, older_requests, runs, warmup, counter, rendering, budgets["phase"],
                                  older_check)
            step(f"(b) older events p50 {older['app']['median']:.1f} ms, p95 {older['app']['p95']:.1f} ms")
            from crm.timeline import service as timeline

            events_service = time_service(app, tenant_id, data["admin_member_id"],
                                          lambda viewer: timeline.events(customer_id=hero, after=cursor([ids[239]])),
                                          runs, warmup, counter, budgets["phase"])

            step("query plans ...")
            plans = query_plans(app, raw_url, tenant_id, data["admin_member_id"], data)
            info = base.machine(raw_url, services_mode)
            info["loadavg_at_start"] = load_at_start
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()

    data.pop("hero_event_ids")
    results = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "mode": mode, "sizes": sizes,
               "data_sizes": DATA, "budgets_s": budgets, "statement_timeout": base.STATEMENT_TIMEOUT,
               "targets": TARGETS, "machine": info, "data": data,
               "board": {"page": page, "fragment": fragment, "fragment_rep": fragment_rep, "column": column,
                         "service": service},
               "customer": {"page": customer_page, "older": older, "service": events_service},
               "plans": plans, "seconds": time.perf_counter() - begun}
    results["table"] = rows_of(results)
    print_table(results["table"], results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(base.no_nan(results), indent=2, ensure_ascii=False, default=str))
    print(f"\nwrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
