"""Contact rules and queries. A contact is seen and changed exactly as far as its customer is: the customer's
view scope to read it, its edit scope to add, change or remove it. One contact per customer is primary: the first
one added, then whichever is marked; removing the primary passes it to the oldest left."""
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from crm import validation
from crm.audit.service import audited, record
from crm.contacts.models import Contact
from crm.customers import queries as customers
from crm.customers.models import Customer
from crm.deals.models import Deal
from crm.errors import Invalid, NotFound
from crm.extensions import db, utcnow
from crm.followups.models import Activity
from crm.members.models import Member
from crm.orders.models import Order
from crm.settings import phone_region
from crm.tickets.models import Ticket
from crm.validation import record_id
from crm.webhooks import events as webhooks

FIELD_LABELS = {"name": _l("Name"), "title": _l("Title"), "mobile": _l("Mobile"), "phone": _l("Office phone"),
                "email": _l("Email"), "wechat": _l("WeChat ID"), "notes": _l("Notes")}
AUDIT_LABELS = {**FIELD_LABELS, "is_primary": _l("Primary contact"), "marketing_opt_out": _l("No marketing")}
FIELDS = tuple(FIELD_LABELS)
LIMITS = {"name": 120, "title": 80, "wechat": 40, "notes": 2000}
ORDER = (Contact.is_primary.desc(), Contact.id)  # the primary first, then as they were added


def of_customer(customer_id: int) -> list[Contact]:
    """A customer's contacts, primary first (the caller has checked the customer is within reach)."""
    return list(db.session.scalars(select(Contact).where(Contact.customer_id == customer_id).order_by(*ORDER)))


def get_contact(viewer: Member, contact_id: int, action: str = "view") -> Contact:
    """A contact of a live customer the viewer may `action` (view or edit); anything else is not found."""
    contact = db.session.get(Contact, contact_id)
    if contact is None:
        raise NotFound()
    customers.get_customer(viewer, contact.customer_id, action)
    return contact


def clean(data: dict) -> dict:
    """Validate and normalise a contact's fields; all problems reported together."""
    errors, region = {}, phone_region()
    cleaned = {name: validation.collect(errors, validation.text, data.get(name), name, limit)
               for name, limit in LIMITS.items()}
    if not cleaned["name"] and "name" not in errors:
        errors["name"] = _("Name is required.")
    for name in ("mobile", "phone"):
        cleaned[name] = validation.collect(errors, validation.phone, data.get(name), region, name)
    cleaned["email"] = validation.collect(errors, validation.normalise_email, data.get("email"))
    if errors:
        raise Invalid(errors)
    return cleaned


def create_contact(customer: Customer, data: dict, primary: bool = False, no_marketing: bool = False) -> Contact:
    """Add a contact to `customer` (reached by the caller with its edit scope). The first one is primary."""
    cleaned = clean(data)
    _lock(customer.id)
    first = not db.session.scalar(select(Contact.id).where(Contact.customer_id == customer.id).limit(1))
    contact = Contact(customer_id=customer.id, **cleaned, is_primary=False,
                      marketing_opt_out_at=utcnow() if no_marketing else None)
    db.session.add(contact)
    db.session.flush()
    if primary or first:
        _make_primary(contact)
    record("create", "contact", contact.id, summary=_summary(contact, customer))
    webhooks.emit("contact.created", contact)
    return contact


def update_contact(contact: Contact, data: dict, no_marketing: bool = False) -> Contact:
    """Change a contact's fields and its marketing opt-out."""
    cleaned = clean(data)
    with audited(contact, entity="contact", fields=FIELDS, state=_state, summary=_summary):
        for name, value in cleaned.items():
            setattr(contact, name, value)
        if no_marketing != bool(contact.marketing_opt_out_at):
            contact.marketing_opt_out_at = utcnow() if no_marketing else None
    db.session.flush()
    webhooks.emit("contact.updated", contact)
    return contact


def make_primary(contact: Contact) -> None:
    """Mark `contact` as its customer's primary contact (the one before stops being it)."""
    if contact.is_primary:
        return
    _lock(contact.customer_id)
    with audited(contact, entity="contact", state=_state, summary=_summary):
        _make_primary(contact)


