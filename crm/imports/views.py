"""The import's parts on shared pages: the customer page's "Imported by" card and the audit log's import entries.
The import pages themselves come later, over crm/imports/service.py."""
from flask_babel import lazy_gettext as _l

from crm import registry
from crm.imports import service
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("imports", __name__, "/imports")
AUDIT_FIELDS = {"created": _l("Created"), "updated": _l("Updated"), "unchanged": _l("Unchanged"),
                "errors": _l("Errors"), "duplicates": _l("Duplicates"), "trashed": _l("Moved to the trash"),
                "restored": _l("Restored"), "skipped": _l("Skipped (changed since)")}
registry.plug(
    bp, registry.CustomerPanel("imports/_customer_panel.html", order=21,
                               load=lambda member, customer: {"imported": service.imported_into(customer.id)}),
    registry.AuditEntity("import", _l("Import"), fields=AUDIT_FIELDS))
