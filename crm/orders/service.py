"""Order rules and queries: lines and totals (Decimal, half-up to cents), the status workflow, scoped lists,
and the signed public status link."""
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

from babel.numbers import list_currencies
from flask_babel import format_currency, format_decimal, get_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload, lazyload

from crm import listing, public_links, validation
from crm.audit.service import audited, record
from crm.customers import queries as customers
from crm.customers.models import Customer
from crm.errors import Invalid, NotFound
from crm.extensions import db, utcnow
from crm.fields import record_values
from crm.fields.values import audit_state
from crm.members.access import in_reach, members_in_reach, scoped
from crm.members.models import Member
from crm.orders import messages
from crm.orders.forms import LineInput
from crm.orders.models import STATUSES, Order, OrderLine, OrderStatusChange
from crm.products import service as catalogue
from crm.products.models import Product
from crm.timeline.service import in_both_languages, log
from crm.validation import record_id
from tenants.binding import current_tenant
from tenants.resolver import TenantRef, tenant_by_id

CENT, HUNDRED = Decimal("0.01"), Decimal(100)
MAX_LINES = 200
MAX_QUANTITY = Decimal("99999999999.999")  # what Numeric(14, 3) holds
PAGE_SIZE = 25
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)
NEWEST = (listing.Key(Order.id, descending=True),)
STATUS_LABELS = {"placed": _l("Placed"), "shipped": _l("Shipped"), "received": _l("Received"),
                 "completed": _l("Completed"), "refund_requested": _l("Refund requested"),
                 "refunded": _l("Refunded"), "cancelled": _l("Cancelled")}
# What the button that makes each move says.
MOVE_LABELS = {"shipped": _l("Mark shipped"), "received": _l("Mark received"), "completed": _l("Complete"),
               "refund_requested": _l("Request refund"), "refunded": _l("Mark refunded"),
               "cancelled": _l("Cancel order")}
HEADER_FIELDS = ("customer_id", "owner_id", "currency", "delivery_date", "notes")
LOCKED_FIELDS = ("customer_id", "currency")  # fixed once the order has left "placed", like its lines


# ---- money and totals -----------------------------------------------------------------------------------

def money(amount, currency: str | None = None) -> str:
    """An amount in the reader's locale, with its currency (CN¥50.97, ¥50.97)."""
    if amount is None:
        return ""
    return format_currency(amount, currency or catalogue.tenant_currency())


def plain_money(amount) -> str:
    """A stored amount in the reader's locale, without a currency (the audit log keeps none)."""
    try:
        return format_decimal(Decimal(str(amount)), format="#,##0.00")
    except InvalidOperation:
        return str(amount)


def known_currency(code) -> str:
    """`code` when it is a currency code, else the tenant's currency (for showing amounts while typing)."""
    code = str(code or "").strip().upper()
    return code if code in list_currencies() else catalogue.tenant_currency()


def line_amounts(quantity: Decimal, unit_price: Decimal, discount: Decimal) -> tuple[Decimal, Decimal]:
    """(before discount, after discount) of a line, each rounded half-up to cents."""
    # The discount is a percentage (0-100) of the line: total = quantity x price x (1 - discount / 100).
    with localcontext() as context:
        context.prec = 60  # exact for every value the columns hold
        gross = quantity * unit_price
        net = gross * (HUNDRED - discount) / HUNDRED
        return gross.quantize(CENT, ROUND_HALF_UP), net.quantize(CENT, ROUND_HALF_UP)


@dataclass
class Totals:
    subtotal: Decimal = Decimal("0.00")
    discount_total: Decimal = Decimal("0.00")
    total: Decimal = Decimal("0.00")


def totals(lines: list[dict]) -> Totals:
    """Sum of the lines before discount, the discounts, and what is due (subtotal - discounts)."""
    gross = sum((line["gross"] for line in lines), Decimal("0.00"))
    net = sum((line["total"] for line in lines), Decimal("0.00"))
    return Totals(gross, gross - net, net)


# ---- validating lines -----------------------------------------------------------------------------------

def clean_lines(viewer: Member, rows: list[LineInput], keep_product_ids=()) -> tuple[list[dict], dict]:
    """The filled-in rows validated and priced, and the problems keyed `lines.<row>.<field>`."""
    # Blank rows are skipped. A product row takes the product's name, unit and price where left empty.
    products = {p.id: p for p in catalogue.products_for_lines(viewer, keep_product_ids)}
    lines, errors = [], {}
    for index, row in enumerate(rows):
        if row.blank:
            continue
        try:
            lines.append({"index": index, "key": row.key, **_clean_line(row, products)})
        except Invalid as error:
            errors.update({f"lines.{index}.{name}": message for name, message in error.errors.items()})
    if not lines and not errors:
        errors["lines"] = _("Add at least one line.")
    elif len(lines) > MAX_LINES:
        errors["lines"] = _("An order can have at most %(n)d lines.", n=MAX_LINES)
    elif not errors and totals(lines).subtotal > validation.MAX_AMOUNT:
        errors["lines"] = _("The order total is too large.")
    return lines, errors


