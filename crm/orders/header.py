"""The order's own fields (customer, contact, owner, currency, delivery date, notes) validated for the viewer."""
from datetime import date

from flask_babel import gettext as _

from crm import validation
from crm.contacts import service as contacts
from crm.customers import queries as customers
from crm.customers.models import Customer
from crm.errors import Invalid
from crm.extensions import db
from crm.members.access import in_reach
from crm.members.models import Member
from crm.orders.models import Order
from crm.validation import record_id

EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)
HEADER_FIELDS = ("customer_id", "owner_id", "currency", "delivery_date", "notes", "contact_id")
TYPED = HEADER_FIELDS[:-1]  # the contact is checked against the customer, once that is known
LOCKED_FIELDS = ("customer_id", "currency")  # fixed once the order has left "placed", like its lines


def clean_header(viewer: Member, data: dict, order: Order | None = None) -> dict:
    """Validate the order's own fields (the ones present in `data`); all problems reported together."""
    cleaned, errors = {}, {}
    for name in TYPED:
        if name not in data or order is not None and order.status != "placed" and name in LOCKED_FIELDS:
            continue
        cleaned[name] = validation.collect(errors, _clean_field, viewer, name, data[name], order)
    if order is None:
        for name, message in (("customer_id", _("Choose a customer.")), ("currency", _("Enter a currency."))):
            if not cleaned.get(name) and name not in errors:
                errors[name] = message
    if "contact_id" in data:
        customer_id = cleaned.get("customer_id") or (order.customer_id if order is not None else None)
        cleaned["contact_id"] = validation.collect(errors, contacts.chosen, customer_id, data["contact_id"])
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
