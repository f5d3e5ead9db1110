"""Subscriptions through the platform's Stripe account, against the local fake Stripe: Choose a plan (Checkout) and
Manage billing (the portal) on Settings > Billing, the plan following Stripe's webhooks and never the redirect, each
state Stripe moves a subscription through, events late, twice or out of order, the endpoint's signature check,
invoices, and the nightly reconciliation."""
import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select

from crm.billing.models import BillingEvent, Invoice
from crm.extensions import db, utcnow
from crm.platform.models import OperatorAction
from tests.billing.conftest import PLATFORM_WEBHOOK_SECRET, WEBHOOK_PATH, days
from tests.payments.conftest import post_event
from tests.platform.test_console import operator  # noqa: F401 (the fixture, shared)

BILLING = "/{slug}/settings/billing/"


def page(client, tenant) -> str:
    return client.get(BILLING.format(slug=tenant.slug)).text


def choose(client, tenant, plan="pro", interval="monthly"):
    return client.post(f"/{tenant.slug}/settings/billing/checkout", data={"plan": plan, "interval": interval})


def subscribed(app, fake, tenant, customer_of, plan="pro") -> dict:
    """A paid subscription of `plan` in Stripe for the tenant (as after Checkout), not yet told to the CRM."""
    return fake.subscribe(customer_of(tenant), fake.plan_prices[plan, "monthly"],
                          metadata={"tenant_id": str(tenant.id)})


def test_choose_a_plan_pays_on_checkout_and_the_plan_follows_stripe_not_the_redirect(
        app, acme, admin, stripe_billing, deliver, stored):
    shown = page(admin, acme)
    assert "Choose a plan" in shown and 'id="plan-pro"' in shown and 'id="plan-business"' in shown
    assert "Manage billing" not in shown
    answer = choose(admin, acme, "pro", "yearly")
    assert answer.status_code == 303 and answer.headers["Location"].startswith(f"{stripe_billing.url}/checkout/cs_")
    session = stripe_billing.objects["checkout.sessions"][answer.headers["Location"].rsplit("/", 1)[1]]
    customer = stored(acme).stripe_customer_id
    assert customer and session["customer"] == customer  # made once for the workspace ...
    assert session["mode"] == "subscription" and session["client_reference_id"] == str(acme.id)
    assert session["_prices"] == [stripe_billing.plan_prices["pro", "yearly"]]
    back = urlsplit(session["success_url"])
    assert choose(admin, acme).status_code == 303 and stored(acme).stripe_customer_id == customer  # ... and reused

    # Back from Checkout before Stripe's webhook: the page waits, the plan is still the trial.
    returned = admin.get(f"{back.path}?{back.query}").text
    assert "Waiting for Stripe to confirm" in returned and "Free trial until" in returned
    paid = stripe_billing.complete_checkout(session["id"])
    assert stored(acme).status == "trialing"  # the redirect alone changes nothing
    assert deliver(stripe_billing.event("checkout.session.completed", paid)) == [200]
    row = stored(acme)
    assert (row.plan.key, row.status, row.stripe_subscription_id) == ("pro", "active", paid["subscription"])
    assert row.period_ends_at > utcnow() + timedelta(days=29)
    poll = admin.get(f"/{acme.slug}/settings/billing/plan?checkout=done", headers={"HX-Request": "true"}).text
    assert "Waiting for Stripe" not in poll and "Active." in poll and "Manage billing" in poll

    invoice = stripe_billing.objects["subscriptions"][paid["subscription"]]["latest_invoice"]
    deliver(stripe_billing.event("invoice.paid", stripe_billing.objects["invoices"][invoice]))
    shown = page(admin, acme)
    assert "Plan: Pro" in shown and "Renews on" in shown and "Choose a plan" not in shown
    assert "290.00" in shown  # the yearly price, in its currency
    assert f'href="{stripe_billing.url}/invoice/{invoice}"' in shown and "Paid" in shown
    refused = choose(admin, acme)
    assert refused.status_code == 303 and "already has a subscription" in admin.get(refused.headers["Location"]).text
    portal = admin.post(f"/{acme.slug}/settings/billing/portal")
    assert portal.status_code == 303 and portal.headers["Location"].startswith(f"{stripe_billing.url}/portal/bps_")
    portal_session = stripe_billing.objects["billing_portal.sessions"][portal.headers["Location"].rsplit("/", 1)[1]]
    assert portal_session["customer"] == customer and portal_session["return_url"].endswith(BILLING.format(
        slug=acme.slug))