def _clean_line(row: LineInput, products: dict) -> dict:
    """One filled-in row as the values to store, or Invalid with a message per field."""
    product = _line_product(row, products)
    errors = {}
    description = validation.collect(errors, validation.text, row.description or (product.name if product else ""),
                                     "description", 200, required=_("Describe the item or choose a product."))
    unit = validation.collect(errors, validation.text, row.unit or (product.unit if product else ""), "unit", 20)
    quantity = validation.collect(errors, _quantity, row.quantity)
    unit_price = product.price if product and not row.unit_price else validation.collect(
        errors, validation.money, row.unit_price, "unit_price", required=True)
    discount = validation.collect(errors, _discount, row.discount)
    if errors:
        raise Invalid(errors)
    gross, total = line_amounts(quantity, unit_price, discount)
    if gross > validation.MAX_AMOUNT:
        raise Invalid({"unit_price": _("This line's total is too large.")})
    return {"product_id": product.id if product else None, "description": description, "unit": unit,
            "quantity": quantity, "unit_price": unit_price, "discount": discount, "gross": gross, "total": total}


def _line_product(row: LineInput, products: dict) -> Product | None:
    """The row's product, None for a free-text row; an id not on offer is refused on its own."""
    if not row.product_id:
        return None
    product = products.get(record_id(row.product_id))
    if product is None:
        raise Invalid({"product_id": _("Choose a product from the list.")})
    return product


def _quantity(raw: str) -> Decimal:
    if not raw:
        raise Invalid({"quantity": _("Enter a quantity.")})
    value = validation.plain_number(raw, 3)
    if value is None or value <= 0:
        raise Invalid({"quantity": _("Enter a quantity above zero (at most three decimals).")})
    if value > MAX_QUANTITY:
        raise Invalid({"quantity": _("This quantity is too large.")})
    return value.quantize(Decimal("0.001"))


def _discount(raw: str) -> Decimal:
    """A percentage from 0 to 100; empty means none."""
    value = validation.plain_number(raw.rstrip("%").strip(), 2) if raw else Decimal(0)
    if value is None or value > HUNDRED:
        raise Invalid({"discount": _("Enter a discount from 0 to 100 (percent).")})
    return value.quantize(CENT)


# ---- validating the order's own fields ------------------------------------------------------------------

def clean_header(viewer: Member, data: dict, order: Order | None = None) -> dict:
    """Validate the order's own fields (the ones present in `data`); all problems reported together."""
    cleaned, errors = {}, {}
    for name in HEADER_FIELDS:
        if name not in data or order is not None and order.status != "placed" and name in LOCKED_FIELDS:
            continue
        cleaned[name] = validation.collect(errors, _clean_field, viewer, name, data[name], order)
    if order is None:
        for name, message in (("customer_id", _("Choose a customer.")), ("currency", _("Enter a currency."))):
            if not cleaned.get(name) and name not in errors:
                errors[name] = message
    if errors:
        raise Invalid(errors)
    return cleaned


def _clean_field(viewer: Member, name: str, value, order: Order | None):
    if name == "customer_id":
        return _customer(viewer, value, order)
    if name == "owner_id":
        return _owner(viewer, value, order)
    if name == "currency":
        return validation.currency(value, name)
    if name == "delivery_date":
        return validation.day(value, name, EARLIEST, LATEST)
    return validation.text(value, name, 5000)


def _customer(viewer: Member, value, order: Order | None) -> int:
    """A live customer the viewer may see (an order's own customer stays allowed)."""
    customer_id = record_id(value)
    if customer_id is not None and order is not None and customer_id == order.customer_id:
        return customer_id
    found = customer_id and db.session.scalar(
        customers.visible(viewer).with_only_columns(Customer.id).where(Customer.id == customer_id))
    if not found:
        raise Invalid({"customer_id": _("Choose a customer.")})
    return customer_id


def _owner(viewer: Member, value, order: Order | None) -> int:
    """The owner must be an active member the viewer's role reaches (itself with "own"), or stay as it is."""
    owner_id = record_id(value)
    if order is not None and owner_id == order.owner_id:
        return owner_id
    if not in_reach(viewer, "orders", "create" if order is None else "edit", owner_id):
        raise Invalid({"owner_id": _("You can only give orders to members you work with.")})
    return owner_id


