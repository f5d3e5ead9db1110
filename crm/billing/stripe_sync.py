"""Billing through the platform's own Stripe account (STRIPE_SECRET_KEY): Checkout for a workspace's first
subscription, the Billing Portal for the rest, and keeping `public.subscriptions` in Stripe's state.

The protocol: the state is never taken from a redirect or from an event's snapshot. Each webhook event is stored
once (`billing_events.event_id` unique, the same `store_once` order payments use) and handled by a job that finds
the workspace (by the Stripe customer the CRM made for it), locks its subscription row, lists the customer's
subscriptions from Stripe *then*, and writes what the current one says (`apply`). So an event that comes twice,
late or out of order only makes the job read Stripe again; the last job to take the lock reads the newest state.
The nightly `reconcile` does the same for every paying workspace and reports what it had to repair."""
import logging
from datetime import UTC, datetime, timedelta

import stripe
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert

from crm.billing import service
from crm.billing.models import BillingEvent, Invoice, Plan, Subscription
from crm.billing.sms import release_held_sms
from crm.errors import Invalid
from crm.extensions import db, utcnow
from crm.jobs import enqueue_after_commit
from crm.payments.stripe_api import DEFAULT_API_BASE, checkout_origin, client, from_minor, store_once, verified_event
from crm.web import absolute_url
from tenants.binding import current_tenant

log = logging.getLogger(__name__)

# Stripe's statuses in which the subscription is the workspace's current one, best first.
LIVE = ("active", "trialing", "past_due", "unpaid", "paused")
# A first payment that never completed: no subscription yet as far as the plan goes.
NEVER_STARTED = ("incomplete", "incomplete_expired")
# The events worth a look; anything else is stored and marked handled.
EVENTS = ("checkout.session.completed", "customer.subscription.created", "customer.subscription.updated",
          "customer.subscription.deleted", "customer.subscription.paused", "customer.subscription.resumed",
          "invoice.paid", "invoice.payment_failed", "invoice.finalized", "invoice.updated", "invoice.voided",
          "invoice.marked_uncollectible")
INVOICES_KEPT = 24  # the newest invoices the reconciliation reads back per workspace


def api() -> stripe.StripeClient:
    return client(current_app.config["STRIPE_SECRET_KEY"])


def hosted_origins() -> str:
    """Where Stripe's Checkout and Billing Portal pages are (the local fake serves both itself)."""
    base = current_app.config["STRIPE_API_BASE"].rstrip("/")
    return "https://checkout.stripe.com https://billing.stripe.com" if base == DEFAULT_API_BASE else checkout_origin()


def _stripe_down(error: stripe.StripeError) -> Invalid:
    log.warning("stripe refused a billing call: %s", error)
    return Invalid({"plan": _("Stripe could not be reached. Try again in a moment.")})


# --- Checkout and the portal (a tenant admin, the workspace bound) ----------------------------------------

def paid_plans() -> list[Plan]:
    """The public plans a workspace may subscribe to: those with a Stripe price."""
    return [plan for plan in service.plans()
            if plan.public and (plan.stripe_price_monthly or plan.stripe_price_yearly)]


def has_live_subscription() -> bool:
    """Whether the workspace pays through Stripe now, a cancelled period not over included (then the portal, where
    it may also renew, changes the plan; Checkout would make a second subscription)."""
    row = db.session.get(Subscription, current_tenant().id)
    return bool(row.stripe_subscription_id) and (row.status != "canceled" or (
        row.period_ends_at is not None and row.period_ends_at > utcnow()))


def start_checkout(plan_key: str, interval: str) -> str:
    """A Checkout Session (subscription mode) for the plan's monthly or yearly price; its page's address."""
    plan = next((p for p in paid_plans() if p.key == plan_key), None)
    price = plan and (plan.stripe_price_yearly if interval == "yearly" else plan.stripe_price_monthly)
    if not price:
        raise Invalid({"plan": _("Choose a plan.")})
    if has_live_subscription():
        raise Invalid({"plan": _("The workspace already has a subscription: change it with Manage billing.")})
    tenant_id = str(current_tenant().id)
    try:
        session = api().v1.checkout.sessions.create(params={
            "mode": "subscription", "customer": customer_id(), "client_reference_id": tenant_id,
            "line_items": [{"price": price, "quantity": 1}] + (  # a metered price takes no quantity
                [{"price": plan.stripe_price_metered}] if plan.stripe_price_metered else []),
            "metadata": {"tenant_id": tenant_id},
            "subscription_data": {"metadata": {"tenant_id": tenant_id}},
            "success_url": absolute_url("billing.index", checkout="done"), "cancel_url": absolute_url("billing.index"),
        })
    except stripe.StripeError as error:
        raise _stripe_down(error) from error
    return session.url


