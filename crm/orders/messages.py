"""Order news for the end customer: when an order is shipped or received, a refund is asked for, made (with its
amount) or declined, a message by the customer's preferred channel with the order's signed status link, written
with the move itself."""
from datetime import datetime
from typing import NamedTuple

from flask_babel import force_locale

from crm.contacts import service as contacts
from crm.contacts.models import Contact
from crm.customers.models import Customer
from crm.formatting import money
from crm.notify import outbox
from crm.orders.forms import NEWS_LABELS
from crm.orders.models import Order, OrderStatusChange
from crm.orders.status_link import link_token, new_link
from crm.payments.state import pay_url
from crm.settings import workspace_language
from crm.web import absolute_url
from tenants.binding import current_tenant

NEWS = ("shipped", "received", "refund_requested", "refunded", "partially_refunded", "refund_declined")


def customer_language() -> str:
    """Customers hear in the workspace's language (Settings > Workspace)."""
    return workspace_language()


class Addressee(NamedTuple):
    channel: str
    address: str
    name: str  # whom the message greets: the contact written to, else the customer


def destination(customer: Customer, contact: Contact | None = None) -> Addressee | None:
    """The channel and address by the customer's preference, else the other one they have; None without either.
    The record's contact (who ordered, who asked) is written to instead, when they have a mobile or an email."""
    person, addresses = customer, {"sms": customer.phone, "email": customer.email}
    if contact is not None and (contact.mobile or contact.email):
        person, addresses = contact, {"sms": contact.mobile, "email": contact.email}
    for channel in (customer.preferred_channel, "sms", "email"):
        if addresses.get(channel):
            return Addressee(channel, addresses[channel], person.name)
    return None


def news(change: OrderStatusChange) -> str:
    """What a move tells the customer: the new status, or that their refund was declined."""
    return "refund_declined" if change.declined else change.to_status


def tell_customer(order: Order, change: OrderStatusChange) -> None:
    """Queue the message for the move `change` (only the moves a customer cares about)."""
    what = news(change)
    if what not in NEWS:
        return
    to = destination(order.customer, contacts.contact_of(order))
    if to is None:
        return
    if not order.link_nonce:
        new_link(order)  # the message is useless without a way to follow the order
    language = customer_language()
    with force_locale("zh_Hans_CN" if language == "zh" else "en"):
        label = str(NEWS_LABELS[what])
        if change.amount is not None:
            label = f"{label} ({money(change.amount, order.currency)})"
    link = absolute_url("order_status.show", token=link_token(order))
    # Keyed by the move: a refund may be asked for again after one was declined, and each is news.
    outbox.schedule(channel=to[0], kind="order_status", recipient=to[1], customer_id=order.customer_id,
                    key=f"order:{order.id}:{what}:{change.id}", source=f"order:{order.id}", language=language,
                    payload={"customer": to.name, "company": current_tenant().name, "number": order.number,
                             "status": label, "link": link, "pay_link": pay_url(order)})


def held_until(order: Order) -> datetime | None:
    """When the order's first message that quiet hours hold goes out; None when none is held."""
    return outbox.held_until(f"order:{order.id}")
