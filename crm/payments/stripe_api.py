"""The one way to Stripe: a client for a key at STRIPE_API_BASE, amounts in Stripe's minor units, which payment
methods Checkout is offered for a currency, and the webhook receiver's two steps that order payments (a workspace's
account) and billing (the platform's account) share: the signature check and storing each event once."""
from decimal import Decimal

import stripe
from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from crm.extensions import db, utcnow

DEFAULT_API_BASE = "https://api.stripe.com"
TOLERANCE_SECONDS = 300  # Stripe's own default: a signature older than this is a replay
# Stripe counts most currencies in cents, these in whole units ("zero-decimal currencies", Stripe's docs).
ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
                          "XAF", "XOF", "XPF"})
# Three-decimal currencies must be sent as multiples of 10 thousandths; orders keep two decimals, so it fits.
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
# Decision: besides card, Alipay and WeChat Pay are offered for the currencies Stripe lists them under (Stripe's
# docs, "Alipay payments" and "WeChat Pay payments", as of 2026-12). The account's own country narrows this
# further; a method the account has not turned on is dropped when Stripe refuses it (service.start_checkout).
ALIPAY_CURRENCIES = frozenset({"AUD", "CAD", "CNY", "EUR", "GBP", "HKD", "JPY", "MYR", "NZD", "SGD", "USD"})
WECHAT_PAY_CURRENCIES = frozenset({"AUD", "CAD", "CHF", "CNY", "DKK", "EUR", "GBP", "HKD", "JPY", "NOK", "SEK",
                                   "SGD", "USD"})


def client(api_key: str) -> stripe.StripeClient:
    """A Stripe client acting with `api_key`; network failures are retried twice (Stripe's idempotency keys make
    a retried POST safe)."""
    return stripe.StripeClient(api_key, base_addresses={"api": current_app.config["STRIPE_API_BASE"]},
                               max_network_retries=2)


def checkout_origin() -> str:
    """Where Stripe's hosted Checkout pages are: checkout.stripe.com, or the API's own origin when STRIPE_API_BASE
    points elsewhere (the local fake serves its Checkout pages itself)."""
    base = current_app.config["STRIPE_API_BASE"].rstrip("/")
    return "https://checkout.stripe.com" if base == DEFAULT_API_BASE else base


def payment_methods(currency: str) -> list[str]:
    """The payment method types Checkout offers for an order in `currency`."""
    methods = ["card"]
    if currency.upper() in ALIPAY_CURRENCIES:
        methods.append("alipay")
    if currency.upper() in WECHAT_PAY_CURRENCIES:
        methods.append("wechat_pay")
    return methods


def _exponent(currency: str) -> int:
    code = currency.upper()
    return 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2


def to_minor(amount: Decimal, currency: str) -> int:
    """An amount as Stripe counts it (¥12.34 CNY -> 1234; ¥1234 JPY -> 1234)."""
    return int((amount * (10 ** _exponent(currency))).to_integral_value())


def from_minor(amount: int, currency: str) -> Decimal:
    """Stripe's count of an amount back as money with two decimals."""
    return (Decimal(amount) / (10 ** _exponent(currency))).quantize(Decimal("0.01"))


class Refused(Exception):
    """A webhook delivery that is not from the Stripe account (no, a wrong or a stale signature)."""


def verified_event(payload: bytes, signature: str | None, secret: str) -> stripe.Event:
    """The event in `payload` when `signature` is Stripe's for it under `secret` (the `stripe` library's check)."""
    if not secret:
        raise Refused("no webhook secret is set")
    if not signature:
        raise Refused("no Stripe-Signature header")
    try:
        return stripe.Webhook.construct_event(payload.decode("utf-8"), signature, secret, TOLERANCE_SECONDS)
    except (ValueError, UnicodeDecodeError, stripe.SignatureVerificationError) as error:
        raise Refused(str(error)) from error


def store_once(model, event: stripe.Event):
    """Insert the event into `model`'s table unless its id is there (a unique constraint); returns the stored row
    when it still needs handling (new, or an earlier delivery's job has not finished), else None."""
    row_id = db.session.scalar(
        insert(model).values(event_id=event.id, type=event.type, object_id=str(event.data.object.id),
                             received_at=utcnow())
        .on_conflict_do_nothing(index_elements=["event_id"]).returning(model.id))
    stored = db.session.scalar(select(model).where(model.event_id == event.id))
    return stored if row_id is not None or stored.handled_at is None else None
