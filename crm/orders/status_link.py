"""The order's signed public status link: what the end customer follows, without an account."""
import secrets

from sqlalchemy import select
from sqlalchemy.orm import lazyload

from crm import public_links
from crm.audit.service import record
from crm.extensions import db
from crm.orders.models import Order
from tenants.binding import current_tenant
from tenants.resolver import TenantRef

LINK_PURPOSE = "order-status-link"  # crm/public_links.py; the signature covers the order's link_nonce too


def link_token(order: Order) -> str | None:
    """The current public token of an order (`<tenant id>.<order id>.<signature>`), None when it has none."""
    if not order.link_nonce:
        return None
    return public_links.make_token(LINK_PURPOSE, current_tenant().id, order.id, nonce=order.link_nonce)


def new_link(order: Order) -> Order:
    """Make a new public link; the previous one stops working."""
    had_link = bool(order.link_nonce)
    order.link_nonce = secrets.token_hex(16)
    record("update", "order", order.id, summary=order.number,
           changes={"public_link": ["active" if had_link else None, "new"]})
    return order


def revoke_link(order: Order) -> Order:
    """Forget the link's nonce: the link answers 404 from now on."""
    if order.link_nonce:
        order.link_nonce = None
        record("update", "order", order.id, summary=order.number, changes={"public_link": ["active", None]})
    return order


def read_link(token: str) -> tuple[TenantRef, int, str] | None:
    """(active tenant, order id, signature) of a well-formed token, else None; the signature is checked by
    linked_order() against the order's nonce."""
    return public_links.tenant_link(token)


def linked_order(tenant: TenantRef, order_id: int, signature: str) -> Order | None:
    """The order a public link names (with `tenant` bound); None unless the link is current."""
    order = db.session.scalar(select(Order).where(Order.id == order_id).options(
        lazyload(Order.customer), lazyload(Order.owner), lazyload(Order.lines)))
    if order is None or not order.link_nonce:
        return None
    if not public_links.is_signed(LINK_PURPOSE, (tenant.id, order.id), signature, order.link_nonce):
        return None
    return order


def public_status(tenant: TenantRef, order: Order) -> dict:
    """What the end customer may see of one order."""
    # Only the number, status, the dates of its moves and the delivery date: no customer, prices or notes.
    return {"tenant_name": tenant.name, "number": order.number, "status": order.status,
            "delivery_date": order.delivery_date,
            "history": [{"status": "refund_declined" if change.declined else change.to_status, "at": change.at}
                        for change in order.changes]}
