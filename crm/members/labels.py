"""Translated names of roles, resources, actions and scopes, for pages and the audit log."""
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from crm.members.permissions import ACTIONS, RESOURCES
from crm.registry import AuditEntity

ROLE_NAMES = {"admin": _l("Admin"), "sales_manager": _l("Sales manager"), "sales_rep": _l("Sales rep"),
              "support_agent": _l("Support agent"), "read_only": _l("Read-only")}
RESOURCE_LABELS = {"customers": _l("Customers"), "deals": _l("Deals"),
                   "orders": _l("Orders"), "products": _l("Products"), "tickets": _l("Tickets"),
                   "activities": _l("Activities"), "campaigns": _l("Campaigns"), "reports": _l("Reports"), "sensitive": _l("Sensitive fields"),
                   "settings": _l("Settings"), "members": _l("Members"), "billing": _l("Billing")}
ACTION_LABELS = {"view": _l("View"), "create": _l("Create"), "edit": _l("Edit"), "delete": _l("Delete"),
                 "export": _l("Export"), "import": _l("Import")}
SCOPE_LABELS = {"none": _l("None"), "own": _l("Own"), "team": _l("Team"), "subteams": _l("Team and sub-teams"),
                "all": _l("All")}
INVITATION_STATUS = {"pending": _l("Pending"), "expired": _l("Expired"), "accepted": _l("Accepted"),
                     "revoked": _l("Revoked")}


def role_label(role) -> str:
    """A built-in role's name in the reader's language; a role an admin made keeps its own name."""
    return str(ROLE_NAMES[role.key]) if role.key in ROLE_NAMES else role.name


def template_labels() -> dict:
    return {"role_label": role_label, "resource_labels": RESOURCE_LABELS, "action_labels": ACTION_LABELS,
            "scope_labels": SCOPE_LABELS, "invitation_status": INVITATION_STATUS}


def audit_entities() -> list[AuditEntity]:
    """The audit log's names for members, roles (a permission reads "Customers · Edit"), teams, invitations and
    the workspace's settings."""
    permissions = {f"{r}.{a}": LazyString(lambda r=r, a=a: f"{RESOURCE_LABELS[r]} · {ACTION_LABELS[a]}")
                   for r in RESOURCES for a in ACTIONS}
    return [AuditEntity("member", _l("Member"), fields={"role": _l("Role"), "team": _l("Team"),
                                                         "customers": _l("Customers")}),
            AuditEntity("role", _l("Role"), fields={**permissions, "pool_limit": _l("Customer limit")},
                        values=dict.fromkeys(permissions, SCOPE_LABELS)),
            AuditEntity("team", _l("Team")),
            AuditEntity("invitation", _l("Invitation"), fields={"role": _l("Role")}),
            AuditEntity("settings", _l("Settings"), fields={"active": _l("In use")})]
