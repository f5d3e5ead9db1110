"""Benchmark of the pages a manager opens the CRM for, on one big tenant, as an admin, a manager and a rep.

    .venv/bin/python bench/reports.py            # the issue's tenant (100,000 customers ...), 50 runs per page
    .venv/bin/python bench/reports.py --small    # a tenth of the data, 20 runs: about a minute

Servers, helpers and conventions are bench/run.py's: embedded PostgreSQL + Valkey in a temporary folder, or the
servers named by DATABASE_URL and REDIS_URL when both are set (database `crm_bench`, dropped at the end); a
statement timeout on the bench database and a time budget per page. Prints a table and writes
bench/results/reports.json.

Data: bench/bigtenant.py `seed_big_tenant` (100,000 customers, 50,000 deals with stage history, 100,000
orders with 250,000 lines, 200,000 follow-ups, 20,000 tickets over three years; 20 members in 3 teams), made
through the normal sign-up and filled in SQL; how long that took is printed and kept in the JSON.

Each page of ROUTES is requested through Flask's test client signed in as the workspace's admin (scope all),
the first team's manager (the Sales manager role: their team) and a rep of that team (own records): `warmup`
untimed requests, then `runs` timed ones. After each request the page's floor runs once on a raw psycopg
connection (acting as the tenant's role, as the app does): the SQL of the page's main work, written by hand,
with the same scope, so that both see the same server state. A page slower than SLOW_MS at p95 gets its
slowest statement explained (EXPLAIN ANALYZE, with the real parameters) in the output.

To measure another page, add a Route to ROUTES: its path under /<slug>/ (may use the parameters below), a marker
its answer must contain, its floor (a function of the schema and the viewer giving SQL statements) and, for a
fragment, headers=HX. The floors' %(name)s parameters: slug, pipeline_id (Sales), now (UTC), tz (the workspace's
time zone), week_end (My day's horizon), team_id (the manager's team), me (the viewer's member id) and reach
(the owners the viewer's role reaches; use `viewer.owns(column)`, which is "true" for an admin); report_reach
(the same for the Reports scope: `viewer.counts(column)`) and the period's (see report_routes).

Every report the catalogue registers (crm/reports/catalogue.py) is measured as a fragment over `--preset` (default
"year"), beside its floor in REPORT_FLOORS (else its pack's in PACK_FLOORS, else none): a new pack needs no edit
here to be timed, only its floors to be compared.
"""
import argparse
import gc
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bigtenant import FULL, SMALL, problems, seed_big_tenant  # noqa: E402
from bench.run import (  # noqa: E402
    RESULTS,
    STATEMENT_TIMEOUT,
    Budget,
    StatementCounter,
    fmt,
    logged_in_client,
    machine,
    no_nan,
    percentile,
    plain_url,
    services,
    summary,
)

OUTPUT = RESULTS / "reports.json"
RUNS = {"full": {"runs": 50, "warmup": 5, "budget_s": 60}, "small": {"runs": 20, "warmup": 3, "budget_s": 20}}
SLOW_MS = 1000.0  # a page this slow at p95 gets its slowest statement explained (--explain-over changes it)
VIEWERS = ("admin", "manager", "rep")
HX = {"HX-Request": "true"}  # the headers of a fragment htmx loads (report fragments are loaded lazily)
# The targets (p95, ms): the home workbench for everyone; report fragments by the viewer's scope.
HOME_TARGETS = {"admin": 100.0, "manager": 100.0, "rep": 100.0}
REPORT_TARGETS = {"admin": 150.0, "manager": 150.0, "rep": 50.0}


# ---------------------------------------------------------------- who looks

@dataclass
class Viewer:
    """A signed-in member and the owners whose records its role reaches (None: everyone's)."""

    kind: str
    account_id: int
    member_id: int
    reach: list[int] | None
    report_reach: list[int] | None = None  # the owners its Reports scope reaches (a manager's: sub-teams too)

    def owns(self, column: str) -> str:
        """The scope as SQL on an owner column, for floors; its parameters are in `params`."""
        if self.reach is None:
            return "true"
        return f"{column} = ANY(%(reach)s)"

    def counts(self, column: str) -> str:
        """The Reports scope as SQL on an owner column: what a report and the targets page count."""
        if self.report_reach is None:
            return "true"
        return f"{column} = ANY(%(report_reach)s)"

    def counts_tickets(self) -> str:
        """The Reports scope on tickets (crm/tickets/service.reach): by the assignee, unassigned ones from team
        scope up."""
        if self.report_reach is None:
            return "true"
        if self.kind == "rep":
            return "owner_id = %(me)s"
        return "(owner_id IS NULL OR owner_id = ANY(%(report_reach)s))"


# ---------------------------------------------------------------- what is measured

@dataclass
class Route:
    """A page to time: GET /<slug>/<path> (formatted with the bench's `params`), the bytes every good answer
    holds, and its floor: `floor(schema, viewer)` gives the SQL statements of the page's main work."""

    name: str
    path: str
    marker: bytes
    floor: Callable[[str, Viewer], list[str]]
    headers: dict = field(default_factory=dict)
    targets: dict = field(default_factory=dict)  # viewer kind -> p95 ms
    viewers: tuple = VIEWERS


def home_floor(s: str, v: Viewer) -> list[str]:
    """workspace.index: customers by lifecycle stage, the 5 newest, the viewer's open follow-ups."""
    return [f"SELECT stage, count(*) FROM {s}.customers WHERE deleted_at IS NULL AND {v.owns('owner_id')}"
            " GROUP BY stage",
            f"SELECT c.id, c.name, c.company, c.created_at FROM {s}.customers c WHERE c.deleted_at IS NULL"
            f" AND {v.owns('c.owner_id')} ORDER BY c.id DESC LIMIT 6",
            MY_DAY.format(s=s)]


