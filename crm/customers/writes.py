"""Customer changes: the form's validation, create and update (audited), owners within reach, bulk tags and
owners, and the trash (delete, restore, purge)."""
from flask_babel import gettext as _
from sqlalchemy import delete, func, insert, select, update

from crm import validation
from crm.audit.service import audited, record
from crm.billing.service import check_room
from crm.customers import addresses, sensitive
from crm.customers.models import CHANNELS, KINDS, LEVELS, SENSITIVE, STAGES, Customer, Tag, customer_tags
from crm.customers.queries import visible
from crm.errors import Invalid
from crm.extensions import db, utcnow
from crm.fields import definitions as fields
from crm.fields import record_values
from crm.members.access import in_reach, scoped
from crm.members.models import Member
from crm.settings import phone_region
from crm.validation import record_id
from crm.webhooks import events as webhooks

EDITABLE = ("name", "kind", "phone", "email", "company", "title", "source", "level", "stage",
            "owner_id", "notes", "preferred_channel", *addresses.PARTS)
INLINE_EDITABLE = ("name", "phone", "email", "company", "title", "level", "stage", "owner_id", "source")


def clean(data: dict, partial: bool = False) -> dict:
    """Validate and normalise customer fields; all problems reported together."""
    cleaned, errors = {}, {}
    data = _with_street(data)
    for name, value in data.items():
        if name in EDITABLE + SENSITIVE and name not in addresses.PARTS:
            cleaned[name] = validation.collect(errors, _clean_field, name, value)
    address = {name: data[name] for name in addresses.PARTS if name in data}
    if address:
        cleaned.update(validation.collect(errors, addresses.clean, address, phone_region()) or {})
    if not partial and not cleaned.get("name"):
        errors.setdefault("name", _("Name is required."))
    for name, rule in fields.builtin_rules().items():  # built-in fields this tenant made required
        given = _address_given(cleaned) if name == "address" else cleaned.get(name) not in (None, "")
        if rule.get("required") and (name in cleaned or name == "address" and address or not partial) and not given:
            errors.setdefault("street" if name == "address" else name, _("This field is required."))
    if errors:
        raise Invalid(errors)
    return cleaned


def _with_street(data: dict) -> dict:
    """`address`, the one free-text address of old (imports, API clients), is the street line now."""
    return {**data, "street": data["address"]} if "address" in data and "street" not in data else data


def _address_given(cleaned: dict) -> bool:
    """A required address: a place or a street, not the country alone (the form always sends one)."""
    return any(cleaned.get(name) for name in addresses.PARTS[1:])


TEXT_LIMITS = {"name": 120, "company": 120, "title": 80, "source": 60, "notes": 5000, **addresses.LIMITS}


def _clean_field(name: str, value):
    if name == "name":
        return validation.text(value, name, TEXT_LIMITS[name], required=_("Name is required."))
    if name == "phone":
        return validation.phone(value, phone_region())
    if name == "email":
        return validation.normalise_email(value)
    if name == "level":
        return validation.choice(value, name, LEVELS, optional=True)
    if name == "stage":
        return validation.choice(value, name, STAGES, default="lead")
    if name == "kind":
        return validation.choice(value, name, KINDS, default="person")
    if name == "preferred_channel":
        return validation.choice(value, name, CHANNELS, default="sms")
    if name == "owner_id":
        return validation.owner(value)
    if name in SENSITIVE:
        return sensitive.sensitive_value(name, value)
    return validation.text(value, name, TEXT_LIMITS[name])


def _audit_state(customer: Customer) -> dict:
    """What the audit compares beside the editable fields: sensitive values by hash, custom values."""
    state = {name: getattr(customer, f"{name}_idx") for name in SENSITIVE}
    state.update({f"custom.{key}": value for key, value in (customer.custom or {}).items()})
    # Sensitive custom values are compared by their tokens and always shown masked.
    state.update({f"secret.{key}": token for key, token in (customer.custom_sensitive or {}).items()})
    return state


def live_customers() -> int:
    """Customers not in the trash: what a plan's customer limit counts (emptying the trash frees room)."""
    return db.session.scalar(select(func.count(Customer.id)).where(Customer.deleted_at.is_(None)))


def create_customer(viewer: Member, data: dict, custom: dict | None = None) -> Customer:
    """A new customer; owned by the viewer unless another owner (within the viewer's reach) is chosen.

    `custom` holds raw custom field values by key; every problem, built-in or custom, is reported at once."""
    check_room("customers", live_customers)
    customer = Customer()
    cleaned = _clean_with_custom(customer, data, custom or {}, partial=False, creating=True)
    cleaned.setdefault("owner_id", viewer.id)
    _check_owner(viewer, cleaned["owner_id"], "create")
    sensitive.store_sensitive(viewer, customer, cleaned)
    for name, value in cleaned.items():
        setattr(customer, name, value)
    db.session.add(customer)
    db.session.flush()
    record("create", "customer", customer.id, summary=customer.name)
    webhooks.emit("customer.created", customer)
    return customer


def update_customer(viewer: Member, customer: Customer, data: dict, partial: bool = False,
                    custom: dict | None = None) -> Customer:
    """Change fields (all from the form, or the few given when `partial`); the change is audited."""
    with audited(customer, entity="customer", fields=EDITABLE, state=_audit_state, sensitive=SENSITIVE + ("secret.",),
                 summary=lambda c: c.name) as change:
        cleaned = _clean_with_custom(customer, data, custom or {}, partial=partial, creating=False)
        if "owner_id" in cleaned and cleaned["owner_id"] != customer.owner_id:
            _check_owner(viewer, cleaned["owner_id"], "edit")
        sensitive.store_sensitive(viewer, customer, cleaned)
        for name, value in cleaned.items():
            setattr(customer, name, value)
    if change:
        customer.updated_at = utcnow()
        webhooks.emit("customer.updated", customer)
    db.session.flush()
    return customer