# ---- writing orders -------------------------------------------------------------------------------------

def preview(viewer: Member, rows: list[LineInput], order: Order | None = None) -> tuple[list[dict], Totals, bool]:
    """What the form's lines come to so far: the valid lines, their totals, and whether some were refused."""
    keep = [line.product_id for line in order.lines] if order else []
    lines, errors = clean_lines(viewer, rows, keep)
    return lines, totals(lines), any(key.startswith("lines.") for key in errors)


def create_order(viewer: Member, data: dict, rows: list[LineInput], custom: dict | None = None) -> Order:
    """Place an order; the totals are worked out here from the lines, whatever the form showed.

    `custom` holds the raw custom field values by key (fields.read_form); required ones must be there."""
    data = {"owner_id": str(viewer.id), "currency": catalogue.tenant_currency(), **data}
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
    record("create", "order", order.id, summary=order.number, changes={
        "total": [None, str(order.total)], **{f"custom.{key}": change for key, change in custom_changes.items()}})
    log("order_created", customer_id=order.customer_id, link=("orders.show", {"order_id": order.id}),
        number=order.number, total=in_both_languages(lambda: money(order.total, order.currency)))
    return order


def update_order(viewer: Member, order: Order, data: dict, rows: list[LineInput] | None,
                 custom: dict | None = None) -> Order:
    """Change an order. Lines, customer and currency change only while it is placed (not yet shipped).

    `custom` holds the raw custom field values the form carried (fields.read_form); others stay as they are."""
    with audited(order, entity="order", fields=HEADER_FIELDS + ("total",), state=_audit_state,
                 summary=lambda o: o.number) as change:
        errors = {}
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
    return order


def _custom_values(order: Order | None, custom: dict | None, errors: dict) -> tuple[dict, dict]:
    """The order's custom values checked (nothing changed yet): (`custom` to store, changes); problems go to
    `errors`."""
    checked = validation.collect(errors, record_values.checked_values, order, custom or {}, creating=order is None,
                                 entity="order")
    return checked or ({}, {})


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


def _change(viewer: Member | None, from_status: str | None, to_status: str, note: str | None) -> OrderStatusChange:
    return OrderStatusChange(from_status=from_status, to_status=to_status, at=utcnow(), note=note or None,
                             actor_id=viewer.id if viewer else None, actor_name=viewer.name if viewer else "")


def move_order(viewer: Member, order: Order, to_status: str, note: str = "") -> Order:
    """Move an order along the workflow; any move not in MOVES is refused and nothing changes."""
    from_status = order.status
    if to_status not in order.next_moves:
        if to_status not in STATUSES:
            raise Invalid({"status": _("Choose what happened to the order.")})
        raise Invalid({"status": _("An order that is %(from)s cannot become %(to)s.",
                                   **{"from": STATUS_LABELS[from_status], "to": STATUS_LABELS[to_status]})})
    note = validation.text(note, "note", 500)
    order.status, order.updated_at = to_status, utcnow()
    order.changes.append(_change(viewer, from_status, to_status, note))
    record("update", "order", order.id, summary=order.number, changes={"status": [from_status, to_status]})
    log("order_status", customer_id=order.customer_id, link=("orders.show", {"order_id": order.id}),
        number=order.number, **{"from": in_both_languages(lambda: STATUS_LABELS[from_status]),
                                "to": in_both_languages(lambda: STATUS_LABELS[to_status])})
    db.session.flush()
    messages.tell_customer(order, to_status)
    return order


# ---- reading orders -------------------------------------------------------------------------------------

def visible(viewer: Member, action: str = "view"):
    """Orders the viewer may act on."""
    return scoped(select(Order), viewer, "orders", action, Order)


def get_order(viewer: Member, order_id: int, action: str = "view", lock: bool = False) -> Order:
    """An order the viewer may act on; anything else is simply not found."""
    stmt = visible(viewer, action).where(Order.id == order_id)
    if lock:
        stmt = stmt.with_for_update(of=Order)
    order = db.session.scalar(stmt)
    if order is None:
        raise NotFound()
    return order


