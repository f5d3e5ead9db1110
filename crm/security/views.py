"""POST /csp-report: the browser's reports of what the Content-Security-Policy blocked, as one log line each."""
import json
import logging

from flask import Blueprint, current_app, request

from crm.extensions import csrf, limiter
from crm.security.headers import REPORT_PATH

bp = Blueprint("csp", __name__)
log = logging.getLogger("crm.csp")

MAX_BYTES = 16 * 1024  # a real report is under 2 KiB; a batch of a few fits
MAX_REPORTS = 10
FIELD_CHARS = 300
# The two shapes browsers send: report-uri's {"csp-report": {...}} and the Reporting API's [{"body": {...}}].
FIELDS = {"document": ("document-uri", "documentURL"), "blocked": ("blocked-uri", "blockedURL"),
          "directive": ("effective-directive", "effectiveDirective"), "source": ("source-file", "sourceFile"),
          "line": ("line-number", "lineNumber"), "sample": ("script-sample", "sample"),
          "disposition": ("disposition", "disposition")}


@bp.post(REPORT_PATH)
@csrf.exempt
@limiter.limit(lambda: current_app.config["CSP_REPORT_LIMITS"])
def csp_report():
    """Log each violation; 204 whatever it said, 413 past the size cap, 400 when it is not a report."""
    raw = request.stream.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        return "", 413
    reports = _reports(raw)
    if reports is None:
        return "", 400
    for report in reports[:MAX_REPORTS]:
        log.warning("csp-violation %s", json.dumps(_summary(report), ensure_ascii=False, sort_keys=True))
    return "", 204


def _reports(raw: bytes) -> list[dict] | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("csp-report"), dict):
        return [data["csp-report"]]
    if isinstance(data, list):
        return [item["body"] for item in data if isinstance(item, dict) and isinstance(item.get("body"), dict)
                and item.get("type") == "csp-violation"]
    return None


def _summary(report: dict) -> dict:
    """The fields worth reading, each cut short, and who sent it."""
    summary = {"ip": request.remote_addr, "agent": request.user_agent.string[:FIELD_CHARS]}
    for name, keys in FIELDS.items():
        value = next((report[key] for key in keys if key in report), None)
        if value is not None:
            summary[name] = value if isinstance(value, int) else str(value)[:FIELD_CHARS]
    return summary
