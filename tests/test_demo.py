"""The demo workspace a newcomer signs in to: customers, deals on the board, orders, tickets and follow-ups."""
from sqlalchemy import func, select

from crm.extensions import db


def test_demo_workspace_has_a_days_work_in_it(app):
    from crm.demo import DEMO_EMAIL, DEMO_PASSWORD, DEMO_SLUG, seed_demo

    with app.app_context():
        assert seed_demo(customers=120) is not None
        db.session.commit()
        assert seed_demo(customers=120) is None  # once only
    client = app.test_client()
    assert client.post("/login", data={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}).status_code == 303
    board = client.get(f"/{DEMO_SLUG}/deals/")
    assert board.status_code == 200 and "年度采购" in board.text
    day = client.get(f"/{DEMO_SLUG}/activities/")
    assert "Overdue" in day.text and "跟进报价" in day.text
    assert "SO-000001" in client.get(f"/{DEMO_SLUG}/orders/").text
    assert "质量投诉" in client.get(f"/{DEMO_SLUG}/tickets/?view=all").text

    from crm.notify.models import Notification
    from tenants.binding import tenant_bound
    from tenants.models import Tenant
    from tenants.service import tenant_ref

    with app.app_context():
        tenant_id = db.session.scalar(select(Tenant.id).where(Tenant.slug == DEMO_SLUG))
        with tenant_bound(tenant_ref(tenant_id)):
            assert db.session.scalar(select(func.count(Notification.id)).where(Notification.kind == "reminder")) > 0


def test_the_demo_workspace_is_refused_in_production(app, monkeypatch):
    """Its admin signs in with a password printed in the README: a production database never gets it."""
    from tenants.models import Tenant

    def tenants():
        with app.app_context():
            return db.session.scalar(select(func.count()).select_from(Tenant))

    before = tenants()
    monkeypatch.setitem(app.config, "ENV", "production")
    result = app.test_cli_runner().invoke(args=["demo", "seed", "--customers", "1"])
    assert result.exit_code == 1
    assert "not in production" in result.output
    assert tenants() == before
