"""Fixtures for products and orders: products and orders made through the services."""
import pytest


@pytest.fixture
def make_product(app):
    """Add a product to a tenant's catalogue; returns its id."""
    from crm.products import service
    from tenants.binding import tenant_bound

    def make(tenant, **fields) -> int:
        with app.app_context(), tenant_bound(tenant.ref):
            return service.create_product({"name": "Tea 龙井", "price": "19.99", **fields}).id

    return make


@pytest.fixture
def make_order(app):
    """Place an order as a member (the admin unless named) with `lines` as the form's line fields; its id."""
    from crm.extensions import db
    from crm.members.models import Member
    from crm.orders import service
    from crm.orders.forms import LineInput
    from tenants.binding import tenant_bound

    def make(tenant, customer_id: int, member_id: int | None = None, lines=None, **fields) -> int:
        lines = lines or [{"description": "Green tea", "quantity": "3", "unit_price": "19.99", "discount": "15"}]
        with app.app_context(), tenant_bound(tenant.ref):
            viewer = db.session.get(Member, member_id or tenant.admin_member_id)
            data = {"customer_id": str(customer_id), "owner_id": str(viewer.id), **fields}
            rows = [LineInput(key=f"k{i}", **line) for i, line in enumerate(lines)]
            return service.create_order(viewer, data, rows).id

    return make