def customers_floor(s: str, v: Viewer) -> list[str]:
    """customers.index: the first page (owner's name) and the count of the viewer's live customers."""
    return [f"SELECT c.id, c.name, c.phone, c.company, c.level, c.stage, c.tag_ids, c.custom, m.name"
            f" FROM {s}.customers c LEFT JOIN {s}.members m ON m.id = c.owner_id"
            f" WHERE c.deleted_at IS NULL AND {v.owns('c.owner_id')} ORDER BY c.id DESC LIMIT 26",
            f"SELECT count(*) FROM {s}.customers WHERE deleted_at IS NULL AND {v.owns('owner_id')}"]


def board_floor(s: str, v: Viewer) -> list[str]:
    """deals.index: count, total and weighted total per stage and currency; the newest 31 cards per stage."""
    return [f"SELECT stage_id, currency, count(*), sum(amount), round(sum(amount * probability) / 100, 2)"
            f" FROM {s}.deals WHERE pipeline_id = %(pipeline_id)s AND {v.owns('owner_id')}"
            " GROUP BY stage_id, currency",
            f"SELECT d.id, d.title, d.amount, d.currency, d.expected_close, c.name"
            f" FROM {s}.stages st CROSS JOIN LATERAL (SELECT id FROM {s}.deals"
            f"   WHERE pipeline_id = st.pipeline_id AND stage_id = st.id AND status = st.kind"
            f"   AND {v.owns('owner_id')} ORDER BY id DESC LIMIT 31) top"
            f" JOIN {s}.deals d ON d.id = top.id JOIN {s}.customers c ON c.id = d.customer_id"
            " WHERE st.pipeline_id = %(pipeline_id)s AND st.active ORDER BY d.id DESC"]


def orders_floor(s: str, v: Viewer) -> list[str]:
    """orders.index: the first page, newest first, with the customer's and owner's names."""
    return [f"SELECT o.id, o.number, o.status, o.total, o.currency, o.created_at, c.name, m.name"
            f" FROM {s}.orders o JOIN {s}.customers c ON c.id = o.customer_id JOIN {s}.members m ON m.id = o.owner_id"
            f" WHERE {v.owns('o.owner_id')} ORDER BY o.id DESC LIMIT 26"]


# My day is the viewer's own whatever the role: overdue, today and the next seven days, with the customers' names.
MY_DAY = ("SELECT a.id, a.method, a.summary, a.due_at, c.name FROM {s}.activities a"
          " LEFT JOIN {s}.customers c ON c.id = a.customer_id"
          " WHERE a.owner_id = %(me)s AND a.done_at IS NULL AND a.due_at < %(week_end)s"
          " ORDER BY a.due_at, a.id LIMIT 500")


def my_day_floor(s: str, v: Viewer) -> list[str]:
    return [MY_DAY.format(s=s)]


def targets_floor(s: str, v: Viewer) -> list[str]:
    """targets.index: the month's four measures per member the viewer's Reports scope reaches (crm/targets/actuals)."""
    month = "{column} >= %(month_start)s AND {column} < %(month_end)s"
    return [f"SELECT owner_id, 'won', sum(amount) FROM {s}.deals WHERE status = 'won' AND currency = %(currency)s"
            f" AND {month.format(column='closed_at')} AND {v.counts('owner_id')} GROUP BY owner_id"
            f" UNION ALL SELECT owner_id, 'revenue', sum(total - coalesce(refunded_amount, 0)) FROM {s}.orders"
            f" WHERE status NOT IN ('cancelled', 'refunded') AND currency = %(currency)s"
            f" AND {month.format(column='created_at')} AND {v.counts('owner_id')} GROUP BY owner_id"
            f" UNION ALL SELECT owner_id, 'customers', count(*) FROM {s}.customers WHERE deleted_at IS NULL"
            f" AND {month.format(column='created_at')} AND {v.counts('owner_id')} GROUP BY owner_id"
            f" UNION ALL SELECT owner_id, 'follow-ups', count(*) FROM {s}.activities"
            f" WHERE {month.format(column='done_at')} AND {v.counts('owner_id')} GROUP BY owner_id"]


ROUTES = [
    Route("home (workspace.index)", "", b'class="stats"', home_floor, targets=HOME_TARGETS),
    Route("customer list", "customers/", b'id="results"', customers_floor),
    Route("deal board (Sales pipeline)", "deals/?pipeline={pipeline_id}", b'id="board"', board_floor),
    Route("order list", "orders/", b'id="results"', orders_floor),
    Route("My day", "activities/", b'id="day-overdue"', my_day_floor),
    Route("targets page (this month)", "targets/", b'class="table targets"', targets_floor, targets=REPORT_TARGETS),
]


# ---------------------------------------------------------------- report fragments, from the catalogue
# The floors' period parameters: start, end and prev_start (the preset's instants in UTC, and the period
# before's start), bucket (day/week/month, as the app picks), currency (the workspace's), field_key (the select
# field customers_by_field draws first), stalled_since (now minus the stalled report's 14 days), months_start,
# months_end, month_starts and last_month (the period's months target against actual shows), this_month and forecast_end (the
# weighted forecast's months).

BUCKET = "date_trunc(%(bucket)s, timezone(%(tz)s, {column}))::date"
IN_PERIOD = "{column} >= %(start)s AND {column} < %(end)s"


def live_customers(s: str, v: Viewer) -> str:
    return f"{s}.customers WHERE deleted_at IS NULL AND {v.counts('owner_id')}"


