"""Order news for the end customer: when an order is shipped, received or refunded, a message by the
customer's preferred channel with the order's signed status link, written with the move itself."""
from flask import current_app
from flask_babel import force_locale

from crm.customers.models import Customer
from crm.notify import outbox
from crm.orders.forms import STATUS_LABELS
from crm.orders.models import Order
from crm.orders.status_link import link_token, new_link
from crm.settings import workspace_language
from tenants.binding import current_tenant

NEWS = ("shipped", "received", "refunded")


def customer_language() -> str:
    """Customers hear in the workspace's language (Settings > Workspace)."""
    return workspace_language()


def destination(customer: Customer) -> tuple[str, str] | None:
    """(channel, address) by the customer's preference, else the other one they have; None without either."""
    addresses = {"sms": customer.phone, "email": customer.email}
    for channel in (customer.preferred_channel, "sms", "email"):
        if addresses.get(channel):
            return channel, addresses[channel]
    return None


def tell_customer(order: Order, status: str) -> None:
    """Queue the order-status message for `status` (only the moves a customer cares about)."""
    if status not in NEWS:
        return
    to = destination(order.customer)
    if to is None:
        return
    if not order.link_nonce:
        new_link(order)  # the message is useless without a way to follow the order
    language = customer_language()
    with force_locale("zh_Hans_CN" if language == "zh" else "en"):
        label = str(STATUS_LABELS[status])
    link = f'{current_app.config["BASE_URL"].rstrip("/")}/o/{link_token(order)}'
    outbox.schedule(channel=to[0], kind="order_status", recipient=to[1], customer_id=order.customer_id,
                    key=f"order:{order.id}:{status}", source=f"order:{order.id}", language=language,
                    payload={"customer": order.customer.name, "company": current_tenant().name, "number": order.number,
                             "status": label, "link": link})
