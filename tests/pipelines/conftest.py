"""Deal fixtures: the default pipeline's stage ids and deals made through the service."""
import pytest
from sqlalchemy import select

from crm.extensions import db


@pytest.fixture
def stage_ids(in_tenant):
    """{English stage name: id} of a tenant's default pipeline."""
    from crm.pipelines.models import Stage

    def ids(tenant) -> dict[str, int]:
        return in_tenant(tenant, lambda: dict(db.session.execute(
            select(Stage.name_en, Stage.id).where(Stage.pipeline_id == 1)).all()))

    return ids


@pytest.fixture
def make_deal(app, make_customer, stage_ids):
    """Create a deal as a member (the admin by default) in a stage of the default pipeline; returns its id."""
    from crm.members.models import Member
    from crm.pipelines import service
    from tenants.binding import tenant_bound

    def make(tenant, member_id: int | None = None, stage: str = "Lead", customer_id: int | None = None,
             **fields) -> int:
        member_id = member_id or tenant.admin_member_id
        customer_id = customer_id or make_customer(tenant, member_id=member_id, name="Deal customer")
        stage_id = stage_ids(tenant)[stage]
        with app.app_context(), tenant_bound(tenant.ref):
            viewer = db.session.get(Member, member_id)
            deal = service.create_deal(viewer, {"title": "Deal", "customer_id": customer_id, "stage_id": stage_id,
                                                **fields})
            return deal.id

    return make
