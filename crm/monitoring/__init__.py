"""What an operator watches: a request id on every request and its log lines, JSON logs (LOG_FORMAT=json) with
the request and tenant ids, and Prometheus metrics at /metrics for a scraper holding METRICS_TOKEN
(docs/operations.md "Logs and metrics")."""
from flask import Flask

from crm.monitoring import logs, metrics


def init_app(app: Flask) -> None:
    logs.init_app(app)
    metrics.init_app(app)