def portal_url() -> str:
    """A Billing Portal session for the workspace's Stripe customer (card, invoices, plan changes, cancelling)."""
    row = db.session.get(Subscription, current_tenant().id)
    if not row.stripe_customer_id:
        raise Invalid({"plan": _("Choose a plan first.")})
    try:
        return api().v1.billing_portal.sessions.create(params={
            "customer": row.stripe_customer_id, "return_url": absolute_url("billing.index")}).url
    except stripe.StripeError as error:
        raise _stripe_down(error) from error


def customer_id() -> str:
    """The workspace's Stripe customer, made the first time. public.subscriptions is the platform's: the id is
    written on a connection of its own (the tenant's role may only read it) and kept even if Checkout is left."""
    tenant = current_tenant()
    row = db.session.get(Subscription, tenant.id)
    if row.stripe_customer_id:
        return row.stripe_customer_id
    made = api().v1.customers.create(params={"name": tenant.name, "metadata": {"tenant_id": str(tenant.id)}},
                                     options={"idempotency_key": f"crm-workspace-customer-{tenant.id}"})
    with db.engine.begin() as connection:
        connection.execute(update(Subscription).where(Subscription.tenant_id == tenant.id,
                                                      Subscription.stripe_customer_id.is_(None))
                           .values(stripe_customer_id=made.id))
        return connection.scalar(select(Subscription.stripe_customer_id).where(Subscription.tenant_id == tenant.id))


def waiting_for_stripe() -> bool:
    """Back from Checkout: whether Stripe's word (the webhook) has not been applied yet."""
    row = db.session.get(Subscription, current_tenant().id)
    return not (row.stripe_subscription_id and row.status in ("active", "trialing"))


def invoices(tenant_id: int, limit: int = 12) -> list[Invoice]:
    return list(db.session.scalars(select(Invoice).where(Invoice.tenant_id == tenant_id)
                                   .order_by(Invoice.created_at.desc()).limit(limit)))


# --- the platform's webhook endpoint and its job ----------------------------------------------------------

def receive(payload: bytes, signature: str | None) -> None:
    """Check and store one delivery; its job is queued after the commit (again for a repeat not handled yet)."""
    event = verified_event(payload, signature, current_app.config["STRIPE_WEBHOOK_SECRET"])
    stored = store_once(BillingEvent, event)
    if stored is not None:
        from crm.billing.jobs import RETRIES, handle_billing_event

        enqueue_after_commit(handle_billing_event, stored.id, queue_name="webhooks", retry=RETRIES)


def handle(event_row_id: int) -> None:
    """Apply one stored event: read its object again from Stripe, find the workspace, sync it with Stripe."""
    event = db.session.scalar(select(BillingEvent).where(BillingEvent.id == event_row_id).with_for_update())
    if event is None or event.handled_at is not None:
        return
    if event.type in EVENTS:
        event.tenant_id = _apply_event(event)
    event.handled_at, event.error = utcnow(), None


def _apply_event(event: BillingEvent) -> int | None:
    customer, reference, invoice = _customer_of(event.object_id)
    tenant_id = tenant_of(customer, reference)
    if tenant_id is None:
        log.warning("billing event %s names no workspace (customer %s)", event.event_id, customer)
        return None
    sync(tenant_id)
    if invoice is not None:
        store_invoice(tenant_id, invoice)
    return tenant_id


def _customer_of(object_id: str) -> tuple[str | None, str | None, dict | None]:
    """(customer, the workspace a Checkout names, the invoice) of the event's object, read from Stripe now."""
    if object_id.startswith("cs_"):
        session = api().v1.checkout.sessions.retrieve(object_id).to_dict()
        return session.get("customer"), session.get("client_reference_id"), None
    if object_id.startswith("sub_"):
        return api().v1.subscriptions.retrieve(object_id).customer, None, None
    if object_id.startswith("in_"):
        invoice = api().v1.invoices.retrieve(object_id).to_dict()
        return invoice.get("customer"), None, invoice
    return None, None, None


def tenant_of(customer: str | None, reference: str | None = None) -> int | None:
    """The workspace of a Stripe customer the CRM made; a Checkout's reference adopts a customer not stored yet."""
    if not customer:
        return None
    found = db.session.scalar(select(Subscription.tenant_id).where(Subscription.stripe_customer_id == customer))
    if found is None and reference and reference.isdigit():
        found = db.session.scalar(update(Subscription).where(Subscription.tenant_id == int(reference),
                                                             Subscription.stripe_customer_id.is_(None))
                                  .values(stripe_customer_id=customer).returning(Subscription.tenant_id))
    return found


# --- the state: Stripe's current subscription, written into public.subscriptions -------------------------