def _clean_with_custom(customer: Customer, data: dict, custom: dict, partial: bool, creating: bool) -> dict:
    """Built-in and custom values validated together, so the form shows every problem at once."""
    errors = {}
    data = _with_street(data)
    if not creating and any(name in data for name in addresses.PARTS):
        # The parts not sent are the stored ones, so a city alone is checked against the stored province.
        data = {**{name: getattr(customer, name) for name in addresses.PARTS}, **data}
    cleaned = validation.collect(errors, clean, data, partial=partial)
    validation.collect(errors, record_values.apply_values, customer, dict(custom), creating)
    if errors:
        raise Invalid(errors)
    return cleaned


def _check_owner(viewer: Member, owner_id: int | None, action: str) -> None:
    """A role without "all" scope may only give customers to members it reaches (its own team, or itself)."""
    scope = viewer.role.scope("customers", action)
    if scope == "all":
        return
    if not in_reach(viewer, "customers", action, owner_id):
        raise Invalid({"owner_id": _("You can only give customers to members of your own team.")
                       if scope != "own" else _("You can only own customers yourself.")})


def selected(viewer: Member, ids, action: str) -> list[Customer]:
    """The customers among `ids` the viewer may act on; ids outside the scope are silently ignored."""
    ids = [i for i in map(record_id, ids) if i][:1000]
    if not ids:
        return []
    return list(db.session.scalars(visible(viewer, action).where(Customer.id.in_(ids))).unique())


def add_tag(customers: list[Customer], tag: Tag) -> int:
    """Tag the customers; already tagged ones are left as they are. Returns how many were tagged."""
    chosen = [c for c in customers if tag not in c.tags]
    if chosen:
        db.session.execute(insert(customer_tags), [{"customer_id": c.id, "tag_id": tag.id} for c in chosen])
        db.session.execute(update(Customer).where(Customer.id.in_([c.id for c in chosen]))
                           .values(tag_ids=func.array_append(Customer.tag_ids, tag.id)))
        for customer in chosen:
            record("update", "customer", customer.id, summary=customer.name, changes={"tags": [None, tag.name]})
            webhooks.emit("customer.updated", customer)
        db.session.expire_all()
    return len(chosen)


def remove_tag(customers: list[Customer], tag: Tag) -> int:
    chosen = [c for c in customers if tag in c.tags]
    if chosen:
        db.session.execute(delete(customer_tags).where(customer_tags.c.tag_id == tag.id,
                                                        customer_tags.c.customer_id.in_([c.id for c in chosen])))
        db.session.execute(update(Customer).where(Customer.id.in_([c.id for c in chosen]))
                           .values(tag_ids=func.array_remove(Customer.tag_ids, tag.id)))
        for customer in chosen:
            record("update", "customer", customer.id, summary=customer.name, changes={"tags": [tag.name, None]})
            webhooks.emit("customer.updated", customer)
        db.session.expire_all()
    return len(chosen)


def set_owner(viewer: Member, customers: list[Customer], owner_id) -> int:
    owner_id = validation.owner(owner_id)
    _check_owner(viewer, owner_id, "edit")
    for customer in customers:
        if customer.owner_id != owner_id:
            record("update", "customer", customer.id, summary=customer.name,
                   changes={"owner_id": [customer.owner_id, owner_id]})
            customer.owner_id, customer.updated_at = owner_id, utcnow()
            webhooks.emit("customer.updated", customer)
    return len(customers)


def move_to_trash(customers: list[Customer]) -> int:
    now = utcnow()
    for customer in customers:
        customer.deleted_at = now
        record("delete", "customer", customer.id, summary=customer.name)
        webhooks.emit("customer.deleted", customer)
    return len(customers)


def trash(viewer: Member, limit: int = 200) -> list[Customer]:
    """Deleted customers the viewer may restore, most recently deleted first."""
    stmt = scoped(select(Customer).where(Customer.deleted_at.is_not(None)), viewer, "customers", "delete", Customer)
    return list(db.session.scalars(stmt.order_by(Customer.deleted_at.desc()).limit(limit)).unique())


def trashed(viewer: Member, ids) -> list[Customer]:
    ids = [i for i in map(record_id, ids) if i][:1000]
    stmt = scoped(select(Customer).where(Customer.deleted_at.is_not(None), Customer.id.in_(ids)),
                  viewer, "customers", "delete", Customer)
    return list(db.session.scalars(stmt).unique())


def restore(customers: list[Customer]) -> int:
    for customer in customers:
        customer.deleted_at = None
        record("restore", "customer", customer.id, summary=customer.name)
        webhooks.emit("customer.updated", customer)  # back: a subscriber that dropped it on customer.deleted re-adds it
    return len(customers)


def purge(customers: list[Customer]) -> int:
    """Delete for good (from the trash only)."""
    for customer in customers:
        # The owner it had: GET /api/v1/deletions shows it to whoever could see the customer (crm/audit/deletions.py).
        record("purge", "customer", customer.id, summary=customer.name, changes={"owner_id": [customer.owner_id, None]})
        db.session.delete(customer)
    return len(customers)
