"""A workspace's billing state as its members see it: the 14-day trial without a card and its end (the free plan),
a failed payment's grace and then read-only, a cancellation read-only at the period's end, and writes back at once
when paid. Without Stripe keys (self-hosted) every workspace is on SELF_HOSTED_PLAN."""
from crm.billing import service
from crm.customers.models import Customer
from crm.extensions import db
from tests.billing.conftest import days


def api_token(app, in_tenant, tenant) -> dict:
    from crm.api import tokens
    from crm.members.models import Member

    secret = in_tenant(tenant, lambda: tokens.create_token(db.session.get(Member, tenant.admin_member_id), tenant.id,
                                                           "billing", "30").secret)
    return {"Authorization": f"Bearer {secret}"}


def test_self_hosted_every_workspace_is_on_the_operators_plan(app, acme, admin):
    page = admin.get(f"/{acme.slug}/settings/billing/").text
    assert "Plan: Unlimited" in page and "Billing is off on this installation" in page
    app.config["SELF_HOSTED_PLAN"] = "free"
    try:
        page = admin.get(f"/{acme.slug}/settings/billing/").text
        assert "Plan: Free" in page and "1 of 2" in page  # seats: the admin of the free plan's two
    finally:
        app.config["SELF_HOSTED_PLAN"] = "unlimited"


def test_a_new_workspace_tries_pro_for_14_days_without_a_card_then_is_on_free(app, acme, admin, billing_on,
                                                                                 subscription):
    page = admin.get(f"/{acme.slug}/settings/billing/").text
    assert "Plan: Pro" in page and "Free trial until" in page and "No invoices yet." in page
    with app.app_context():
        stored = db.session.get(service.Subscription, acme.id)
        assert stored.status == "trialing" and abs((stored.trial_ends_at - days(14)).total_seconds()) < 60
        assert stored.stripe_customer_id is None  # no card, no Stripe customer

    subscription(acme, trial_ends_at=days(-1))
    page = admin.get(f"/{acme.slug}/settings/billing/").text
    assert "Plan: Free" in page and "The trial ended on" in page
    assert "billing-banner" not in page  # not read-only: working within the free plan's limits
    # The free plan's two seats: the admin and one invitation; a third is refused with the limit named.
    assert admin.post(f"/{acme.slug}/settings/invitations", data={
        "email": "one@example.com", "role_id": _role(app, acme)}).status_code == 303
    refused = admin.post(f"/{acme.slug}/settings/invitations", data={
        "email": "two@example.com", "role_id": _role(app, acme)})
    assert refused.status_code == 402
    assert "limit of 2 seats is reached" in refused.text and f"/{acme.slug}/settings/billing/" in refused.text


def _role(app, tenant) -> int:
    from sqlalchemy import select

    from crm.members.models import Role
    from tenants.binding import tenant_bound

    with app.app_context(), tenant_bound(tenant.ref):
        return db.session.scalar(select(Role.id).where(Role.key == "sales_rep"))


def test_past_due_warns_then_turns_read_only_after_the_grace_and_paying_restores_writes(
        app, acme, admin, billing_on, in_tenant, make_customer):
    customer_id = make_customer(acme, name="Kept Customer")
    headers = api_token(app, in_tenant, acme)
    with app.app_context():
        service.mark_past_due(acme.id)
        db.session.commit()
    page = admin.get(f"/{acme.slug}/customers/").text
    assert "The last payment failed" in page  # the banner, 7 days of grace
    assert admin.post(f"/{acme.slug}/customers/", data={"name": "During grace"}).status_code == 303

    with app.app_context():
        service.mark_past_due(acme.id, since=days(-8))  # the grace ended a day ago
        db.session.commit()
    page = admin.get(f"/{acme.slug}/customers/")
    assert page.status_code == 200 and "This workspace is read-only" in page.text and "Kept Customer" in page.text
    assert admin.get(f"/{acme.slug}/customers/{customer_id}").status_code == 200
    export = admin.get(f"/{acme.slug}/exports/customers")
    assert export.status_code == 200 and "Kept Customer" in export.get_data().decode("utf-8-sig")
    refused = admin.post(f"/{acme.slug}/customers/", data={"name": "While read-only"})
    assert refused.status_code == 402 and "This workspace is read-only" in refused.text
    api_refused = app.test_client().post("/api/v1/customers/", json={"name": "Via API"}, headers=headers)
    assert api_refused.status_code == 402 and api_refused.content_type == "application/problem+json"
    assert "read-only" in api_refused.get_json()["detail"]
    assert app.test_client().get("/api/v1/customers/", headers=headers).status_code == 200

    with app.app_context():
        service.mark_active(acme.id, period_ends_at=days(30))  # paid
        db.session.commit()
    page = admin.get(f"/{acme.slug}/customers/").text
    assert "billing-banner" not in page
    assert admin.post(f"/{acme.slug}/customers/", data={"name": "After paying"}).status_code == 303
    assert app.test_client().post("/api/v1/customers/", json={"name": "Via API"}, headers=headers).status_code == 201
    names = in_tenant(acme, lambda: set(db.session.scalars(db.select(Customer.name))))
    assert names == {"Kept Customer", "During grace", "After paying", "Via API"}  # nothing lost, nothing extra


def test_cancelled_is_writable_until_the_period_ends_then_read_only(app, acme, admin, billing_on):
    with app.app_context():
        service.mark_canceled(acme.id, period_ends_at=days(3))
        db.session.commit()
    assert "read-only on" in admin.get(f"/{acme.slug}/customers/").text
    assert admin.post(f"/{acme.slug}/customers/", data={"name": "Before the end"}).status_code == 303
    with app.app_context():
        service.mark_canceled(acme.id, period_ends_at=days(-1))
        db.session.commit()
    refused = admin.post(f"/{acme.slug}/customers/", data={"name": "After the end"})
    assert refused.status_code == 402 and "subscription was cancelled" in refused.text
