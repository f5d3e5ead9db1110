"""audited(): one entry with what changed, masked where sensitive; nothing when nothing changed or it failed."""
import pytest
from sqlalchemy import select

from crm.audit.models import AuditEntry
from crm.audit.service import MASK, audited
from crm.extensions import db
from crm.products import service as products


def entries(entity_id: int) -> list[dict]:
    stmt = select(AuditEntry).where(AuditEntry.entity == "product", AuditEntry.entity_id == entity_id,
                                    AuditEntry.action == "update")
    return [entry.changes for entry in db.session.scalars(stmt)]


def test_an_audited_change_is_recorded_once_and_only_when_it_happened(acme, in_tenant):
    def run():
        product = products.create_product({"name": "Tea", "price": "10"})
        with audited(product, entity="product", fields=("name", "sku"), summary=lambda p: p.name) as change:
            product.name, product.sku = "Green tea", "SECRET-1"
        with audited(product, entity="product", fields=("name",), summary=lambda p: p.name) as unchanged:
            product.name = "Green tea"
        with pytest.raises(RuntimeError), audited(product, entity="product", fields=("name",),
                                                  summary=lambda p: p.name):
            product.name = "Half done"
            raise RuntimeError("refused")
        return bool(change), bool(unchanged), entries(product.id)

    changed, unchanged, recorded = in_tenant(acme, run)
    assert changed and not unchanged
    assert recorded == [{"name": ["Tea", "Green tea"], "sku": [None, "SECRET-1"]}]


def test_sensitive_names_and_prefixes_are_masked(acme, in_tenant):
    def run():
        product = products.create_product({"name": "Tea", "price": "10"})
        with audited(product, entity="product", fields=("name", "sku"), summary=lambda p: p.name,
                     state=lambda p: {"secret.code": p.unit}, sensitive=("sku", "secret.")):
            product.name, product.sku, product.unit = "Green tea", "SKU-9", "box"
        return entries(product.id)

    [changes] = in_tenant(acme, run)
    assert changes == {"name": ["Tea", "Green tea"], "sku": [MASK, MASK], "secret.code": [MASK, MASK]}
