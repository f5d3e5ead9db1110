"""An order's paid state (what its payments minus refunds cover of the total), what is left to pay, and whether
the customer is offered Pay. The orders feature reads these (list filter, public page, order message), so this
module imports nothing of payments but its settings."""
from decimal import Decimal

from crm.orders.models import Order
from crm.orders.status_link import link_token, new_link
from crm.payments import settings
from crm.payments.stripe_api import checkout_origin
from crm.security.headers import csp_with_form_action
from crm.web import absolute_url

UNPAYABLE = ("cancelled", "refunded", "partially_refunded")  # statuses whose balance nobody is asked to pay
STATES = ("unpaid", "partly_paid", "paid")


def payment_state(order: Order) -> str:
    """unpaid, partly_paid or paid."""
    if order.paid_amount <= 0:
        return "unpaid"
    return "paid" if order.paid_amount >= order.total else "partly_paid"


def state_condition(state: str):
    """The SQL condition of orders in a payment state (the orders list's filter: the same rule as above)."""
    return {"unpaid": Order.paid_amount <= 0,
            "partly_paid": (Order.paid_amount > 0) & (Order.paid_amount < Order.total),
            "paid": (Order.paid_amount > 0) & (Order.paid_amount >= Order.total)}[state]


def balance(order: Order) -> Decimal:
    """What is left to pay."""
    return max(order.total - order.paid_amount, Decimal("0.00"))


def can_pay(order: Order) -> bool:
    """Whether the customer is offered Pay: payments set up, something to pay, an order still going."""
    return order.status not in UNPAYABLE and balance(order) > 0 and settings.is_set_up()


def pay_url(order: Order) -> str:
    """The signed page where the customer pays the order (the order message's pay link); "" when there is
    nothing to pay online."""
    if not can_pay(order):
        return ""
    if not order.link_nonce:
        new_link(order)
    return absolute_url("order_payment.pay", token=link_token(order))


def public_view(order: Order) -> dict | None:
    """What the order's public page shows about paying: None when the workspace takes no payments and nothing was
    paid (the page stays as it was), else the state, the amounts and whether to offer Pay."""
    if not settings.is_set_up() and order.paid_amount <= 0:
        return None
    return {"state": payment_state(order), "paid": order.paid_amount, "balance": balance(order),
            "total": order.total, "currency": order.currency, "can_pay": can_pay(order)}


def allow_checkout(response):
    """Let a page's Pay form lead on to Stripe's Checkout page (the app's policy allows forms to itself only)."""
    response.headers["Content-Security-Policy"] = csp_with_form_action(checkout_origin())
    return response
