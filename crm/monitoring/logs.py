"""Request ids and structured logs.

Every request gets an id: the proxy's `X-Request-ID` when it is a plain token, else a new one; it is answered in
the same header, so a user's report, the proxy's log and the app's lines meet. With LOG_FORMAT=json every log
line on stderr is one JSON object with `time`, `level`, `logger`, `message`, and inside a request `request_id`
and `tenant_id`; a security event's fields (crm/security/events.py) are the line's own fields."""
import logging
import re
import sys
import uuid

from flask import Flask, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

from tenants.binding import current_tenant

REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def init_app(app: Flask) -> None:
    # A URL value preprocessor, not before_request: those run after the blueprints' preprocessors (the tenant's
    # resolution), whose refusals should carry the id too.
    app.url_value_preprocessor(_take_request_id)
    app.after_request(_answer_request_id)
    if app.config["LOG_FORMAT"] == "json":
        root = logging.getLogger()
        root.handlers[:] = [handler(sys.stderr)]
        root.setLevel(app.config["LOG_LEVEL"])


def handler(stream) -> logging.Handler:
    """A handler writing JSON lines, with the request's ids, to `stream`."""
    out = logging.StreamHandler(stream)
    out.setFormatter(Formatter("{levelname}{name}{message}", style="{", timestamp="time",
                               rename_fields={"levelname": "level", "name": "logger"}))
    out.addFilter(RequestIds())
    return out


def request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


def _take_request_id(_endpoint=None, _values=None) -> None:
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def _answer_request_id(response):
    if "request_id" in g:
        response.headers["X-Request-ID"] = g.request_id
    return response


class RequestIds(logging.Filter):
    """Stamp the request id and the bound tenant's id on each record (None outside a request or a tenant)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id()
        tenant = current_tenant()
        record.tenant_id = tenant.id if tenant is not None else None
        return True


class Formatter(JsonFormatter):
    """pythonjsonlogger's JSON lines; a record carrying `fields` (a security event) lifts them to the top."""

    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:
        super().add_fields(log_data, record, message_dict)
        fields = log_data.pop("fields", None)
        if isinstance(fields, dict):
            log_data["message"] = fields.get("event", log_data.get("message"))
            log_data.update({key: value for key, value in fields.items() if key not in ("time", "event")})
            log_data["event"] = fields.get("event")
