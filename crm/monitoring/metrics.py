"""Prometheus metrics: request latency by route, and at scrape time the RQ queues' depth, the outbox's lag and
the last fleet migration's outcome.

Under gunicorn the workers are separate processes: with PROMETHEUS_MULTIPROC_DIR set (the shipped
scripts/deploy/gunicorn.conf.py sets it and clears it at start) each process writes its samples there and a
scrape adds them up. /metrics answers only a scraper sending `Authorization: Bearer <METRICS_TOKEN>`; without
METRICS_TOKEN it does not exist (404), like any wrong token, so the public learns nothing of it."""
import hmac
import json
import os
import time

from flask import Blueprint, Flask, abort, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY
from rq import Queue
from sqlalchemy import func, select

from crm.extensions import db, redis_connection, utcnow
from crm.notify.models import NotificationDue
from tenants.migrations import LAST_RUN_KEY

REQUEST_SECONDS = Histogram("crm_http_request_duration_seconds", "Time to answer a request, by route",
                            ("method", "route", "status"),
                            buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))

bp = Blueprint("metrics", __name__)


def init_app(app: Flask) -> None:
    app.url_value_preprocessor(_start_clock)  # before the tenant's resolution, which the time includes
    app.after_request(_observe)
    app.register_blueprint(bp)


def _start_clock(_endpoint=None, _values=None) -> None:
    g.request_started = time.perf_counter()


def _observe(response):
    if "request_started" in g:
        # The route's pattern (`/<slug>/customers/<id:customer_id>`), never the path: bounded label values.
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        REQUEST_SECONDS.labels(request.method, route, str(response.status_code)).observe(
            time.perf_counter() - g.request_started)
    return response


@bp.get("/metrics")
def scrape():
    """The metrics in Prometheus' text format, for the holder of METRICS_TOKEN."""
    token = current_app.config["METRICS_TOKEN"]
    given = request.headers.get("Authorization", "").removeprefix("Bearer ")
    if not token or not hmac.compare_digest(given.encode(), token.encode()):
        abort(404)
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    output = generate_latest(registry) + generate_latest(_scrape_time_registry())
    return output, 200, {"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"}


def _scrape_time_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector())
    return registry


class StateCollector:
    """Figures read when scraped, from Redis and the public schema (no tenant schema is read)."""

    def collect(self):
        depth = GaugeMetricFamily("crm_queue_jobs", "Jobs waiting in an RQ queue", labels=("queue",))
        connection = redis_connection()
        for queue in Queue.all(connection=connection):
            depth.add_metric((queue.name,), queue.count)
        yield depth
        oldest = db.session.scalar(select(func.min(NotificationDue.due_at)).where(NotificationDue.due_at <= utcnow()))
        db.session.rollback()
        yield GaugeMetricFamily("crm_outbox_lag_seconds", "How long the oldest due, unsent message has waited",
                                value=(utcnow() - oldest).total_seconds() if oldest else 0)
        last = json.loads(connection.get(LAST_RUN_KEY) or "{}")
        tenants = GaugeMetricFamily("crm_migration_tenants", "Tenants of the last `tenants upgrade` run, by outcome",
                                    labels=("outcome",))
        for outcome in ("migrated", "failed", "not_started"):
            tenants.add_metric((outcome,), last.get(outcome, 0))
        yield tenants
        yield GaugeMetricFamily("crm_migration_finished_timestamp_seconds", "When the last `tenants upgrade` ended",
                                value=last.get("finished_at", 0))