def sync(tenant_id: int) -> dict:
    """Lock the workspace's subscription row, read its customer's subscriptions from Stripe and apply the current
    one; returns what changed ({column: [before, after]}), empty when it already agreed."""
    row = service.subscription_of(tenant_id)
    if not row.stripe_customer_id:
        return {}
    listed = api().v1.subscriptions.list(params={"customer": row.stripe_customer_id, "status": "all",
                                                 "limit": 100})
    current = current_subscription([item.to_dict() for item in listed.data])
    return apply(row, current) if current is not None else {}


def current_subscription(subscriptions: list[dict]) -> dict | None:
    """The one that decides the plan: a live one (the newest), else the newest that ended; None when none started."""
    started = [s for s in subscriptions if s["status"] not in NEVER_STARTED]
    live = [s for s in started if s["status"] in LIVE]
    return max(live or started, key=lambda s: s["created"], default=None)


def apply(row: Subscription, subscription: dict) -> dict:
    """Write Stripe's subscription into the stored state; the plan follows its price (an unknown price keeps the
    plan, logged). Decisions: cancelled at the period's end is `canceled` with that end (writable until then, the
    banner says when); `paused` (a Stripe trial ended without a card) is `unpaid`: read-only until paid."""
    items = subscription["items"]["data"]
    plans = [plan_for_price(item["price"]["id"]) for item in items]  # the metered SMS item names no plan
    item, plan = next(((i, p) for i, p in zip(items, plans) if p is not None), (items[0], None))
    if plan is None:
        log.warning("stripe price %s of %s is no plan's: the plan is kept", item["price"]["id"], subscription["id"])
        plan = row.plan
    status, period_end = subscription["status"], _time(item.get("current_period_end")
                                                        or subscription.get("current_period_end"))
    if status == "paused":
        status = "unpaid"
    if status == "active" and subscription.get("cancel_at_period_end"):
        status = "canceled"
    if status == "canceled":
        period_end = _time(subscription.get("ended_at")) or period_end
    grace = None
    if status == "past_due":  # the grace runs from when the CRM first heard of the failure; a repeat keeps it
        grace = row.grace_ends_at if row.status == "past_due" and row.grace_ends_at else (
            utcnow() + timedelta(days=current_app.config["BILLING_GRACE_DAYS"]))
    wanted = {"plan_id": plan.id, "status": status, "period_ends_at": period_end, "grace_ends_at": grace,
              "trial_ends_at": _time(subscription.get("trial_end")) if status == "trialing" else None,
              "stripe_subscription_id": subscription["id"]}
    changes = {name: [_shown(getattr(row, name)), _shown(value)] for name, value in wanted.items()
               if getattr(row, name) != value}
    if changes:
        for name, value in wanted.items():
            setattr(row, name, value)
        row.updated_at = utcnow()
        db.session.flush()
        service.forget_standing()
    if "plan_id" in changes:  # SMS the old plan held may fit the new one
        enqueue_after_commit(release_held_sms, row.tenant_id, queue_name="notify")
    return changes


def plan_for_price(price_id: str) -> Plan | None:
    return db.session.scalar(select(Plan).where(or_(Plan.stripe_price_monthly == price_id,
                                                    Plan.stripe_price_yearly == price_id)))


def _time(stamp: int | None) -> datetime | None:
    return datetime.fromtimestamp(stamp, UTC) if stamp else None


def _shown(value):
    return value.isoformat() if isinstance(value, datetime) else value


def store_invoice(tenant_id: int, invoice: dict) -> None:
    """Keep (or bring up to date) the workspace's copy of a Stripe invoice."""
    currency = invoice["currency"].upper()
    values = {"number": invoice.get("number"), "status": invoice["status"], "currency": currency,
              "total": from_minor(invoice["total"], currency), "amount_paid": from_minor(invoice["amount_paid"],
                                                                                         currency),
              "hosted_invoice_url": invoice.get("hosted_invoice_url"), "created_at": _time(invoice["created"])}
    db.session.execute(insert(Invoice).values(tenant_id=tenant_id, stripe_id=invoice["id"], **values)
                       .on_conflict_do_update(index_elements=["stripe_id"], set_=values))


# --- the nightly reconciliation ----------------------------------------------------------------------------

def paying_tenants() -> list[int]:
    """Workspaces with a Stripe customer (whatever their state: a cancelled one may have paid again)."""
    return list(db.session.scalars(select(Subscription.tenant_id).where(Subscription.stripe_customer_id.is_not(None))
                                   .order_by(Subscription.tenant_id)))


def reconcile_one(tenant_id: int) -> dict:
    """Bring one workspace's state and invoices in line with Stripe; returns what had drifted."""
    changes = sync(tenant_id)
    row = db.session.get(Subscription, tenant_id)
    listed = api().v1.invoices.list(params={"customer": row.stripe_customer_id, "limit": INVOICES_KEPT})
    for invoice in listed.data:
        store_invoice(tenant_id, invoice.to_dict())
    return changes
