"""Order payments: Checkout for an order's balance, recording payments and refunds once (by
their Stripe ids), and refunds started in the CRM.

Every recording re-reads the object from Stripe and inserts it under its unique Stripe id with the order's row
locked, then works the paid amount out again from the rows: an event that comes twice, late or out of order
adds nothing and changes nothing wrongly."""
from decimal import Decimal

import stripe
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import case, func, select
from sqlalchemy.dialects.postgresql import insert

from crm import validation
from crm.audit.service import record
from crm.contacts import service as contacts
from crm.errors import Invalid
from crm.extensions import db
from crm.formatting import money
from crm.members.models import Member
from crm.notify import outbox
from crm.orders import messages
from crm.orders.models import Order
from crm.orders.status_link import link_token, new_link
from crm.payments import settings
from crm.payments.models import Payment
from crm.payments.state import balance, can_pay, payment_state
from crm.payments.stripe_api import from_minor, payment_methods, to_minor
from crm.timeline.service import in_both_languages, log
from crm.validation import record_id
from crm.web import absolute_url
from crm.webhooks import events as webhooks
from tenants.binding import current_tenant


class PaymentUnavailable(Exception):
    """Stripe could not start a payment now (not reachable, or it refused): the customer may try again."""


def _refresh_paid(order: Order) -> None:
    signed = case((Payment.kind == "payment", Payment.amount), else_=-Payment.amount)
    order.paid_amount = db.session.scalar(
        select(func.coalesce(func.sum(signed), 0)).where(Payment.order_id == order.id))


def _locked_order(order_id: int | None) -> Order | None:
    if order_id is None:
        return None
    return db.session.scalar(select(Order).where(Order.id == order_id).with_for_update(of=Order))


# --- paying -----------------------------------------------------------------------------------------------

def start_checkout(order: Order) -> str:
    """A Stripe Checkout Session (payment mode) for the order's balance in its currency; its page's address."""
    if not can_pay(order):
        raise Invalid({"pay": _("There is nothing to pay on this order.")})
    token = link_token(order) or link_token(new_link(order))
    back = absolute_url("order_status.show", token=token)
    tenant_id, amount = current_tenant().id, balance(order)
    metadata = {"tenant_id": str(tenant_id), "order_id": str(order.id), "order_number": order.number}
    params = {
        "mode": "payment", "client_reference_id": str(order.id), "metadata": metadata,
        "payment_intent_data": {"metadata": metadata, "description": f"{current_tenant().name} {order.number}"},
        "line_items": [{"quantity": 1, "price_data": {
            "currency": order.currency.lower(), "unit_amount": to_minor(amount, order.currency),
            "product_data": {"name": order.number}}}],
        "success_url": f"{back}?paid=1", "cancel_url": back,
    }
    methods = payment_methods(order.currency)
    try:
        return _create_session(params, methods).url
    except (stripe.StripeError, settings.NotSetUp) as error:
        raise PaymentUnavailable(str(error)) from error


def _create_session(params: dict, methods: list[str]):
    api = settings.api_client()
    options = {"wechat_pay": {"client": "web"}} if "wechat_pay" in methods else {}
    try:
        return api.v1.checkout.sessions.create(params={**params, "payment_method_types": methods,
                                                       **({"payment_method_options": options} if options else {})})
    except stripe.InvalidRequestError as error:
        # An account that has not turned Alipay or WeChat Pay on refuses them: the customer can still pay by card.
        if methods == ["card"] or not str(error.param or "").startswith("payment_method_types"):
            raise
        return api.v1.checkout.sessions.create(params={**params, "payment_method_types": ["card"]})


# --- recording what Stripe holds --------------------------------------------------------------------------

def record_checkout(session_id: str) -> Payment | None:
    """Record the payment of a Checkout Session, read again from Stripe (nothing while it is not paid)."""
    session = settings.api_client().v1.checkout.sessions.retrieve(session_id)
    if session.mode != "payment" or session.payment_status != "paid" or not session.payment_intent:
        return None
    return record_payment_intent(str(session.payment_intent), session_id)


def record_payment_intent(intent_id: str, session_id: str | None = None) -> Payment | None:
    """Record a succeeded payment intent of one of this workspace's orders, once; None when there is nothing new."""
    intent = settings.api_client().v1.payment_intents.retrieve(intent_id, params={"expand": ["latest_charge"]})
    metadata = intent.metadata.to_dict() if intent.metadata else {}
    if intent.status != "succeeded" or metadata.get("tenant_id") != str(current_tenant().id):
        return None  # not paid yet, or another workspace's payment made with the same Stripe account
    order = _locked_order(record_id(metadata.get("order_id")))
    if order is None:
        return None
    charge = intent.latest_charge
    method = charge.payment_method_details.type if charge and not isinstance(charge, str) else "card"
    payment = _insert(order, kind="payment", stripe_id=intent.id, payment_intent=intent.id,
                      amount=from_minor(intent.amount_received, intent.currency), currency=intent.currency.upper(),
                      method=method, checkout_session=session_id)
    if payment is not None:
        _tell(order, payment)
    return payment


