"""Order changes: placing an order (totals worked out from its lines), changing it, and moving it along the
status workflow."""
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select, update

from crm import validation
from crm.audit.service import audited, record
from crm.customers.models import Customer
from crm.errors import Invalid
from crm.extensions import db, utcnow
from crm.fields import record_values
from crm.fields.values import audit_state
from crm.members.models import Member
from crm.orders import messages
from crm.orders.forms import STATUS_LABELS, LineInput
from crm.orders.header import HEADER_FIELDS, clean_header
from crm.orders.lines import clean_lines
from crm.orders.models import REFUNDS, STATUSES, Order, OrderLine, OrderStatusChange
from crm.formatting import money
from crm.orders.totals import Totals, totals
from crm.settings import workspace_currency
from crm.timeline.service import in_both_languages, log
from crm.webhooks import events as webhooks


def preview(viewer: Member, rows: list[LineInput], order: Order | None = None) -> tuple[list[dict], Totals, bool]:
    """What the form's lines come to so far: the valid lines, their totals, and whether some were refused."""
    keep = [line.product_id for line in order.lines] if order else []
    lines, errors = clean_lines(viewer, rows, keep)
    return lines, totals(lines), any(key.startswith("lines.") for key in errors)


def create_order(viewer: Member, data: dict, rows: list[LineInput], custom: dict | None = None) -> Order:
    """Place an order; the totals are worked out here from the lines, whatever the form showed.

    `custom` holds the raw custom field values by key (crm.fields.values.read_form); required ones must be there."""
    data = {"owner_id": str(viewer.id), "currency": workspace_currency(), **data}
    errors = {}
    header = validation.collect(errors, clean_header, viewer, data, None)
    lines, line_errors = clean_lines(viewer, rows)
    values, custom_changes = _custom_values(None, custom, errors)
    if errors or line_errors:
        raise Invalid({**errors, **line_errors})
    order = Order(**header, status="placed", custom=values)
    _set_lines(order, lines)
    order.changes.append(_change(viewer, None, "placed", None))
    db.session.add(order)
    db.session.flush()
    refresh_first_orders(order.customer_id)
    record("create", "order", order.id, summary=order.number, changes={
        "total": [None, str(order.total)], **{f"custom.{key}": change for key, change in custom_changes.items()}})
    log("order_created", customer_id=order.customer_id, link=("orders.show", {"order_id": order.id}),
        number=order.number, total=in_both_languages(lambda: money(order.total, order.currency)))
    webhooks.emit("order.created", order)
    return order


def update_order(viewer: Member, order: Order, data: dict, rows: list[LineInput] | None,
                 custom: dict | None = None) -> Order:
    """Change an order. Lines, customer and currency change only while it is placed (not yet shipped).

    `custom` holds the raw custom field values the form carried (crm.fields.values.read_form); others stay as they are."""
    with audited(order, entity="order", fields=HEADER_FIELDS + ("total",), state=_audit_state,
                 summary=lambda o: o.number) as change:
        errors, customer_id = {}, order.customer_id
        header = validation.collect(errors, clean_header, viewer, data, order)
        lines, line_errors = [], {}
        if order.status == "placed" and rows is not None:
            lines, line_errors = clean_lines(viewer, rows, [line.product_id for line in order.lines])
        values, _changes = _custom_values(order, custom, errors)
        if errors or line_errors:
            raise Invalid({**errors, **line_errors})
        for name, value in header.items():
            setattr(order, name, value)
        if values != (order.custom or {}):
            order.custom = values
        if lines:
            _set_lines(order, lines)
    if change:
        order.updated_at = utcnow()
    db.session.flush()
    if order.customer_id != customer_id:
        refresh_first_orders(customer_id, order.customer_id)
    return order


def _custom_values(order: Order | None, custom: dict | None, errors: dict) -> tuple[dict, dict]:
    """The order's custom values checked (nothing changed yet): (`custom` to store, changes); problems go to
    `errors`."""
    checked = validation.collect(errors, record_values.checked_values, order, custom or {}, creating=order is None,
                                 entity="order")
    return checked or ({}, {})