def distribution(value: str, spread: bool = False):
    """customers_by_*: the reached live customers by one value, all and new in the period and the one before."""
    def floor(s: str, v: Viewer) -> list[str]:
        source = (f"(SELECT created_at, unnest({value}) AS value FROM {live_customers(s, v)}) c" if spread else
                  f"(SELECT created_at, {value} AS value FROM {live_customers(s, v)}) c")
        return [f"SELECT value, count(*), count(*) FILTER (WHERE {IN_PERIOD.format(column='created_at')}),"
                " count(*) FILTER (WHERE created_at >= %(prev_start)s AND created_at < %(start)s)"
                f" FROM {source} GROUP BY value ORDER BY 2 DESC",
                f"SELECT count(*) FROM {live_customers(s, v)}"]
    return floor


def new_customers_floor(s: str, v: Viewer) -> list[str]:
    return [f"SELECT {BUCKET.format(column='created_at')}, count(*) FROM {live_customers(s, v)}"
            f" AND {IN_PERIOD.format(column='created_at')} GROUP BY 1",
            f"SELECT count(*) FROM {live_customers(s, v)} AND created_at < %(start)s"]


def buyers_floor(s: str, v: Viewer) -> list[str]:
    return ["SELECT b, count(*) FILTER (WHERE p AND fb = b), count(*) FILTER (WHERE p AND fb < b),"
            " count(*) FILTER (WHERE p AND first_at >= %(start)s), count(*) FILTER (WHERE p AND first_at < %(start)s),"
            " count(*) FILTER (WHERE NOT p AND first_at >= %(prev_start)s),"
            " count(*) FILTER (WHERE NOT p AND first_at < %(prev_start)s)"
            " FROM (SELECT o.customer_id, c.first_ordered_at AS first_at, o.created_at >= %(start)s AS p,"
            f"   {BUCKET.format(column='o.created_at')} AS b, {BUCKET.format(column='c.first_ordered_at')} AS fb"
            f"   FROM {s}.orders o JOIN {s}.customers c ON c.id = o.customer_id"
            f"   WHERE c.deleted_at IS NULL AND c.first_ordered_at IS NOT NULL AND {v.counts('c.owner_id')}"
            "   AND o.status <> 'cancelled' AND o.created_at >= %(prev_start)s AND o.created_at < %(end)s"
            "   GROUP BY GROUPING SETS ((1, 2, 3, 4, 5), (1, 2, 3))) o GROUP BY b"]


def follow_up_floor(s: str, v: Viewer) -> list[str]:
    quiet = "last_contact_at IS NULL OR last_contact_at < %(now)s - interval '{} days'"
    return [f"SELECT count(*), " + ", ".join(f"count(*) FILTER (WHERE {quiet.format(d)})" for d in (7, 30, 90))
            + f" FROM {live_customers(s, v)}"]


def pool_floor(s: str, v: Viewer) -> list[str]:
    owner = "coalesce((payload->>'owner_id')::int, actor_id)"
    return [f"SELECT {BUCKET.format(column='at')}, count(*) FILTER (WHERE kind IN ('pool_claimed', 'pool_assigned')),"
            " count(*) FILTER (WHERE kind = 'pool_released'), count(*) FILTER (WHERE kind = 'pool_recycled')"
            f" FROM {s}.timeline_events WHERE {v.counts(owner)} AND {IN_PERIOD.format(column='at')}"
            f" AND customer_id IN (SELECT id FROM {s}.customers WHERE deleted_at IS NULL) GROUP BY 1"]


def funnel_floor(s: str, v: Viewer) -> list[str]:
    rank = "CASE WHEN {t}.kind = 'won' THEN 100000 + {t}.position ELSE {t}.position END"
    return [f"WITH cohort AS (SELECT id, amount, currency FROM {s}.deals WHERE pipeline_id = %(pipeline_id)s"
            f"   AND {v.counts('owner_id')} AND {IN_PERIOD.format(column='created_at')}),"
            f" reach AS (SELECT c.deal_id, max({rank.format(t='st')}) AS rank FROM {s}.deal_stage_changes c"
            f"   JOIN {s}.stages st ON st.id = c.to_stage_id WHERE st.active AND st.kind IN ('open', 'won')"
            "   AND st.pipeline_id = %(pipeline_id)s AND c.deal_id IN (SELECT id FROM cohort) GROUP BY c.deal_id)"
            " SELECT t.id, count(*), sum(cohort.amount) FILTER (WHERE cohort.currency = %(currency)s)"
            f" FROM {s}.stages t JOIN reach ON reach.rank >= {rank.format(t='t')}"
            " JOIN cohort ON cohort.id = reach.deal_id"
            " WHERE t.pipeline_id = %(pipeline_id)s AND t.active AND t.kind IN ('open', 'won') GROUP BY t.id"]


def closed_floor(status: str, *aggregates: str):
    """win_rate, sales_cycle: deals closed in the period per bucket."""
    def floor(s: str, v: Viewer) -> list[str]:
        return [f"SELECT {BUCKET.format(column='closed_at')}, {', '.join(aggregates)} FROM {s}.deals"
                f" WHERE status IN {status} AND {v.counts('owner_id')} AND {IN_PERIOD.format(column='closed_at')}"
                " GROUP BY 1"]
    return floor


def lost_reasons_floor(s: str, v: Viewer) -> list[str]:
    return [f"SELECT trim(lost_reason), count(*) FILTER (WHERE closed_at >= %(start)s),"
            " count(*) FILTER (WHERE closed_at < %(start)s) FROM {s}.deals".replace("{s}", s)
            + f" WHERE status = 'lost' AND {v.counts('owner_id')} AND closed_at >= %(prev_start)s"
            " AND closed_at < %(end)s GROUP BY 1"]