def record_refunds(intent_id: str) -> list[Payment]:
    """Record every succeeded refund of a payment intent that is not recorded yet (refunds made in Stripe's
    dashboard too)."""
    paid = db.session.scalar(select(Payment).where(Payment.stripe_id == intent_id, Payment.kind == "payment"))
    if paid is None:  # the refund's event came before the payment's: the payment is recorded first
        paid = record_payment_intent(intent_id)
        if paid is None:
            return []  # not one of this workspace's payments
    refunds = settings.api_client().v1.refunds.list(params={"payment_intent": intent_id, "limit": 100})
    order, recorded = _locked_order(paid.order_id), []
    for refund in refunds.data:
        if refund.status != "succeeded":
            continue
        row = _insert(order, kind="refund", stripe_id=refund.id, payment_intent=intent_id,
                      amount=from_minor(refund.amount, refund.currency), currency=refund.currency.upper(),
                      method=paid.method, reason=refund.metadata.to_dict().get("reason") if refund.metadata else None)
        if row is not None:
            recorded.append(row)
            _tell(order, row)
    return recorded


def _insert(order: Order, actor: Member | None = None, **values) -> Payment | None:
    """Insert a payment or refund unless its Stripe id is recorded already; the order's paid amount follows."""
    new_id = db.session.scalar(insert(Payment).values(order_id=order.id, actor_name=actor.name if actor else "",
                                                      created_at=func.now(), **values)
                               .on_conflict_do_nothing(index_elements=["stripe_id"]).returning(Payment.id))
    if new_id is None:
        return None
    before = order.paid_amount
    _refresh_paid(order)
    payment = db.session.get(Payment, new_id)
    shown = in_both_languages(lambda: money(payment.amount, payment.currency))
    log("order_paid" if payment.kind == "payment" else "order_refunded_online", customer_id=order.customer_id,
        link=("orders.show", {"order_id": order.id}), actor=actor, number=order.number, amount=shown)
    record("update", "order", order.id, summary=order.number, actor=actor,
           changes={"paid_amount": [str(before), str(order.paid_amount)]})
    if payment.kind == "payment":  # each payment recorded, a part one too: the order carries what is paid so far
        webhooks.emit("order.paid", order)
    return payment


def _tell(order: Order, payment: Payment) -> None:
    """Tell the customer (their usual channel, the workspace's language) that a payment or refund arrived."""
    to = messages.destination(order.customer, contacts.contact_of(order))
    if to is None:
        return
    language = messages.customer_language()
    with force_locale("zh_Hans_CN" if language == "zh" else "en"):
        amount = money(payment.amount, payment.currency)
        label = _("paid (%(amount)s)", amount=amount) if payment.kind == "payment" else \
            _("refunded (%(amount)s)", amount=amount)
    token = link_token(order) or link_token(new_link(order))
    outbox.schedule(channel=to[0], kind="order_status", recipient=to[1], customer_id=order.customer_id,
                    key=f"order:{order.id}:{payment.kind}:{payment.stripe_id}", source=f"order:{order.id}",
                    language=language,
                    payload={"customer": to.name, "company": current_tenant().name,
                             "number": order.number, "status": label, "pay_link": "",
                             "link": absolute_url("order_status.show", token=token)})


# --- refunds started in the CRM ---------------------------------------------------------------------------

def payments_of(order: Order) -> list[Payment]:
    return list(db.session.scalars(select(Payment).where(Payment.order_id == order.id).order_by(Payment.id)))


def refundable(rows: list[Payment]) -> dict[int, Decimal]:
    """{payment id: what is left to refund of it} for the payments among an order's `rows` with something left."""
    left = {}
    for payment in rows:
        if payment.kind == "payment":
            given_back = sum((r.amount for r in rows if r.kind == "refund" and r.payment_intent == payment.stripe_id),
                             Decimal("0.00"))
            if payment.amount > given_back:
                left[payment.id] = payment.amount - given_back
    return left


def order_card(order: Order) -> dict:
    """What the order page's Payments card shows (nothing when payments were never set up or used)."""
    rows = payments_of(order)
    return {"payments": rows, "refundable": refundable(rows),
            "payment_state": payment_state(order), "payments_on": settings.is_set_up() or bool(rows)}


def refund(viewer: Member, order: Order, data: dict) -> Payment | None:
    """Give back (part of) one payment through Stripe with a reason; recorded at once when Stripe has made it
    (a refund Stripe leaves pending is recorded by its webhook event). Returns the refund, or None if pending."""
    left = refundable(payments_of(order))
    errors = {}
    payment_id = record_id(data.get("payment_id"))
    if payment_id not in left:
        errors["payment_id"] = _("Choose a payment that has something left to refund.")
    amount = validation.collect(errors, validation.money, data.get("amount"), "amount", required=True)
    reason = validation.collect(errors, validation.text, data.get("reason"), "reason", 500,
                                required=_("Say why the money is given back."))
    if not errors and amount <= 0:
        errors["amount"] = _("Enter an amount above zero.")
    elif not errors and amount > left[payment_id]:
        errors["amount"] = _("At most %(amount)s is left to refund of this payment.",
                             amount=money(left[payment_id], order.currency))
    if errors:
        raise Invalid(errors)
    payment = db.session.get(Payment, payment_id)
    try:
        made = settings.api_client().v1.refunds.create(params={
            "payment_intent": payment.stripe_id, "amount": to_minor(amount, payment.currency),
            "metadata": {"tenant_id": str(current_tenant().id), "order_id": str(order.id), "reason": reason}})
    except (stripe.StripeError, settings.NotSetUp) as error:
        message = getattr(error, "user_message", None) or str(error) or type(error).__name__
        raise Invalid({"amount": _("Stripe did not make the refund: %(error)s", error=message)}) from error
    if made.status != "succeeded":
        return None
    row = _insert(order, actor=viewer, kind="refund", stripe_id=made.id, payment_intent=payment.stripe_id,
                  amount=from_minor(made.amount, made.currency), currency=made.currency.upper(),
                  method=payment.method, reason=reason)
    if row is not None:
        _tell(order, row)
    return row
