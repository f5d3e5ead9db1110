"""Errors of the API as RFC 9457 problem details (`application/problem+json`), with the services' messages at
their fields in `errors`. The app's error handlers call `problem()` for any request under /api/, so a refusal, a
404 out of scope, a routing error or a crash all answer the same way there."""
from flask import jsonify, request
from werkzeug.http import HTTP_STATUS_CODES

API_PATH = "/api/"
PROBLEM = "application/problem+json"


def is_api_request() -> bool:
    return request.path.startswith(API_PATH)


def problem(status: int, detail=None, errors: dict | None = None, headers: dict | None = None):
    """The problem document for `status`; `errors` maps a field to its message (already translated)."""
    body = {"type": "about:blank", "title": HTTP_STATUS_CODES.get(status, "Error"), "status": status}
    if detail:
        body["detail"] = str(detail)
    if errors:
        body["errors"] = {str(name): _message(message) for name, message in errors.items()}
    response = jsonify(body)
    response.status_code = status
    response.content_type = PROBLEM
    response.headers.update(headers or {})
    return response


def _message(message) -> str:
    """A field's message: the services give one string; the schema layer (webargs) a list or a nested dict."""
    while isinstance(message, (list, tuple)) and message:
        message = message[0]
    if isinstance(message, dict):
        return "; ".join(f"{key}: {_message(value)}" for key, value in message.items())
    return str(message)


def schema_errors(error) -> dict:
    """The field messages of a request the schema layer refused (webargs puts them in `data["messages"]`, by
    where they were read: json, query, headers)."""
    messages = (getattr(error, "data", None) or {}).get("messages") or {}
    merged = {}
    for found in messages.values():
        merged.update(found if isinstance(found, dict) else {"_schema": found})
    return merged