def stalled_floor(s: str, v: Viewer) -> list[str]:
    return [f"SELECT stage_id, count(*), sum(amount) FROM {s}.deals d WHERE status = 'open' AND {v.counts('owner_id')}"
            f" AND NOT EXISTS (SELECT FROM {s}.deal_stage_changes c WHERE c.deal_id = d.id"
            "   AND c.at >= %(stalled_since)s) GROUP BY stage_id"]


def forecast_floor(s: str, v: Viewer) -> list[str]:
    return [f"SELECT greatest(date_trunc('month', expected_close), %(this_month)s)::date, count(*),"
            " sum(amount) FILTER (WHERE currency = %(currency)s),"
            " sum(amount * probability / 100) FILTER (WHERE currency = %(currency)s)"
            f" FROM {s}.deals WHERE status = 'open' AND {v.counts('owner_id')}"
            " AND expected_close < %(forecast_end)s GROUP BY 1"]


# The Revenue pack counts orders placed in the period in the workspace's currency, not cancelled or refunded.
NET = "total - coalesce(refunded_amount, 0)"
COUNTED = ("{s}.orders WHERE status NOT IN ('cancelled', 'refunded') AND currency = %(currency)s AND {scope}"
           " AND created_at >= %({since})s AND created_at < %({until})s")


def counted_orders(s: str, v: Viewer, since: str = "start", until: str = "end") -> str:
    return COUNTED.format(s=s, scope=v.counts("owner_id"), since=since, until=until)


def revenue_amount_floor(s: str, v: Viewer) -> list[str]:
    return [f"SELECT {BUCKET.format(column='created_at')}, count(*), sum({NET}) FROM {counted_orders(s, v)}"
            " GROUP BY 1",
            f"SELECT count(*), sum({NET}) FROM {counted_orders(s, v, 'prev_start', 'start')}"]


def revenue_by_status_floor(s: str, v: Viewer) -> list[str]:
    return [f"SELECT status, count(*), sum({NET}) FILTER (WHERE currency = %(currency)s AND status <> 'cancelled')"
            f" FROM {s}.orders WHERE {v.counts('owner_id')} AND {IN_PERIOD.format(column='created_at')}"
            " GROUP BY status"]


def revenue_by_product_floor(s: str, v: Viewer) -> list[str]:
    return ["SELECT product_id, count(DISTINCT order_id), sum(quantity), sum(total)"
            f" FROM {s}.order_lines WHERE order_id IN (SELECT id FROM {counted_orders(s, v)})"
            " GROUP BY product_id ORDER BY 4 DESC, 1"]


def revenue_top_customers_floor(s: str, v: Viewer) -> list[str]:
    return [f"SELECT c.id, c.name, o.n, o.spent FROM (SELECT customer_id, count(*) AS n, sum({NET}) AS spent"
            f"   FROM {counted_orders(s, v)} GROUP BY customer_id ORDER BY 3 DESC, 1 LIMIT 10) o"
            f" JOIN {s}.customers c ON c.id = o.customer_id ORDER BY o.spent DESC, c.id",
            f"SELECT count(*), sum({NET}) FROM {counted_orders(s, v)}"]


def revenue_repeat_floor(s: str, v: Viewer) -> list[str]:
    return [f"SELECT n, count(*) FROM (SELECT least(count(*), 5) AS n FROM {counted_orders(s, v, *period)}"
            " GROUP BY customer_id) per GROUP BY n" for period in (("start", "end"), ("prev_start", "start"))]


def rfm_scores(s: str, v: Viewer) -> str:
    """The period's buyers with their R, F and M quintiles and segment (crm/reports/revenue.scores)."""
    return (f"(SELECT *, CASE WHEN r >= 4 AND f + m >= 8 THEN 'champions' WHEN r >= 3 AND f + m >= 6 THEN 'loyal'"
            " WHEN r >= 4 THEN 'promising' WHEN r = 3 THEN 'attention' WHEN f + m >= 6 THEN 'at_risk'"
            " ELSE 'lost' END AS segment FROM (SELECT *,"
            " ntile(5) OVER (ORDER BY last_at, orders, amount, customer_id) AS r,"
            " ntile(5) OVER (ORDER BY orders, amount, last_at, customer_id) AS f,"
            " ntile(5) OVER (ORDER BY amount, orders, last_at, customer_id) AS m"
            f" FROM (SELECT customer_id, max(created_at) AS last_at, count(*) AS orders, sum({NET}) AS amount"
            f"   FROM {counted_orders(s, v)} GROUP BY customer_id) per) scored) segmented")


def revenue_rfm_floor(s: str, v: Viewer) -> list[str]:
    return [f"SELECT segment, count(*), sum(amount), avg(extract(epoch FROM %(end)s - last_at) / 86400)"
            f" FROM {rfm_scores(s, v)} GROUP BY segment"]


def revenue_rfm_customers_floor(s: str, v: Viewer) -> list[str]:
    return [f"SELECT c.id, c.name, t.last_at, t.orders, t.amount, t.r, t.f, t.m FROM (SELECT * FROM {rfm_scores(s, v)}"
            "   WHERE segment = 'champions' ORDER BY amount DESC, customer_id LIMIT 101) t"
            f" JOIN {s}.customers c ON c.id = t.customer_id ORDER BY t.amount DESC, c.id"]


def team_follow_ups_floor(s: str, v: Viewer) -> list[str]:
    due, done = IN_PERIOD.format(column="due_at"), IN_PERIOD.format(column="done_at")
    return [f"SELECT owner_id, method, count(*) FILTER (WHERE {due}), count(*) FILTER (WHERE {done})"
            f" FROM {s}.activities WHERE {v.counts('owner_id')} AND (({due}) OR ({done})) GROUP BY 1, 2"]


