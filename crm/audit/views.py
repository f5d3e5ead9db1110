"""The audit log page: who did what to which record, filtered and scrolled like the customer list."""
from flask import request
from flask_babel import lazy_gettext as _l

from crm.audit import service
from crm.customers.forms import FIELD_LABELS
from crm.customers.service import active_members
from crm.orders.forms import FIELD_LABELS as ORDER_FIELDS
from crm.pipelines.forms import FIELD_LABELS as DEAL_FIELDS
from crm.products.forms import FIELD_LABELS as PRODUCT_FIELDS
from crm.tickets.forms import FIELD_LABELS as TICKET_FIELDS
from crm.members.access import require
from crm.web import is_htmx, render
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("audit", __name__, "/settings/audit")

ACTION_LABELS = {"create": _l("Added"), "update": _l("Changed"), "delete": _l("Removed"), "restore": _l("Restored"),
                 "purge": _l("Deleted for good"), "reveal": _l("Revealed"), "login": _l("Signed in"),
                 "invite": _l("Invited"), "permission": _l("Permissions changed"), "deactivate": _l("Deactivated"),
                 "reactivate": _l("Reactivated")}
ENTITY_LABELS = {"customer": _l("Customer"), "tag": _l("Tag"), "member": _l("Member"), "role": _l("Role"),
                 "team": _l("Team"), "invitation": _l("Invitation"), "field": _l("Custom field"),
                 "settings": _l("Settings"), "deal": _l("Deal"), "pipeline": _l("Pipeline"), "stage": _l("Stage"),
                 "activity": _l("Follow-up"), "order": _l("Order"), "product": _l("Product"), "ticket": _l("Ticket")}
# Field names of every record kind, for the changes shown in the log and in a record's history.
FIELD_NAMES = {**PRODUCT_FIELDS, **DEAL_FIELDS, **ORDER_FIELDS, **TICKET_FIELDS, **FIELD_LABELS, "color": _l("Colour")}


@bp.app_context_processor
def labels():
    """Labels for the log and for the history partial that record pages include."""
    return {"audit_action_labels": ACTION_LABELS, "audit_entity_labels": ENTITY_LABELS,
            "audit_field_labels": FIELD_NAMES, "audit_changes": service.changed_fields}


@bp.get("/")
@require("settings", "view")
def index():
    """The log, newest first; filters and scrolling swap only the rows."""
    query = service.AuditQuery.from_args(request.args)
    rows, next_cursor = service.list_entries(query)
    more = bool(query.before) and is_htmx()  # the next rows only
    return render("audit/index.html", block="more_rows" if more else "results", rows=rows, next_cursor=next_cursor,
                  query=query, members=active_members(), actions=service.ACTIONS, entities=service.ENTITIES)