@dataclass
class OrderQuery:
    """What the order list was asked for: filters and the keyset cursor."""

    status: str = ""
    since: date | None = None
    until: date | None = None
    customer_id: int | None = None
    customer: str = ""  # part of the customer's name, phone, email or company
    owner: str = ""  # a member id or "me"
    after: str = ""

    @classmethod
    def from_args(cls, args) -> "OrderQuery":
        """Read the query string; anything malformed is ignored rather than failing the page."""
        owner = args.get("owner", "")
        return cls(status=args.get("status", "") if args.get("status") in STATUSES else "",
                   since=_filter_day(args.get("since")), until=_filter_day(args.get("until")),
                   customer_id=record_id(args.get("customer_id")),
                   customer=validation.clipped(args.get("customer"), 100),
                   owner=owner if owner == "me" or record_id(owner) else "",
                   after=args.get("after", ""))

    def args(self, **changes) -> dict:
        """Query-string arguments for a link to this list with `changes`."""
        values = {"status": self.status, "since": self.since.isoformat() if self.since else "",
                  "until": self.until.isoformat() if self.until else "", "customer_id": self.customer_id,
                  "customer": self.customer, "owner": self.owner, "after": ""}
        values.update(changes)
        return {k: v for k, v in values.items() if v}

    @property
    def filtered(self) -> bool:
        return bool(self.status or self.since or self.until or self.customer_id or self.customer or self.owner)


def _filter_day(value) -> date | None:
    return validation.or_none(validation.day, value, "day", EARLIEST, LATEST)


def _start_of(day: date) -> datetime:
    """Midnight of `day` in the reader's time zone."""
    return get_timezone().localize(datetime.combine(day, time.min))


def list_orders(viewer: Member, query: OrderQuery, limit: int = PAGE_SIZE) -> tuple[list[Order], str]:
    """One page of matching orders, newest first, and the cursor of the next page ('' on the last one)."""
    stmt = visible(viewer)
    if query.status:
        stmt = stmt.where(Order.status == query.status)
    if query.since:
        stmt = stmt.where(Order.created_at >= _start_of(query.since))
    if query.until:
        stmt = stmt.where(Order.created_at < _start_of(query.until + timedelta(days=1)))
    if query.customer_id:
        stmt = stmt.where(Order.customer_id == query.customer_id)
    if query.customer:
        stmt = stmt.where(Order.customer_id.in_(_customers_matching(query.customer)))
    if query.owner:
        stmt = stmt.where(Order.owner_id == (viewer.id if query.owner == "me" else int(query.owner)))
    return listing.page(_for_lists(stmt), NEWEST, query.after, limit)


def _customers_matching(text: str):
    """Ids of customers whose name, phone, email or company contains `text` (the customers' gram index)."""
    term = text.lower()
    condition = Customer.search_text.contains(term, autoescape=True)
    grams = customers.query_grams(term)
    if grams:
        condition = Customer.search_grams.contains(grams) & condition
    return select(Customer.id).where(condition)


def _for_lists(stmt):
    """Lists show the customer's and owner's names only, and no lines."""
    return stmt.options(joinedload(Order.customer).load_only(Customer.id, Customer.name),
                        joinedload(Order.owner).load_only(Member.id, Member.name).lazyload(Member.role),
                        lazyload(Order.lines), lazyload(Order.changes))


def orders_for_customer(viewer: Member, customer_id: int, limit: int = 20) -> list[Order]:
    """The newest orders of one customer that the viewer may see (for the customer's page)."""
    stmt = visible(viewer).where(Order.customer_id == customer_id)
    return list(db.session.scalars(_for_lists(stmt).order_by(Order.id.desc()).limit(limit)).unique())


def members_for_filter(viewer: Member) -> list[Member]:
    """The members whose orders the viewer's owner filter offers: those its view scope reaches."""
    return members_in_reach(viewer, "orders", "view")


# ---- the public status link -----------------------------------------------------------------------------

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
    public_status() against the order's nonce."""
    parsed = public_links.parse_token(token, 2)
    if parsed is None:
        return None
    (tenant_id, order_id), signature = parsed
    tenant = tenant_by_id(tenant_id)
    return (tenant, order_id, signature) if tenant is not None and tenant.active else None


def public_status(tenant: TenantRef, order_id: int, signature: str) -> dict | None:
    """What the end customer may see of one order (with `tenant` bound); None unless the link is current."""
    # Only the number, status, the dates of its moves and the delivery date: no customer, prices or notes.
    order = db.session.scalar(select(Order).where(Order.id == order_id).options(
        lazyload(Order.customer), lazyload(Order.owner), lazyload(Order.lines)))
    if order is None or not order.link_nonce:
        return None
    if not public_links.is_signed(LINK_PURPOSE, (tenant.id, order.id), signature, order.link_nonce):
        return None
    return {"tenant_name": tenant.name, "number": order.number, "status": order.status,
            "delivery_date": order.delivery_date,
            "history": [{"status": change.to_status, "at": change.at} for change in order.changes]}