def refresh_first_orders(*customer_ids: int) -> None:
    """Work out again when these customers first ordered (orders not cancelled), after their orders changed."""
    # The rows locked first: the next statement's snapshot then sees every order committed by a write that held them.
    # Only a changed first order is written (most orders are not a customer's first).
    ids = sorted(set(customer_ids))
    db.session.execute(select(Customer.id).where(Customer.id.in_(ids)).order_by(Customer.id).with_for_update())
    first = (select(func.min(Order.created_at)).where(Order.customer_id == Customer.id, Order.status != "cancelled")
             .scalar_subquery())
    db.session.execute(update(Customer).where(Customer.id.in_(ids), Customer.first_ordered_at.is_distinct_from(first))
                       .values(first_ordered_at=first).execution_options(synchronize_session="fetch"))


def _audit_state(order: Order) -> dict:
    """What the audit compares beside the header: how many lines, custom values."""
    return {"lines": len(order.lines), **audit_state(order)}


def _set_lines(order: Order, lines: list[dict]) -> None:
    order.lines = [OrderLine(position=position, product_id=line["product_id"], description=line["description"],
                             unit=line["unit"], quantity=line["quantity"], unit_price=line["unit_price"],
                             discount=line["discount"], total=line["total"])
                   for position, line in enumerate(lines, start=1)]
    summed = totals(lines)
    order.subtotal, order.discount_total, order.total = summed.subtotal, summed.discount_total, summed.total


def _change(viewer: Member | None, from_status: str | None, to_status: str, note: str | None,
            amount: Decimal | None = None) -> OrderStatusChange:
    return OrderStatusChange(from_status=from_status, to_status=to_status, at=utcnow(), note=note or None,
                             amount=amount, actor_id=viewer.id if viewer else None,
                             actor_name=viewer.name if viewer else "")


def move_order(viewer: Member, order: Order, to_status: str, note: str = "", amount: str | None = None) -> Order:
    """Move an order along the workflow; any move not in MOVES is refused and nothing changes. A refund takes
    its amount as typed (None: the whole total): the whole total makes the order refunded, less partially
    refunded."""
    from_status = order.status
    to_status = "refunded" if to_status in REFUNDS else to_status  # which refund it is, the amount says
    _check_move(order, to_status)
    errors = {}
    note = validation.collect(errors, validation.text, note, "note", 500)
    refund = validation.collect(errors, _refund_amount, order, amount) if to_status == "refunded" else None
    if errors:
        raise Invalid(errors)
    if refund is not None:
        to_status = "refunded" if refund == order.total else "partially_refunded"
        order.refunded_amount = refund
    order.status, order.updated_at = to_status, utcnow()
    change = _change(viewer, from_status, to_status, note, refund)
    order.changes.append(change)
    record("update", "order", order.id, summary=order.number, changes={
        "status": [from_status, to_status], **({"refunded_amount": [None, str(refund)]} if refund is not None else {})})
    log("order_status", customer_id=order.customer_id, link=("orders.show", {"order_id": order.id}),
        number=order.number, **{"from": in_both_languages(lambda: STATUS_LABELS[from_status]),
                                "to": in_both_languages(lambda: STATUS_LABELS[to_status])})
    db.session.flush()
    webhooks.emit("order.status_changed", order)
    if to_status == "cancelled":
        refresh_first_orders(order.customer_id)
    messages.tell_customer(order, change)
    return order


def _check_move(order: Order, to_status: str) -> None:
    """Refuse a move the workflow does not allow from the order's status, saying why."""
    if to_status in order.next_moves:
        return
    if to_status not in STATUSES:
        raise Invalid({"status": _("Choose what happened to the order.")})
    raise Invalid({"status": _("An order that is %(from)s cannot become %(to)s.",
                               **{"from": STATUS_LABELS[order.status], "to": STATUS_LABELS[to_status]})})


def _refund_amount(order: Order, typed: str | None) -> Decimal:
    """The amount refunded, in the order's currency: above zero and at most the order's total."""
    if typed is None:
        return order.total
    amount = validation.money(typed, "amount", required=True, negative=True)
    if amount <= 0 < order.total:
        raise Invalid({"amount": _("Enter an amount above zero.")})
    if amount > order.total:
        raise Invalid({"amount": _("A refund cannot be more than the order's total, %(total)s.",
                                   total=money(order.total, order.currency))})
    return amount
