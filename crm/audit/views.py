"""The audit log page: who did what to which record, filtered and scrolled like the customer list."""
from flask import request
from flask_babel import lazy_gettext as _l

from crm import registry
from crm.audit import service
from crm.members.access import require
from crm.members.service import members
from crm.web import is_htmx, render
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("audit", __name__, "/settings/audit")
registry.plug(
    bp, registry.SettingsTab("audit.index", _l("Audit log"), order=100, permission=("settings", "view"),
                             current=("audit.*",)),
    registry.CustomerPanel("audit/_card.html", order=20,
                           load=lambda member, customer: {"history": service.history("customer", customer.id)}))

ACTION_LABELS = {"create": _l("Added"), "update": _l("Changed"), "delete": _l("Removed"), "restore": _l("Restored"),
                 "purge": _l("Deleted for good"), "reveal": _l("Revealed"), "login": _l("Signed in"),
                 "invite": _l("Invited"), "permission": _l("Permissions changed"), "deactivate": _l("Deactivated"),
                 "reactivate": _l("Reactivated"), "merge": _l("Merged"), "unmerge": _l("Merge undone")}


@bp.app_context_processor
def labels():
    """Labels for the log and for the history partial that record pages include."""
    return {"audit_action_labels": ACTION_LABELS, "audit_entity": registry.audit_entity,
            "audit_changes": service.readable_changes}


@bp.get("/")
@require("settings", "view")
def index():
    """The log, newest first; filters and scrolling swap only the rows."""
    query = service.AuditQuery.from_args(request.args)
    rows, next_cursor = service.list_entries(query)
    more = bool(query.after) and is_htmx()  # the next rows only
    return render("audit/index.html", block="more_rows" if more else "results", rows=rows, next_cursor=next_cursor,
                  query=query, members=members(include_inactive=False), actions=service.ACTIONS,
                  entities=registry.audit_entities())
