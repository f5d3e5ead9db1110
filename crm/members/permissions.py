"""The permission matrix: resource x action -> scope, and the default roles seeded at provisioning."""

RESOURCES = ("customers", "contacts", "deals", "orders", "products", "tickets", "activities",
             "campaigns", "reports", "settings", "members", "billing")
ACTIONS = ("view", "create", "edit", "delete", "export", "import")
SCOPES = ("none", "own", "team", "all")


def _matrix(default: str, **overrides: str) -> dict:
    """Every resource and action at `default`, with `resource=scope` overrides."""
    return {r: {a: overrides.get(r, default) for a in ACTIONS} for r in RESOURCES}


_ADMIN_ONLY = dict(settings="none", members="none", billing="none")

DEFAULT_ROLES = (
    {"key": "admin", "name": "Admin", "permissions": _matrix("all")},
    {"key": "sales_manager", "name": "Sales manager",
     "permissions": _matrix("team", **_ADMIN_ONLY, products="all", reports="all")},
    {"key": "sales_rep", "name": "Sales rep",
     "permissions": _matrix("own", **_ADMIN_ONLY, products="all", reports="own")},
    {"key": "support_agent", "name": "Support agent",
     "permissions": _matrix("none", customers="all", contacts="all", tickets="all", activities="own",
                            orders="all")},
    {"key": "read_only", "name": "Read-only",
     "permissions": {r: {a: ("all" if a == "view" and r not in _ADMIN_ONLY else "none") for a in ACTIONS}
                     for r in RESOURCES}},
)
# Support agents read customers and orders but do not change or delete them.
for _resource in ("customers", "contacts", "orders"):
    for _action in ("create", "edit", "delete", "import"):
        DEFAULT_ROLES[3]["permissions"][_resource][_action] = "none"