def actuals_floor(since: str, until: str, monthly: bool = False):
    """team_leaderboard, team_targets: the four measures targets are set for (crm/targets/actuals.py), per member
    of the viewer's Reports scope, over the period or per local month of the period's months."""
    def floor(s: str, v: Viewer) -> list[str]:
        def part(measure: str, table: str, column: str, value: str, where: str) -> str:
            month = f"width_bucket({column}, %(month_starts)s)" if monthly else "NULL::int"
            return (f"SELECT owner_id, {month}, '{measure}', {value} FROM {s}.{table} WHERE {where}"
                    f" AND {column} >= %({since})s AND {column} < %({until})s AND {v.counts('owner_id')}"
                    f" GROUP BY owner_id{', 2' if monthly else ''}")
        union = " UNION ALL ".join([
            part("won", "deals", "closed_at", "sum(amount)", "status = 'won' AND currency = %(currency)s"),
            part("revenue", "orders", "created_at", f"sum({NET})",
                 "status NOT IN ('cancelled', 'refunded') AND currency = %(currency)s"),
            part("customers", "customers", "created_at", "count(*)", "deleted_at IS NULL"),
            part("follow-ups", "activities", "done_at", "count(*)", "true")])
        targets = [f"SELECT * FROM {s}.sales_targets WHERE month <= %(last_month)s"] if monthly else []
        return [union, *targets]
    return floor


def service_tickets_floor(s: str, v: Viewer) -> list[str]:
    return [f"SELECT kind, count(*) FILTER (WHERE created_at >= %(start)s), count(*) FILTER (WHERE created_at"
            f" < %(start)s) FROM {s}.tickets WHERE {v.counts_tickets()} AND created_at >= %(prev_start)s"
            " AND created_at < %(end)s GROUP BY kind"]


def service_sla_floor(s: str, v: Viewer) -> list[str]:
    met = "resolved_at IS NOT NULL AND resolved_at <= due_at"
    breached = "resolved_at > due_at OR (resolved_at IS NULL AND due_at < %(now)s)"
    return [f"SELECT {BUCKET.format(column='due_at')}, count(*) FILTER (WHERE {met}),"
            f" count(*) FILTER (WHERE {breached}) FROM {s}.tickets WHERE {v.counts_tickets()}"
            f" AND {IN_PERIOD.format(column='due_at')} GROUP BY 1"]


def service_resolution_floor(s: str, v: Viewer) -> list[str]:
    hours = "percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - created_at) / 3600)"
    return [f"SELECT {BUCKET.format(column='resolved_at')}, count(*), {hours} FROM {s}.tickets"
            f" WHERE {v.counts_tickets()} AND {IN_PERIOD.format(column='resolved_at')} GROUP BY 1",
            f"SELECT count(*), {hours} FROM {s}.tickets WHERE {v.counts_tickets()}"
            " AND resolved_at >= %(prev_start)s AND resolved_at < %(start)s"]


def service_satisfaction_floor(s: str, v: Viewer) -> list[str]:
    return [f"SELECT satisfaction, count(*) FILTER (WHERE resolved_at >= %(start)s),"
            f" count(*) FILTER (WHERE resolved_at < %(start)s) FROM {s}.tickets WHERE {v.counts_tickets()}"
            " AND satisfaction IS NOT NULL AND resolved_at >= %(prev_start)s AND resolved_at < %(end)s"
            " GROUP BY satisfaction"]


NOT_CANCELLED = " AND x.status <> 'cancelled'"


def campaigns_floor(s: str, v: Viewer) -> list[str]:
    """The period's (and the period before's) campaigns, and the customers each reached who got a deal or an order
    within 30 days."""
    window = ("EXISTS (SELECT FROM {s}.{t} x WHERE x.customer_id = n.customer_id AND x.created_at >= n.sent_at"
              " AND x.created_at < n.sent_at + interval '30 days'{more})")
    return [f"SELECT id, name, started_at FROM {s}.campaigns WHERE {v.counts('owner_id')}"
            " AND started_at >= %(prev_start)s AND started_at < %(end)s ORDER BY started_at, id",
            f"SELECT n.campaign_id, count(DISTINCT n.customer_id) FROM {s}.notifications n"
            f" WHERE n.campaign_id IN (SELECT id FROM {s}.campaigns WHERE {v.counts('owner_id')}"
            "   AND started_at >= %(prev_start)s AND started_at < %(end)s) AND n.status = 'sent'"
            f" AND ({window.format(s=s, t='deals', more='')}"
            f" OR {window.format(s=s, t='orders', more=NOT_CANCELLED)}) GROUP BY 1"]


# Per report key: the SQL of its main aggregates with the viewer's Reports scope. A report of a later pack with no
# floor here gets its pack's generic floor (PACK_FLOORS) or none.
REPORT_FLOORS = {
    "customers_new": new_customers_floor,
    "customers_by_level": distribution("level"),
    "customers_by_stage": distribution("stage"),
    "customers_by_source": distribution("source"),
    "customers_by_tag": distribution("tag_ids", spread=True),
    "customers_by_field": distribution("custom->>%(field_key)s"),
    "customers_buyers": buyers_floor,
    "customers_follow_up": follow_up_floor,
    "customers_pool": pool_floor,
    "sales_funnel": funnel_floor,
    "sales_win_rate": closed_floor("('won', 'lost')", "count(*) FILTER (WHERE status = 'won')",
                                   "count(*) FILTER (WHERE status = 'lost')"),
    "sales_lost_reasons": lost_reasons_floor,
    "sales_cycle": closed_floor("('won')", "count(*)", "avg(extract(epoch FROM closed_at - created_at) / 86400)"),
    "sales_stalled": stalled_floor,
    "sales_forecast": forecast_floor,
    "revenue_amount": revenue_amount_floor,
    "revenue_by_status": revenue_by_status_floor,
    "revenue_by_product": revenue_by_product_floor,
    "revenue_top_customers": revenue_top_customers_floor,
    "revenue_repeat": revenue_repeat_floor,
    "revenue_rfm": revenue_rfm_floor,
    "revenue_rfm_customers": revenue_rfm_customers_floor,
    "team_follow_ups": team_follow_ups_floor,
    "team_leaderboard": actuals_floor("start", "end"),
    "team_targets": actuals_floor("months_start", "months_end", monthly=True),
    "service_tickets": service_tickets_floor,
    "service_sla": service_sla_floor,
    "service_resolution": service_resolution_floor,
    "service_satisfaction": service_satisfaction_floor,
    "campaigns_results": campaigns_floor,
}
PACK_FLOORS = {"customers": new_customers_floor}


