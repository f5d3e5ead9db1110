"""The order chooser a form that refers to an order uses (tickets): the orders the viewer may see, of the
form's customer when it has one, found by number; an order is named by its number (SO-000123, or the number an
import kept: orders.imported_number), never its id."""
import re

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import lazyload

from crm import validation
from crm.extensions import db
from crm.members.models import Member
from crm.orders.models import Order
from crm.orders.queries import visible
from crm.validation import record_id

LIMIT = 8  # a short list to pick from: typing more narrows it
# What a person may type for an order: SO-000123, so123, #123 or 123 (the number is the id, zero-padded).
NUMBER = re.compile(r"(?:SO-?)?#?0*(\d{1,10})", re.IGNORECASE)
PREFIX = re.compile(r"^(?:SO-?)?#?0*", re.IGNORECASE)


def order_id_of(number) -> int | None:
    """The order id an order number names, None when it names none: an imported order's number as it is, else
    the id in a number the CRM made (typed loosely: so123, #123)."""
    typed = validation.clipped(str(number or "").strip(), 20)
    if not typed:
        return None
    kept = db.session.scalar(select(Order.id).where(func.upper(Order.imported_number) == typed.upper()))
    found = NUMBER.fullmatch(typed)
    return kept or (record_id(found.group(1)) if found else None)


def order_number(order_id: int | None) -> str:
    """The number of the order with this id (orders.NUMBER_EXPRESSION); a deleted order's as the CRM made it."""
    if not order_id:
        return ""
    return db.session.scalar(select(Order.number).where(Order.id == order_id)) or f"SO-{order_id:06d}"


def _orders(viewer: Member, customer_id: int | None):
    stmt = visible(viewer).options(lazyload("*"))
    return stmt.where(Order.customer_id == customer_id) if customer_id else stmt


def matching(viewer: Member, q: str, customer_id: int | None = None, limit: int = LIMIT) -> list[Order]:
    """The newest orders the viewer may see, of `customer_id` when given, whose number contains what was typed;
    with nothing typed, the customer's newest orders (none without a customer)."""
    typed = validation.clipped(q, 20).strip()
    digits = PREFIX.sub("", typed)
    if not (typed or customer_id):
        return []
    stmt = _orders(viewer, customer_id)
    kept = Order.imported_number.icontains(typed, autoescape=True)
    if digits.isdigit():
        stmt = stmt.where(or_(cast(Order.id, String).contains(digits) & Order.imported_number.is_(None), kept))
    elif typed:
        stmt = stmt.where(kept)
    return list(db.session.scalars(stmt.order_by(Order.id.desc()).limit(limit)).unique())


def chosen(viewer: Member, number, customer_id: int | None = None) -> Order | None:
    """The order a form names by number, when the viewer may see it (and it is the customer's); else None."""
    order_id = order_id_of(number)
    if order_id is None:
        return None
    return db.session.scalar(_orders(viewer, customer_id).where(Order.id == order_id))