def test_each_state_stripe_moves_a_subscription_through(app, acme, admin, stripe_billing, customer_of, deliver,
                                                       stored, subscription):
    sub = subscribed(app, stripe_billing, acme, customer_of)
    deliver(stripe_billing.event("customer.subscription.created", sub))
    assert (stored(acme).plan.key, stored(acme).status) == ("pro", "active")

    deliver(*stripe_billing.fail_payment(sub["id"]))  # past_due: a banner and 7 days' grace
    row = stored(acme)
    assert row.status == "past_due" and abs((row.grace_ends_at - days(7)).total_seconds()) < 60
    assert "The last payment failed" in admin.get(f"/{acme.slug}/customers/").text
    assert admin.post(f"/{acme.slug}/customers/", data={"name": "In grace"}).status_code == 303
    deliver(stripe_billing.event("customer.subscription.updated", stripe_billing.objects["subscriptions"][sub["id"]]))
    assert stored(acme).grace_ends_at == row.grace_ends_at  # told again: the grace does not start over

    subscription(acme, grace_ends_at=days(-1))  # the grace is over: read-only
    assert admin.post(f"/{acme.slug}/customers/", data={"name": "Refused"}).status_code == 402
    assert admin.post(f"/{acme.slug}/settings/billing/portal").status_code == 303  # paying stays open

    deliver(*stripe_billing.renew(sub["id"]))  # paid again: writable at once
    assert (stored(acme).status, stored(acme).grace_ends_at) == ("active", None)
    assert admin.post(f"/{acme.slug}/customers/", data={"name": "Paid again"}).status_code == 303

    deliver(*stripe_billing.renew(sub["id"], price=stripe_billing.plan_prices["business", "monthly"]))
    assert stored(acme).plan.key == "business"  # a plan changed in the portal: the price says which

    deliver(*stripe_billing.set_status(sub["id"], "unpaid"))  # Stripe gave up retrying: read-only now
    assert stored(acme).status == "unpaid"
    assert "its payment failed" in admin.post(f"/{acme.slug}/customers/", data={"name": "No"}).text

    deliver(*stripe_billing.renew(sub["id"]))
    deliver(*stripe_billing.cancel(sub["id"], at_period_end=True))  # writable until the period's end
    row = stored(acme)
    period_end = stripe_billing.objects["subscriptions"][sub["id"]]["items"]["data"][0]["current_period_end"]
    assert row.status == "canceled" and int(row.period_ends_at.timestamp()) == period_end
    assert "becomes read-only on" in admin.get(f"/{acme.slug}/customers/").text
    assert admin.post(f"/{acme.slug}/customers/", data={"name": "Before the end"}).status_code == 303

    deliver(*stripe_billing.cancel(sub["id"]))  # ended now
    assert stored(acme).period_ends_at <= utcnow()
    assert admin.post(f"/{acme.slug}/customers/", data={"name": "After"}).status_code == 402
    assert "Choose a plan" in page(admin, acme)  # subscribing again is offered