def no_floor(s: str, v: Viewer) -> list[str]:
    return []


def report_routes(app, preset: str) -> list[Route]:
    """A fragment Route for every report the catalogue registers, in the page's order, for the preset's period."""
    from crm.reports.catalogue import PACKS, pack_reports

    routes = []
    with app.app_context():
        rules = {rule.endpoint: rule.rule for rule in app.url_map.iter_rules()}
    for pack in PACKS:
        for report in pack_reports(pack):
            path = rules[report.endpoint].removeprefix("/<slug>/")
            floor = REPORT_FLOORS.get(report.key) or PACK_FLOORS.get(report.pack, no_floor)
            routes.append(Route(f"report {report.key}", f"{path}?preset={preset}", b'report-period', floor,
                                headers=HX, targets=REPORT_TARGETS))
    return routes


# ---------------------------------------------------------------- timing

def time_route(route: Route, client, floor_connection, viewer: Viewer, schema: str, params: dict, counter,
               runs: int, warmup: int, budget_seconds: float) -> dict:
    """`warmup` untimed requests, then `runs` timed ones, each followed by the floor's statements."""
    url = f"/{params['slug']}/" + route.path.format(**params)
    statements = route.floor(f'"{schema}"', viewer)
    values = {**params, "me": viewer.member_id, "reach": viewer.reach, "report_reach": viewer.report_reach}
    for i in range(warmup):
        response = client.get(url, headers=route.headers)
        if i == 0 and (response.status_code != 200 or route.marker not in response.data):
            raise AssertionError(f"{route.name} as {viewer.kind}: HTTP {response.status_code}, "
                                 f"{len(response.data)} bytes: {response.data[:300]!r}")
        run_floor(floor_connection, statements, values)
    times, sql_ms, floor_ms, counts, per_statement, errors, rows = [], [], [], [], {}, 0, []
    budget = Budget(budget_seconds)
    gc.collect()
    for _ in range(runs):
        if budget.expired():
            break
        with counter.counting(keep=True):
            started = time.perf_counter_ns()
            response = client.get(url, headers=route.headers)
            elapsed = (time.perf_counter_ns() - started) / 1e6
        errors += response.status_code != 200
        times.append(elapsed)
        sql_ms.append(counter.seconds * 1000)
        counts.append(counter.count)
        for statement, took in zip(counter.statements, counter.durations):
            per_statement.setdefault(" ".join(statement.split()), []).append(took)
        started = time.perf_counter_ns()
        rows = run_floor(floor_connection, statements, values)
        floor_ms.append((time.perf_counter_ns() - started) / 1e6)
    slowest = sorted(((percentile(v, 50), percentile(v, 95), k) for k, v in per_statement.items()), reverse=True)
    return {"url": url, "app": summary(times, budget.hit), "sql_ms": summary(sql_ms, budget.hit),
            "floor": summary(floor_ms, budget.hit), "floor_rows": rows, "errors": errors,
            "statements_per_request": max(counts, default=0),
            "slowest_statements": [{"median": m, "p95": p, "sql": sql} for m, p, sql in slowest[:5]],
            "floor_sql": statements}


def run_floor(connection, statements: list[str], values: dict) -> list[int]:
    """Run the floor's statements in one transaction; the number of rows each gave."""
    rows = [len(connection.execute(statement, values).fetchall()) for statement in statements]
    connection.commit()
    return rows


def floor_connection(raw_url: str, schema: str):
    """A psycopg connection that acts as the tenant's role, as the app's tenant transactions do."""
    import psycopg

    from tenants import roles

    connection = psycopg.connect(raw_url)
    database = connection.execute("SELECT current_database()").fetchone()[0]
    connection.execute(f"SET ROLE {roles.quoted(roles.prefix_for(database) + '_' + schema)}")
    connection.commit()
    return connection


def explain_slow(raw_url: str, schema: str, result: dict) -> dict:
    """EXPLAIN (ANALYZE, BUFFERS) of a slow page's slowest statement, captured as the app sent it."""
    import psycopg

    sql = result["slowest_statements"][0]["sql"]
    with floor_connection(raw_url, schema) as connection:
        try:
            plan = [r[0] for r in connection.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql,
                                                     result["captured_parameters"]).fetchall()]
        except (psycopg.Error, KeyError) as error:
            plan = [f"could not explain: {error}"]
        connection.rollback()
    return {"sql": sql, "plan": plan}


# ---------------------------------------------------------------- set-up

def viewers(app, big) -> dict[str, Viewer]:
    """The admin, the first team's manager and a rep of that team, with the owners each one's role reaches."""
    from sqlalchemy import select

    from crm.extensions import db
    from crm.members.access import reached_members
    from crm.members.models import Member
    from tenants.binding import tenant_bound
    from tenants.service import tenant_ref

    def reach(member_id: int, resource: str = "customers") -> list[int] | None:
        member = db.session.get(Member, member_id)
        scope = member.role.scope(resource, "view")
        if scope == "all":
            return None
        if scope == "own":
            return [member_id]
        return sorted(db.session.scalars(reached_members(member, scope == "subteams")))

    rep = big.rep_member_ids[0]  # the first rep is in the first team
    with app.app_context(), tenant_bound(tenant_ref(big.tenant_id)):
        found = {kind: Viewer(kind, account_id, member_id, reach(member_id), reach(member_id, "reports"))
                 for kind, account_id, member_id in (
                     ("admin", big.admin_account_id, big.admin_member_id),
                     ("manager", big.manager_account_ids[0], big.manager_member_ids[0]),
                     ("rep", big.rep_account_ids[0], rep))}
        assert db.session.scalar(select(Member.team_id).where(Member.id == rep)) == big.team_ids[0]
    return found


