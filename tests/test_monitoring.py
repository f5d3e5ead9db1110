"""What an operator watches: request ids, JSON log lines with the request and tenant ids, and /metrics."""
import io
import json
import logging
import re
from datetime import timedelta

import pytest


def test_every_answer_carries_a_request_id_and_keeps_a_plain_one_from_the_proxy(app):
    client = app.test_client()
    made = client.get("/login").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert client.get("/login").headers["X-Request-ID"] != made
    assert client.get("/login", headers={"X-Request-ID": "edge-7f3a.1"}).headers["X-Request-ID"] == "edge-7f3a.1"
    forged = client.get("/login", headers={"X-Request-ID": "a b\"}{"}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", forged)
    assert client.get("/no-such-page").headers["X-Request-ID"]  # a 404 too


@pytest.fixture
def json_lines():
    """What the JSON log handler writes while the test runs, as parsed lines."""
    from crm.monitoring import logs

    stream = io.StringIO()
    handler = logs.handler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)


def test_a_json_log_line_names_the_request_and_the_tenant(acme, add_member, client_as, json_lines):
    manager_account, _manager = add_member(acme, role="sales_manager", name="Max Manager")
    answer = client_as(manager_account).get(f"/{acme.slug}/settings/audit/")
    assert answer.status_code == 403
    line, = [line for line in json_lines() if line.get("event") == "forbidden"]
    assert line["request_id"] == answer.headers["X-Request-ID"]
    assert line["tenant_id"] == acme.id and line["tenant"] == acme.slug
    assert line["level"] == "WARNING" and line["logger"] == "crm.security" and line["message"] == "forbidden"
    assert line["path"] == f"/{acme.slug}/settings/audit/" and line["account"] == manager_account
    assert re.match(r"\d{4}-\d\d-\d\dT", line["time"])


def _series(text: str, name: str, **labels) -> float | None:
    """The value of the sample `name{labels}` in a scrape, or None."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
            if all(found.get(key) == value for key, value in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_answer_only_the_scraper_and_count_what_happened(app, acme, admin, monkeypatch):
    from crm.extensions import db, utcnow
    from crm.jobs import queue
    from crm.notify.models import NotificationDue

    client = app.test_client()
    assert client.get("/metrics").status_code == 404  # no METRICS_TOKEN: there is no such page
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "scrape-secret")
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404

    assert admin.get(f"/{acme.slug}/customers/").status_code == 200
    with app.app_context():
        exports = queue("exports")
        exports.enqueue("crm.health.views.healthz")
        db.session.add(NotificationDue(tenant_id=acme.id, notification_id=987654,
                                       due_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
    with app.app_context():  # what `tenants upgrade` does after its run (other tests' tenants left out)
        from crm.extensions import redis_connection
        from tenants.migrations import remember_run, upgrade_all

        remember_run(redis_connection(), upgrade_all(db.engine, schemas=[f"t_{acme.id}"]))
    try:
        scrape = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
        assert scrape.status_code == 200 and scrape.headers["Content-Type"].startswith("text/plain")
        text = scrape.text
        assert _series(text, "crm_http_request_duration_seconds_count", method="GET", route="/<slug>/customers/",
                       status="200") >= 1
        assert _series(text, "crm_queue_jobs", queue="exports") == 1
        assert _series(text, "crm_outbox_lag_seconds") >= 3600
        assert _series(text, "crm_migration_tenants", outcome="failed") == 0
        assert _series(text, "crm_migration_tenants", outcome="migrated") >= 1
        assert _series(text, "crm_migration_finished_timestamp_seconds") > 0
    finally:
        exports.empty()
        with app.app_context():
            db.session.execute(NotificationDue.__table__.delete().where(NotificationDue.notification_id == 987654))
            db.session.commit()
