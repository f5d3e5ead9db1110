"""The order form: the order's own fields (WTForms) and its lines (repeated inputs, one set per row)."""
import re
import secrets
from dataclasses import dataclass, fields

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField

MAX_ROWS = 200  # rows read from one post; the service refuses more than it allows
FIELD_LABELS = {"customer_id": _l("Customer"), "owner_id": _l("Owner"), "currency": _l("Currency"),
                "delivery_date": _l("Delivery date"), "notes": _l("Notes"), "contact_id": _l("Contact")}

# The audit log's names: the form's fields and what changes beside the form.
AUDIT_LABELS = {**FIELD_LABELS, "status": _l("Status"), "total": _l("Total"), "lines": _l("Lines"),
                "public_link": _l("Status link for the customer"), "refunded_amount": _l("Amount refunded"),
                "paid_amount": _l("Amount paid")}
LINK_LABELS = {"active": _l("Active"), "new": _l("New link")}

STATUS_LABELS = {"placed": _l("Placed"), "shipped": _l("Shipped"), "received": _l("Received"),
                 "completed": _l("Completed"), "refund_requested": _l("Refund requested"),
                 "refunded": _l("Refunded"), "partially_refunded": _l("Partially refunded"),
                 "cancelled": _l("Cancelled")}
# What the customer hears of each move (crm/orders/messages.py): its status, or that the refund was declined.
NEWS_LABELS = {**STATUS_LABELS, "refund_declined": _l("Refund declined")}
# What the button that makes each move says; a move back from refund_requested declines the refund.
MOVE_LABELS = {"shipped": _l("Mark shipped"), "received": _l("Mark received"), "completed": _l("Complete"),
               "refund_requested": _l("Request refund"), "refunded": _l("Mark refunded"),
               "cancelled": _l("Cancel order"), ("refund_requested", "received"): _l("Decline refund")}


def move_label(from_status: str, to_status: str) -> str:
    """What the button that moves an order from `from_status` to `to_status` says."""
    return MOVE_LABELS.get((from_status, to_status)) or MOVE_LABELS[to_status]


class OrderForm(FlaskForm):
    owner_id = SelectField(FIELD_LABELS["owner_id"], choices=[], validate_choice=False)
    currency = StringField(FIELD_LABELS["currency"], render_kw={"maxlength": 3, "autocapitalize": "characters"})
    delivery_date = StringField(FIELD_LABELS["delivery_date"], render_kw={"type": "date"})
    notes = TextAreaField(FIELD_LABELS["notes"], render_kw={"rows": 3})
    contact_id = StringField(FIELD_LABELS["contact_id"])  # who ordered: one of the customer's contacts (crm/contacts)

    def set_owners(self, members) -> None:
        self.owner_id.choices = [(str(m.id), m.name) for m in members]

    def data_for_service(self, customer_id) -> dict:
        """The submitted fields (a field left out of the post is left out here too) and the chosen customer."""
        data = {name: field.data for name, field in self._fields.items() if name != "csrf_token" and field.raw_data}
        data["customer_id"] = customer_id
        return data


@dataclass
class LineInput:
    """One row of the lines table, as typed."""

    key: str = ""  # names the row in the page (ids of its inputs and of its total)
    product_id: str = ""
    description: str = ""
    unit: str = ""
    quantity: str = ""
    unit_price: str = ""
    discount: str = ""

    @property
    def blank(self) -> bool:
        """A row left empty is ignored rather than refused."""
        return not (self.product_id or self.description or self.quantity or self.unit_price)


def new_key() -> str:
    """A fresh name for a row of the lines table."""
    return secrets.token_hex(4)


def _key(value: str) -> str:
    return value if re.fullmatch(r"[0-9a-f]{1,16}", value or "") else new_key()


def read_lines(form) -> list[LineInput]:
    """The rows of a posted form: each row sends every line_* input once, so the lists line up."""
    names = [f.name for f in fields(LineInput)]
    columns = {name: form.getlist(f"line_{name}")[:MAX_ROWS + 1] for name in names}
    rows = []
    for i in range(max(map(len, columns.values()))):
        values = {name: (columns[name][i] if i < len(columns[name]) else "").strip()[:300] for name in names}
        rows.append(LineInput(**{**values, "key": _key(values["key"])}))
    return rows


def read_line(args) -> LineInput:
    """One row, sent by itself (when its product changes)."""
    return (read_lines(args) or [LineInput(key=new_key())])[0]