def clients(app, people: dict[str, Viewer]) -> dict:
    from crm.accounts.models import Account
    from crm.extensions import db

    made = {}
    for kind, viewer in people.items():
        with app.app_context():
            account = db.session.get(Account, viewer.account_id)
            db.session.expunge(account)
        made[kind] = logged_in_client(app, account)
    return made


def time_zone(app, tenant_id: int, now: datetime) -> dict:
    """The workspace's time zone and My day's horizon: the end of the seventh day after today there, in UTC."""
    from datetime import time as clock

    from flask_babel import get_timezone

    from tenants.binding import tenant_bound
    from tenants.service import tenant_ref

    with app.test_request_context("/"), tenant_bound(tenant_ref(tenant_id)):
        zone = get_timezone()
        today = now.astimezone(zone).date()
        return {"tz": zone.zone,
                "week_end": zone.localize(datetime.combine(today + timedelta(days=8), clock.min)).astimezone(UTC)}


def period(app, tenant_id: int, now: datetime, preset: str) -> dict:
    """The reports' period for the floors: its instants, the previous period's start, the bucket; this month's
    instants (the targets page); the workspace's currency; the select field customers_by_field draws first."""
    from flask_babel import get_timezone

    from crm.reports.customers import select_fields
    from crm.reports.periods import preset_period
    from crm.reports.sales import FORECAST_MONTHS
    from crm.reports.team import period_months
    from crm.settings import day_start, workspace_currency
    from crm.targets import months
    from tenants.binding import tenant_bound
    from tenants.service import tenant_ref

    with app.test_request_context("/"), tenant_bound(tenant_ref(tenant_id)):
        today = now.astimezone(get_timezone()).date()
        chosen = preset_period(preset, today)
        start, end = chosen.bounds()
        month_start, month_end = months.bounds(today.replace(day=1))
        shown = period_months(SimpleNamespace(period=chosen))
        fields = select_fields()
        return {"start": start, "end": end, "prev_start": day_start(chosen.previous().start), "bucket": chosen.bucket,
                "month_start": month_start, "month_end": month_end, "currency": workspace_currency(),
                "months_start": months.bounds(shown[0])[0], "months_end": months.bounds(shown[-1])[1],
                "month_starts": [months.bounds(month)[0] for month in shown],
                "last_month": shown[-1], "this_month": today.replace(day=1),
                "forecast_end": months.shift(today.replace(day=1), FORECAST_MONTHS),
                "field_key": fields[0].key if fields else "", "stalled_since": now - timedelta(days=14)}


# ---------------------------------------------------------------- report

def rows_of(results: dict) -> list[dict]:
    rows = []
    for name, by_viewer in results["routes"].items():
        for kind, r in by_viewer.items():
            target = r.get("target_ms")
            label = f"{name}, {kind} ({r['statements_per_request']} SQL" + (
                f", {r['errors']} errors" if r["errors"] else "") + ")"
            rows.append({"benchmark": label + (" [stopped early]" if r["app"].get("stopped_early") else ""),
                         "n": r["app"]["n"], "median": r["app"]["median"], "p95": r["app"]["p95"],
                         "p99": r["app"]["p99"], "target": f"p95 < {target:g} ms" if target else "",
                         "pass": (r["app"]["p95"] < target) if target else None})
            rows.append({"benchmark": "    of which SQL in the app", "n": r["sql_ms"]["n"],
                         "median": r["sql_ms"]["median"], "p95": r["sql_ms"]["p95"], "p99": r["sql_ms"]["p99"],
                         "target": "", "pass": None})
            rows.append({"benchmark": f"    floor: {len(r['floor_sql'])} statement(s), raw psycopg",
                         "n": r["floor"]["n"], "median": r["floor"]["median"], "p95": r["floor"]["p95"],
                         "p99": r["floor"]["p99"], "target": "", "pass": None})
    return rows


def print_table(rows: list[dict], results: dict) -> None:
    header = ["benchmark", "n", "median/p50 ms", "p95 ms", "p99 ms", "target", "pass/fail"]
    body = [[r["benchmark"], str(r["n"]), fmt(r["median"]), fmt(r["p95"]), fmt(r["p99"]), r["target"] or "-",
             {True: "PASS", False: "FAIL", None: "-"}[r["pass"]]] for r in rows]
    widths = [max(len(h), *(len(line[i]) for line in body)) for i, h in enumerate(header)]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for line in body:
        print("  ".join(cell.rjust(w) if 0 < i < 5 else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths))))
    print("\nslowest statement of each page (median / p95 ms):")
    pages = [(f"{name}, {kind}", r) for name, by_viewer in results["routes"].items() for kind, r in by_viewer.items()]
    width = max((len(label) for label, _r in pages), default=0)
    for label, r in pages:
        if r["slowest_statements"]:
            s = r["slowest_statements"][0]
            print(f"   {label.ljust(width)} {s['median']:7.2f} / {s['p95']:7.2f}  {s['sql'][:80]} …")
    for slow in results["explained"]:
        print(f"\nslow (p95 > {results['explain_over_ms']:g} ms): {slow['route']}, {slow['viewer']}:"
              f" {slow['sql'][:200]}")
        for line in slow["plan"]:
            print("   " + line)
    d, m = results["data"], results["machine"]
    print(f"\ndata: {', '.join(f'{v:,} {k}' for k, v in d['counts'].items())}")
    print(f"seeded in {d['seed_seconds']:.1f} s (" + ", ".join(f"{k} {v:.1f}" for k, v in d["seconds"].items())
          + "); consistency checks: " + ("all pass" if not d["problems"] else json.dumps(d["problems"])))
    print(f"machine: {m['nproc']} CPU ({m['cpu']}), Python {m['python']}, {m['postgres'].split(' on ')[0]}, "
          f"{m['services']} services; {results['mode']} mode, {results['seconds']:.1f} s; "
          f"load average {m['loadavg_at_start'][0]:.2f} at start, {m['loadavg_at_end'][0]:.2f} at end")