def test_late_twice_and_out_of_order_events_leave_stripes_state(app, acme, stripe_billing, customer_of, deliver,
                                                                stored):
    old = subscribed(app, stripe_billing, acme, customer_of)
    history = [stripe_billing.event("customer.subscription.created", old)]
    history += stripe_billing.fail_payment(old["id"]) + stripe_billing.cancel(old["id"])
    new = stripe_billing.subscribe(stored(acme).stripe_customer_id, stripe_billing.plan_prices["business", "yearly"])
    history += [stripe_billing.event("customer.subscription.created", new)]
    history += stripe_billing.fail_payment(new["id"]) + stripe_billing.renew(new["id"])

    deliver(*reversed(history + history))  # newest first, each twice
    row = stored(acme)
    assert (row.plan.key, row.status, row.stripe_subscription_id, row.grace_ends_at) == (
        "business", "active", new["id"], None)
    deliver(history[1], history[0])  # the old subscription's failure, very late, again: nothing changes
    assert (stored(acme).status, stored(acme).stripe_subscription_id) == ("active", new["id"])
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(BillingEvent)
                                 .where(BillingEvent.tenant_id == acme.id)) == len(history)
        assert db.session.scalar(select(func.count()).select_from(BillingEvent).where(
            BillingEvent.event_id.in_([event["id"] for event in history]), BillingEvent.handled_at.is_(None))) == 0


def test_the_endpoint_refuses_what_stripe_did_not_sign(app, acme, stripe_billing, customer_of, stored):
    sub = subscribed(app, stripe_billing, acme, customer_of)
    event, client = stripe_billing.event("customer.subscription.created", sub), app.test_client()
    assert post_event(client, WEBHOOK_PATH, event, "whsec_wrong").status_code == 400
    assert post_event(client, WEBHOOK_PATH, event, header="").status_code == 400
    stale = int((utcnow() - timedelta(minutes=10)).timestamp())
    assert post_event(client, WEBHOOK_PATH, event, PLATFORM_WEBHOOK_SECRET, timestamp=stale).status_code == 400
    forged = json.dumps({**event, "id": "evt_forged"})
    assert client.post(WEBHOOK_PATH, data=forged, headers={"Stripe-Signature": "t=1,v1=00"},
                       content_type="application/json").status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(BillingEvent)
                                 .where(BillingEvent.event_id.in_([event["id"], "evt_forged"]))) == 0
    assert stored(acme).status == "trialing"
    app.config["STRIPE_SECRET_KEY"] = ""  # billing off: there is no endpoint
    assert post_event(client, WEBHOOK_PATH, event, PLATFORM_WEBHOOK_SECRET).status_code == 404


def test_stripe_unreachable_at_checkout_is_said_and_nothing_changes(app, acme, admin, stripe_billing, stored):
    from tests.fake_stripe import StripeError

    stripe_billing.fail_next.extend([StripeError(500, "down")] * 3)  # the client's retries too
    answer = choose(admin, acme)
    stripe_billing.fail_next.clear()
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/settings/billing/")
    assert "Stripe could not be reached" in admin.get(answer.headers["Location"]).text
    assert stored(acme).stripe_customer_id is None
    refused = admin.get(choose(admin, acme, "free").headers["Location"]).text
    assert "Choose a plan." in refused  # the free plan has no price: nothing to pay


def test_nightly_reconciliation_repairs_drift_and_reports_it(app, acme, globex, stripe_billing, customer_of, stored,
                                                             subscription, admin):
    from crm.billing.jobs import reconcile_subscriptions

    drifted = subscribed(app, stripe_billing, acme, customer_of)
    agreed = subscribed(app, stripe_billing, globex, customer_of, plan="business")
    subscription(globex, status="active", plan_id=_plan_id(app, "business"), stripe_subscription_id=agreed["id"],
                 period_ends_at=_period_end(agreed), trial_ends_at=None)
    subscription(acme, status="canceled", period_ends_at=days(-3))  # an event was lost: Stripe says active
    with app.app_context():
        repairs = reconcile_subscriptions()
    assert set(repairs) & {acme.id, globex.id} == {acme.id}  # (the database may hold other tests' workspaces)
    assert repairs[acme.id]["status"] == ["canceled", "active"]
    assert (stored(acme).status, stored(acme).stripe_subscription_id) == ("active", drifted["id"])
    with app.app_context():
        action = db.session.scalar(select(OperatorAction).where(OperatorAction.tenant_id == acme.id))
        assert (action.action, action.operator_email) == ("reconcile", "stripe-reconciliation")
        assert db.session.scalar(select(func.count()).select_from(Invoice).where(Invoice.tenant_id == acme.id)) == 1
        assert acme.id not in reconcile_subscriptions()  # nothing left to repair
    assert "FAKE-" in page(admin, acme)