def delete_contact(contact: Contact) -> None:
    """Remove a contact for good (its deals, orders, tickets and follow-ups keep their customer); a primary one
    passes the part to the oldest contact left."""
    _lock(contact.customer_id)
    record("delete", "contact", contact.id, summary=_summary(contact))
    webhooks.emit("contact.deleted", contact)
    was_primary, customer_id = contact.is_primary, contact.customer_id
    for model in (Deal, Order, Ticket, Activity):
        db.session.execute(update(model).where(model.contact_id == contact.id).values(contact_id=None))
    db.session.delete(contact)
    db.session.flush()
    if was_primary:
        oldest = db.session.scalar(select(Contact).where(Contact.customer_id == customer_id).order_by(Contact.id))
        if oldest is not None:
            _make_primary(oldest)


def chosen(customer_id: int | None, value, field: str = "contact_id") -> int | None:
    """The contact a deal, order, ticket or follow-up form names: one of its customer's contacts (the customer the
    feature has already checked the viewer may use); empty means none."""
    if not str(value or "").strip():
        return None
    contact_id = record_id(value)
    if customer_id is None or contact_id is None or db.session.scalar(select(Contact.id).where(
            Contact.id == contact_id, Contact.customer_id == customer_id)) is None:
        raise Invalid({field: _("Choose one of this customer's contacts.")})
    return contact_id


def contact_of(record) -> Contact | None:
    """The contact a deal, order, ticket or follow-up names, while it is still one of the record's customer's."""
    if not getattr(record, "contact_id", None):
        return None
    contact = db.session.get(Contact, record.contact_id)
    return contact if contact is not None and contact.customer_id == record.customer_id else None


def _make_primary(contact: Contact) -> None:
    """`contact` becomes primary; the one before stops being it (loaded, so webhook subscribers hear of both)."""
    for before in db.session.scalars(select(Contact).where(Contact.customer_id == contact.customer_id,
                                                           Contact.id != contact.id, Contact.is_primary)):
        before.is_primary = False
        webhooks.emit("contact.updated", before)
    if not contact.is_primary:
        contact.is_primary = True
        webhooks.emit("contact.updated", contact)
    db.session.flush()


def _lock(customer_id: int) -> None:
    """Hold the customer's row, so two people marking primaries at once leave one."""
    db.session.execute(select(Customer.id).where(Customer.id == customer_id).with_for_update())


def _state(contact: Contact) -> dict:
    return {"is_primary": contact.is_primary, "marketing_opt_out": bool(contact.marketing_opt_out_at)}


def _summary(contact: Contact, customer: Customer | None = None) -> str:
    customer_name = customer.name if customer is not None else customers.customer_name(contact.customer_id)
    return f"{contact.name} · {customer_name}"


def primary_id(customer_id: int) -> int | None:
    return db.session.scalar(select(Contact.id).where(Contact.customer_id == customer_id, Contact.is_primary))


def keep_one_primary(customer_id: int, keep_id: int | None) -> list[int]:
    """After a merge brought several customers' contacts to one: `keep_id` stays primary (the survivor's own), else
    the oldest primary; returns the ids that stopped being primary, for the merge's undo (`restore_primaries`)."""
    primaries = list(db.session.scalars(select(Contact.id).where(Contact.customer_id == customer_id,
                                                                  Contact.is_primary).order_by(Contact.id)))
    kept = keep_id if keep_id in primaries else (primaries[0] if primaries else None)
    demoted = [i for i in primaries if i != kept]
    if demoted:
        db.session.execute(update(Contact).where(Contact.id.in_(demoted)).values(is_primary=False))
    return demoted


def restore_primaries(contact_ids: list[int]) -> None:
    if contact_ids:
        db.session.execute(update(Contact).where(Contact.id.in_(contact_ids)).values(is_primary=True))


def choices(customer_id: int | None) -> list[Contact]:
    """What a form's contact picker offers: the contacts of the customer chosen so far (none before one is)."""
    return of_customer(customer_id) if customer_id else []


def contact_name(contact_id) -> str:
    """A contact's name for the audit log; `#id` once it is gone."""
    contact = db.session.get(Contact, record_id(contact_id) or 0)
    return contact.name if contact else f"#{contact_id}"


def campaign_contacts(customer_ids: list[int], recipients: str) -> dict[int, list[Contact]]:
    """The contacts a campaign writes to, by customer: each customer's primary one (`primary`) or all of them
    (`contacts`); none when it writes to the customers themselves. One query per batch of customers."""
    if recipients == "customers" or not customer_ids:
        return {}
    stmt = select(Contact).where(Contact.customer_id.in_(customer_ids))
    if recipients == "primary":
        stmt = stmt.where(Contact.is_primary)
    found: dict[int, list[Contact]] = {}
    for contact in db.session.scalars(stmt.order_by(Contact.id)):
        found.setdefault(contact.customer_id, []).append(contact)
    return found
