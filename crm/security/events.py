"""Security events (failed and held-back sign-ins, wrong codes, password changes, 403s, CSRF failures ...) as one
JSON line each on the `crm.security` logger, for an operator to ship and alert on (docs/operations.md "Security
events"). Callers pass only what may be kept: never a password, code, token or session id, not even hashed."""
import json
import logging
from datetime import UTC, datetime

from flask import has_request_context, request
from flask_login import current_user

from tenants.binding import current_tenant

log = logging.getLogger("crm.security")
USER_AGENT_KEPT = 200
FIELD_KEPT = 200  # a typed email, a path: whatever a client sent, so a line stays one short line


def security_event(name: str, account_id: int | None = None, **fields) -> None:
    """Log event `name` with the request's tenant, account (the signed-in one unless `account_id` is given),
    client address and user agent, and `fields` (strings cut to FIELD_KEPT)."""
    line = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": name}
    tenant = current_tenant()
    if tenant is not None:
        line["tenant"] = tenant.slug
    if account_id is None and has_request_context() and current_user.is_authenticated:
        account_id = current_user.id
    if account_id is not None:
        line["account"] = account_id
    if has_request_context():
        line["ip"] = request.remote_addr
        line["user_agent"] = request.user_agent.string[:USER_AGENT_KEPT]
    line.update({key: value[:FIELD_KEPT] if isinstance(value, str) else value for key, value in fields.items()})
    log.warning("%s", json.dumps(line), extra={"fields": line})  # JSON logs lift the fields (crm/monitoring)