def _plan_id(app, key: str) -> int:
    from crm.billing.models import Plan

    with app.app_context():
        return db.session.scalar(select(Plan.id).where(Plan.key == key))


def _period_end(subscription: dict):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(subscription["items"]["data"][0]["current_period_end"], UTC)


def test_return_address_names_the_checkout(acme, admin, stripe_billing):
    location = choose(admin, acme).headers["Location"]
    session = stripe_billing.objects["checkout.sessions"][location.rsplit("/", 1)[1]]
    assert parse_qs(urlsplit(session["success_url"]).query) == {"checkout": ["done"]}
    assert urlsplit(session["cancel_url"]).path == f"/{acme.slug}/settings/billing/"


def test_sms_past_a_metered_plans_credits_are_sent_and_reported_to_stripe_once_per_batch(
        app, acme, stripe_billing, customer_of, on_plan, in_tenant, run_worker, outbox_rows):
    from crm.billing.metered import report_metered_sms, report_metered_sms_all
    from crm.billing.models import SmsUsageReport
    from crm.notify import outbox
    from tests.fake_stripe import StripeError

    customer = customer_of(acme)
    on_plan(acme, sms_per_month=2, sms_beyond="metered")

    def queue(first: int, count: int):
        def schedule():
            for i in range(first, first + count):
                outbox.schedule(channel="sms", kind="reminder", recipient=f"+86138001380{i:02d}", key=f"metered:{i}",
                                member_id=acme.admin_member_id, payload={"customer": "王芳", "due": "09:30"})
        in_tenant(acme, schedule)
        run_worker()

    queue(0, 5)
    assert [row[2] for row in outbox_rows(acme)] == ["sent"] * 5  # past the credits, sent: the plan meters
    with app.app_context():
        assert report_metered_sms_all() >= 1
        assert report_metered_sms(acme.id) == 3 and stripe_billing.metered(customer) == 3
        assert report_metered_sms(acme.id) == 0 and stripe_billing.metered(customer) == 3  # nothing new

    queue(5, 2)
    stripe_billing.fail_next.extend([StripeError(500, "down")] * 3)  # the call and the client's retries
    with app.app_context():
        assert report_metered_sms(acme.id) == 0  # kept for the next run
    stripe_billing.fail_next.clear()
    with app.app_context():
        assert report_metered_sms(acme.id) == 2
        batches = db.session.execute(select(SmsUsageReport.identifier, SmsUsageReport.quantity,
                                            SmsUsageReport.reported_at.is_not(None))
                                     .where(SmsUsageReport.tenant_id == acme.id).order_by(SmsUsageReport.id)).all()
    assert [(quantity, reported) for _, quantity, reported in batches] == [(3, True), (2, True)]
    assert stripe_billing.metered(customer) == 5
    assert sorted(stripe_billing.objects["billing.meter_events"]) == sorted(identifier for identifier, _, _ in batches)


def test_the_operator_console_shows_a_workspaces_billing_events_and_reconciliations(
        app, acme, operator, client_as, stripe_billing, customer_of, deliver, subscription):
    from crm.billing.jobs import reconcile_subscriptions

    sub = subscribed(app, stripe_billing, acme, customer_of)
    created = stripe_billing.event("customer.subscription.created", sub)
    deliver(created)
    subscription(acme, status="past_due")  # drift the reconciliation repairs
    with app.app_context():
        reconcile_subscriptions()
    console = client_as(operator)
    shown = console.get(f"/platform/tenants/{acme.id}").text
    listed = shown[shown.index('id="billing-events"'):]
    assert "customer.subscription.created" in listed and created["id"] in listed
    assert "stripe-reconciliation · reconcile" in shown[shown.index('id="operator-actions"'):]
