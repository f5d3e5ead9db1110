"""The permission matrix: resource x action -> scope, and the default roles seeded at provisioning."""

RESOURCES = ("customers", "deals", "orders", "products", "tickets", "activities",
             "campaigns", "reports", "sensitive", "settings", "members", "billing")
ACTIONS = ("view", "create", "edit", "delete", "export", "import")
# The cells the role page offers: only what some view or form checks (a test holds this against the views).
# Roles store every cell, so the products export and the imports of other records keep their defaults until their
# features land and add themselves here.
OFFERED = {"customers": ("view", "create", "edit", "delete", "export", "import"),
           "deals": ("view", "create", "edit", "delete", "export"),
           "orders": ("view", "create", "edit", "export"), "products": ("view", "create", "edit"),
           "tickets": ("view", "create", "edit", "export"), "activities": ("view", "create", "edit", "delete", "export"),
           "campaigns": ("view", "create", "edit", "delete"), "reports": ("view", "edit", "export"),
           "sensitive": ("view", "edit"),
           "settings": ("view", "edit"), "members": ("view", "create", "edit"), "billing": ("view",)}
OFFERED_ACTIONS = tuple(a for a in ACTIONS if any(a in actions for actions in OFFERED.values()))
SCOPES = ("none", "own", "team", "subteams", "all")
ADMIN_ONLY = ("settings", "members", "billing")
# "activities" is the follow-ups (crm/followups); the key stays as every stored role names it.
# "sensitive": view = reveal ID numbers and bank accounts in full, edit = enter them (scoped like customers).
# "reports": view = whose numbers and targets are seen, edit = whose sales targets may be set (crm/targets).


def matrix(default: str, **per_resource) -> dict:
    """Every resource and action at `default`; `resource="scope"` sets a whole row and
    `resource={action: scope}` exactly the actions named (the others none)."""
    result = {}
    for resource in RESOURCES:
        override = per_resource.get(resource, default)
        if isinstance(override, dict):
            result[resource] = {action: override.get(action, "none") for action in ACTIONS}
        else:
            result[resource] = {action: override for action in ACTIONS}
    return result


_NO_ADMIN = {resource: "none" for resource in ADMIN_ONLY}
_READ_ALL = {"view": "all", "export": "all", "create": "none", "edit": "none", "delete": "none", "import": "none"}

DEFAULT_ROLES = (
    {"key": "admin", "name": "Admin", "permissions": matrix("all"), "pool_limit": None},
    {"key": "sales_manager", "name": "Sales manager",
     "permissions": matrix("subteams", **_NO_ADMIN, products="all",
                           sensitive={"view": "subteams", "edit": "subteams"}), "pool_limit": None},
    {"key": "sales_rep", "name": "Sales rep",
     "permissions": matrix("own", **_NO_ADMIN, products={**_READ_ALL, "export": "none"},
                           reports={"view": "own", "export": "own"}, sensitive={"edit": "own"}), "pool_limit": 200},
    {"key": "support_agent", "name": "Support agent",
     "permissions": matrix("none", customers=_READ_ALL, orders=_READ_ALL, tickets="all",
                           activities="own"), "pool_limit": None},
    {"key": "read_only", "name": "Read-only",
     "permissions": matrix("none", **{r: {"view": "all"} for r in RESOURCES
                                     if r not in ADMIN_ONLY + ("sensitive",)}), "pool_limit": None},
)
