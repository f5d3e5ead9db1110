"""The load test (bench/load.py) in small: its quick mode's workspaces, gunicorn as shipped, a few seconds of locust
against the test's servers; every kind of request is sent and none fails."""
import os

import pytest
from sqlalchemy import text

from tests.conftest import unique


@pytest.mark.slow  # 10 workspaces, a gunicorn start-up and three locust phases: 30-50 s on 2 busy cores
def test_a_short_load_run_sends_every_kind_of_request_without_an_error(app):
    from bench.load import KINDS, QUICK, run
    from crm.extensions import db

    prefix = unique("load")
    results = run(app, os.environ["DATABASE_URL"], os.environ["REDIS_URL"], tenants=QUICK["tenants"], users=6,
                  seconds=4, warmup=1, floor_seconds=1, session=8, prefix=prefix, log=lambda message: None)

    assert results["accounts"] == 3 * QUICK["tenants"]
    for phase, kinds in (("sign_in", ("sign in: form", "sign in: post", "sign in: first page")), ("mix", KINDS),
                         ("floor", ("healthz (floor)",))):
        counted = results[phase]["kinds"]
        assert {k for k in kinds if counted.get(k, {}).get("requests", 0) == 0} == set(), phase
        assert results[phase]["total"]["errors"] == 0, results[phase]["error_examples"]
    assert results["sign_in"]["kinds"]["sign in: post"]["requests"] == results["accounts"]
    # The writes were made, not refused: follow-ups planned and orders moved beyond the set-up's two moves each.
    with app.app_context():
        schemas = db.session.scalars(text("select 't_' || id from public.tenants where slug like :p"),
                                     {"p": f"{prefix}-%"}).all()
        union = " union all ".join(f'select (select count(*) from "{s}".activities), '
                                   f'(select count(*) from "{s}".order_status_changes), '
                                   f'(select count(*) from "{s}".orders)' for s in schemas)
        rows = db.session.execute(text(union)).all()
    assert len(schemas) == QUICK["tenants"]
    assert sum(r[0] for r in rows) > 0
    assert sum(r[1] for r in rows) > 2 * sum(r[2] for r in rows)