# ---------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="a tenth of the data and 20 runs per page")
    parser.add_argument("--runs", type=int, help="timed requests per page and viewer")
    parser.add_argument("--only", help="measure only the routes whose name contains this")
    parser.add_argument("--preset", default="year", help="the reports' period preset (default: this year)")
    parser.add_argument("--explain-over", type=float, default=SLOW_MS, metavar="MS",
                        help=f"explain the slowest statement of pages slower than this at p95 (default {SLOW_MS:g})")
    args = parser.parse_args()
    mode = "small" if args.small else "full"
    sizes, timing = (SMALL if args.small else FULL), dict(RUNS[mode])
    if args.runs:
        timing["runs"] = args.runs
    begun = time.perf_counter()
    load_at_start = os.getloadavg()
    if load_at_start[0] > 0.5:
        print(f"note: load average {load_at_start[0]:.2f} at start; other work on this machine will show in the "
              "figures", file=sys.stderr, flush=True)

    def step(message: str) -> None:
        print(f"[{time.perf_counter() - begun:5.1f}s] {message}", flush=True)

    with services() as (database_url, redis_url, services_mode):
        os.environ["DATABASE_URL"] = database_url
        os.environ["REDIS_URL"] = redis_url
        os.environ["TENANT_CACHE_SECONDS"] = "1000000"
        raw_url = plain_url(database_url)

        from crm import create_app
        from crm.extensions import db, utcnow
        from tenants.migrations import upgrade_public

        app = create_app()
        routes = [r for r in ROUTES + report_routes(app, args.preset)
                  if not args.only or args.only.lower() in r.name.lower()]
        try:
            with app.app_context():
                upgrade_public(db.engine)
                counter = StatementCounter(db.engine)
            step(f"seeding the big tenant ({', '.join(f'{v:,} {k}' for k, v in sizes.items())}) ...")
            now = utcnow().replace(microsecond=0)
            started = time.perf_counter()
            big = seed_big_tenant(app, slug="big", now=now, log=lambda message: step("  " + message), **sizes)
            data = {"sizes": sizes, "counts": big.counts, "seconds": big.seconds,
                    "seed_seconds": time.perf_counter() - started}
            step(f"seeded in {data['seed_seconds']:.1f} s; checking consistency ...")
            data["problems"] = problems(app, big, now)
            people = viewers(app, big)
            data["viewers"] = {k: {"member_id": v.member_id, "reach": v.reach} for k, v in people.items()}
            signed_in = clients(app, people)
            params = {"slug": big.slug, "pipeline_id": big.pipeline_ids[0], "now": now, "team_id": big.team_ids[0],
                      **time_zone(app, big.tenant_id, now), **period(app, big.tenant_id, now, args.preset)}
            gc.collect()
            gc.freeze()  # as wsgi.py does once the app is made
            measured, explained = {}, []
            with floor_connection(raw_url, big.schema) as floors:
                for route in routes:
                    measured[route.name] = {}
                    for kind in route.viewers:
                        result = time_route(route, signed_in[kind], floors, people[kind], big.schema, params, counter,
                                            timing["runs"], timing["warmup"], timing["budget_s"])
                        result["target_ms"] = route.targets.get(kind)
                        measured[route.name][kind] = result
                        step(f"{route.name}, {kind}: p50 {result['app']['median']:.1f} ms, "
                             f"p95 {result['app']['p95']:.1f} ms; floor p50 {result['floor']['median']:.1f} ms")
                        if result["app"]["p95"] > args.explain_over:
                            explained.append({"route": route.name, "viewer": kind,
                                              **explain_slow(raw_url, big.schema, capture(
                                                  app, signed_in[kind], result, route.headers))})
            info = machine(raw_url, services_mode)
            info["loadavg_at_start"] = load_at_start
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()

    results = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "mode": mode, "timing": timing,
               "preset": args.preset,
               "statement_timeout": STATEMENT_TIMEOUT, "machine": info, "data": data, "routes": measured,
               "explain_over_ms": args.explain_over, "explained": explained, "seconds": time.perf_counter() - begun}
    results["table"] = rows_of(results)
    print_table(results["table"], results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(no_nan(results), indent=2, ensure_ascii=False, default=str))
    print(f"\nwrote {OUTPUT.relative_to(ROOT)}")


def capture(app, client, result: dict, headers: dict) -> dict:
    """One more request of a slow page with its statements' parameters kept, for EXPLAIN."""
    from sqlalchemy import event

    from crm.extensions import db

    sent = {}

    def before(conn, cursor, statement, parameters, context, executemany):
        sent.setdefault(" ".join(statement.split()), parameters)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        client.get(result["url"], headers=headers)
    finally:
        event.remove(engine, "before_cursor_execute", before)
    slowest = result["slowest_statements"][0]["sql"]
    return {**result, "captured_parameters": sent.get(slowest)}


if __name__ == "__main__":
    main()
