"""Customer rules and queries: scoped search, keyset pages, validation, tags, bulk actions and trash."""
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import defer, joinedload

from crm import crypto, listing, validation
from crm.audit.service import MASK, audited, record
from crm.customers.models import (
    CHANNELS,
    KINDS,
    LEVELS,
    SENSITIVE,
    STAGES,
    Customer,
    Tag,
    customer_tags,
)
from crm.errors import Invalid, NotFound
from crm.extensions import db, utcnow
from crm.fields import service as fields
from crm.members.access import in_reach, scoped
from crm.members.models import Member
from crm.settings import phone_region
from crm.validation import record_id
from tenants.binding import current_tenant

PAGE_SIZE = 25
SORTS = {
    "newest": (listing.Key(Customer.id, descending=True),),
    "oldest": (listing.Key(Customer.id),),
    "name": (listing.Key(Customer.name, str), listing.Key(Customer.id)),
    "updated": (listing.Key(Customer.updated_at, datetime, descending=True), listing.Key(Customer.id, descending=True)),
}
# The same orders in a form no btree index can deliver. With a search term the matches come from the GIN
# index and are few; walking the id (or name) index instead, hoping to meet 25 matches early, reads the
# whole table when there are none (seen: 100 ms at 100,000 customers). Filters alone (a tag, a custom
# field) often match a large share of customers, where the index walk is the fast way: they keep it.
_ID, _NAME = Customer.id + 0, Customer.name.concat("")
SORTS_AFTER_FILTER = {
    "newest": (_ID.desc(),),
    "oldest": (_ID.asc(),),
    "name": (_NAME.asc(), _ID.asc()),
    "updated": ((Customer.updated_at + timedelta(0)).desc(), _ID.desc()),
}
EDITABLE = ("name", "kind", "phone", "email", "company", "title", "address", "source", "level", "stage",
            "owner_id", "notes", "preferred_channel")
INLINE_EDITABLE = ("name", "phone", "email", "company", "title", "level", "stage", "owner_id", "source")


@dataclass
class CustomerQuery:
    """What the customer list was asked for: search, filters, sort and the keyset cursor."""

    q: str = ""
    tags: list[int] = field(default_factory=list)
    tag_mode: str = "all"
    level: str = ""
    stage: str = ""
    owner: str = ""  # a member id, "me" or "none"
    sort: str = "newest"
    after: str = ""
    custom: dict = field(default_factory=dict)  # custom field filters, from fields.filter_args()
    custom_args: dict = field(default_factory=dict)  # their query-string arguments, for links

    def __post_init__(self):
        self.q = validation.clipped(self.q, 100)  # the choosers of other features make queries too

    @classmethod
    def from_args(cls, args) -> "CustomerQuery":
        """Read the query string; anything malformed is ignored rather than failing the page."""
        return cls(
            q=args.get("q", ""),
            tags=[tag_id for tag_id in map(record_id, args.getlist("tag")) if tag_id][:10],
            tag_mode="any" if args.get("tag_mode") == "any" else "all",
            level=args.get("level", "") if args.get("level") in LEVELS else "",
            stage=args.get("stage", "") if args.get("stage") in STAGES else "",
            owner=args.get("owner", "") if record_id(args.get("owner")) or args.get("owner") in ("me", "none")
            else "",
            sort=args.get("sort") if args.get("sort") in SORTS else "newest",
            after=args.get("after", ""),
            custom_args={k: args.getlist(k)[:20] for k in args if k.startswith("cf_")},
        )

    def args(self, **changes) -> dict:
        """Query-string arguments for a link to this list with `changes`."""
        values = {"q": self.q, "tag": self.tags, "tag_mode": self.tag_mode if self.tags else "",
                  "level": self.level, "stage": self.stage, "owner": self.owner,
                  "sort": self.sort if self.sort != "newest" else "", "after": "", **self.custom_args}
        values.update(changes)
        return {k: v for k, v in values.items() if v}

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.tags or self.level or self.stage or self.owner or self.custom)


def visible(viewer: Member, action: str = "view"):
    """Live (not deleted) customers the viewer may act on."""
    stmt = select(Customer).where(Customer.deleted_at.is_(None))
    return scoped(stmt, viewer, "customers", action, Customer)


def _search_term(q: str) -> str:
    """Phone-like input as the digits people dial nationally (no spaces, "+" or +86), else lower case."""
    digits = re.sub(r"[\s\-()+]", "", q)
    if digits.isdigit() and len(digits) >= 3:
        return digits[2:] if q.strip().startswith("+86") else digits
    return q.lower()


def filtered(stmt, viewer: Member, query: CustomerQuery):
    if query.q:
        stmt = stmt.where(or_(_text_match(_search_term(query.q)), *_sensitive_matches(query.q)))
    if query.tags:
        stmt = stmt.where(_tag_condition(query.tags, query.tag_mode))
    if query.level:
        stmt = stmt.where(Customer.level == query.level)
    if query.stage:
        stmt = stmt.where(Customer.stage == query.stage)
    if query.owner == "me":
        stmt = stmt.where(Customer.owner_id == viewer.id)
    elif query.owner == "none":
        stmt = stmt.where(Customer.owner_id.is_(None))
    elif query.owner:
        stmt = stmt.where(Customer.owner_id == int(query.owner))
    if query.custom:
        stmt = stmt.where(*fields.conditions(query.custom, Customer.custom))
    return stmt


def _tag_condition(tag_ids: list[int], mode: str):
    """Array operators on the GIN-indexed tag_ids: any = overlap, all = contains."""
    wanted = sorted(set(tag_ids))
    return Customer.tag_ids.overlap(wanted) if mode == "any" else Customer.tag_ids.contains(wanted)


def _text_match(term: str):
    """Substring match: the GIN-indexed grams find the candidates; LIKE confirms when the term is longer
    than one gram (for a single gram, containing it is the match)."""
    grams = query_grams(term)
    like = Customer.search_text.contains(term, autoescape=True)
    if not grams:
        return like
    contains = Customer.search_grams.contains(grams)
    return contains if grams == [term] else contains & like


def query_grams(term: str) -> list[str]:
    """The grams every match must contain, as public.crm_grams() cuts them; [] when none can be used."""
    if len(term) == 1:
        return [term] if ord(term) > 127 else []
    return sorted({term[i:i + 2] for i in range(len(term) - 1) if not any(c.isspace() for c in term[i:i + 2])})


def _sensitive_matches(q: str) -> list:
    """Exact matches on ID number or bank account through their keyed hashes (nothing is decrypted)."""
    value = crypto.normalise_for_index(q)
    return [getattr(Customer, f"{name}_idx") == crypto.blind_index(value, _context(name))
            for name in SENSITIVE if re.fullmatch(SENSITIVE_FORMATS[name], value)]


def list_customers(viewer: Member, query: CustomerQuery, limit: int = PAGE_SIZE,
                   with_total: bool = False) -> tuple[list[Customer], str, int | None]:
    """One page of matching customers, the cursor of the next page ('' on the last one) and, when asked,
    the number of all matches."""
    stmt = filtered(visible(viewer), viewer, query)
    # The list shows the owner's name only: no role behind it, no long or secret columns.
    stmt = stmt.options(joinedload(Customer.owner).lazyload(Member.role), defer(Customer.notes),
                        defer(Customer.address), defer(Customer.custom_sensitive), defer(Customer.id_number_enc),
                        defer(Customer.bank_account_enc))
    narrowed = bool(query.q)  # see SORTS_AFTER_FILTER
    keys = SORTS[query.sort]
    stmt = listing.keyset(stmt, keys, query.after, limit, order_by=SORTS_AFTER_FILTER[query.sort] if narrowed else ())
    total = None
    if with_total and narrowed and not query.after:
        # The matches are gathered and sorted anyway, so counting them in the same pass is nearly free.
        found = db.session.execute(stmt.add_columns(func.count().over())).unique().all()
        rows, total = [row[0] for row in found], (found[0][1] if found else 0)
    else:
        rows = list(db.session.scalars(stmt).unique())
        if with_total:
            total = count_customers(viewer, query)
    rows, next_cursor = listing.next_page(rows, keys, limit)
    return rows, next_cursor, total


def count_customers(viewer: Member, query: CustomerQuery) -> int:
    stmt = filtered(visible(viewer), viewer, query).with_only_columns(func.count(Customer.id))
    return db.session.scalar(stmt.order_by(None))


def get_customer(viewer: Member, customer_id: int, action: str = "view") -> Customer:
    """A live customer the viewer may act on; anything else is simply not found."""
    customer = db.session.scalar(visible(viewer, action).where(Customer.id == customer_id))
    if customer is None:
        raise NotFound()
    return customer


def customer_name(customer_id) -> str:
    """A customer's name for the audit log, whoever reads it; `#id` once the customer is gone."""
    customer = db.session.get(Customer, record_id(customer_id) or 0)
    return customer.name if customer else f"#{customer_id}"


def clean(data: dict, partial: bool = False) -> dict:
    """Validate and normalise customer fields; all problems reported together."""
    cleaned, errors = {}, {}
    for name, value in data.items():
        if name in EDITABLE + SENSITIVE:
            cleaned[name] = validation.collect(errors, _clean_field, name, value)
    if not partial and not cleaned.get("name"):
        errors.setdefault("name", _("Name is required."))
    for name, rule in fields.builtin_rules().items():  # built-in fields this tenant made required
        if rule.get("required") and (name in cleaned or not partial) and cleaned.get(name) in (None, ""):
            errors.setdefault(name, _("This field is required."))
    if errors:
        raise Invalid(errors)
    return cleaned


TEXT_LIMITS = {"name": 120, "company": 120, "title": 80, "address": 250, "source": 60, "notes": 5000}


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
        return _sensitive_value(name, value)
    return validation.text(value, name, TEXT_LIMITS[name])


SENSITIVE_FORMATS = {"id_number": r"[0-9A-Z]{6,30}", "bank_account": r"[0-9A-Z]{8,34}"}


def _sensitive_value(name: str, value) -> str | None:
    """Spaces and dashes dropped, upper-cased; None (keep what is stored) when left empty."""
    value = crypto.normalise_for_index(value or "")
    if not value:
        return None
    if not re.fullmatch(SENSITIVE_FORMATS[name], value):
        raise Invalid({name: _("Enter 6-30 letters or digits.") if name == "id_number"
                       else _("Enter 8-34 letters or digits.")})
    return value


def _context(name: str) -> str:
    """Binds a sensitive value to its tenant and field (AES-GCM associated data)."""
    return f"{current_tenant().schema}:customers.{name}"


def _store_sensitive(viewer: Member, customer: Customer, cleaned: dict) -> None:
    for name in SENSITIVE:
        value = cleaned.pop(name, None)
        if value and viewer.can("sensitive", "edit"):
            setattr(customer, f"{name}_enc", crypto.encrypt(value, _context(name)))
            setattr(customer, f"{name}_idx", crypto.blind_index(value, _context(name)))


def masked(customer: Customer, name: str) -> str:
    token = getattr(customer, f"{name}_enc")
    return crypto.mask(crypto.decrypt(token, _context(name))) if token else ""


def reveal(viewer: Member, customer_id: int, name: str) -> str:
    """The plaintext of a sensitive field, for a role that may reveal it on this customer; audited."""
    custom_key = name.removeprefix("custom_") if name.startswith("custom_") else None
    if name not in SENSITIVE and custom_key is None:
        raise NotFound()
    stmt = scoped(select(Customer).where(Customer.id == customer_id, Customer.deleted_at.is_(None)),
                  viewer, "sensitive", "view", Customer)
    customer = db.session.scalar(stmt)
    if customer is None:
        raise NotFound()
    value = fields.reveal_custom(customer, custom_key) if custom_key else _reveal_builtin(customer, name)
    record("reveal", "customer", customer.id, summary=name, changes={name: [MASK, MASK]})
    return value


def _reveal_builtin(customer: Customer, name: str) -> str:
    token = getattr(customer, f"{name}_enc")
    if not token:
        raise NotFound()
    return crypto.decrypt(token, _context(name))


def rotate_sensitive(batch: int = 500) -> int:
    """Re-encrypt, under the newest key, every sensitive value of the bound tenant still under an older one."""
    done = 0
    for customer in db.session.scalars(select(Customer).where(
            or_(Customer.id_number_enc.is_not(None), Customer.bank_account_enc.is_not(None)))
            .execution_options(yield_per=batch)):
        for name in SENSITIVE:
            token = getattr(customer, f"{name}_enc")
            if token and crypto.needs_rotation(token):
                setattr(customer, f"{name}_enc", crypto.encrypt(crypto.decrypt(token, _context(name)),
                                                                 _context(name)))
                done += 1
    return done


def _audit_state(customer: Customer) -> dict:
    """What the audit compares beside the editable fields: sensitive values by hash, custom values."""
    state = {name: getattr(customer, f"{name}_idx") for name in SENSITIVE}
    state.update({f"custom.{key}": value for key, value in (customer.custom or {}).items()})
    # Sensitive custom values are compared by their tokens and always shown masked.
    state.update({f"secret.{key}": token for key, token in (customer.custom_sensitive or {}).items()})
    return state


def create_customer(viewer: Member, data: dict, custom: dict | None = None) -> Customer:
    """A new customer; owned by the viewer unless another owner (within the viewer's reach) is chosen.

    `custom` holds raw custom field values by key; every problem, built-in or custom, is reported at once."""
    customer = Customer()
    cleaned = _clean_with_custom(customer, data, custom or {}, partial=False, creating=True)
    cleaned.setdefault("owner_id", viewer.id)
    _check_owner(viewer, cleaned["owner_id"], "create")
    _store_sensitive(viewer, customer, cleaned)
    for name, value in cleaned.items():
        setattr(customer, name, value)
    db.session.add(customer)
    db.session.flush()
    record("create", "customer", customer.id, summary=customer.name)
    return customer


def update_customer(viewer: Member, customer: Customer, data: dict, partial: bool = False,
                    custom: dict | None = None) -> Customer:
    """Change fields (all from the form, or the few given when `partial`); the change is audited."""
    with audited(customer, entity="customer", fields=EDITABLE, state=_audit_state, sensitive=SENSITIVE + ("secret.",),
                 summary=lambda c: c.name) as change:
        cleaned = _clean_with_custom(customer, data, custom or {}, partial=partial, creating=False)
        if "owner_id" in cleaned and cleaned["owner_id"] != customer.owner_id:
            _check_owner(viewer, cleaned["owner_id"], "edit")
        _store_sensitive(viewer, customer, cleaned)
        for name, value in cleaned.items():
            setattr(customer, name, value)
    if change:
        customer.updated_at = utcnow()
    db.session.flush()
    return customer


def _clean_with_custom(customer: Customer, data: dict, custom: dict, partial: bool, creating: bool) -> dict:
    """Built-in and custom values validated together, so the form shows every problem at once."""
    errors = {}
    cleaned = validation.collect(errors, clean, data, partial=partial)
    validation.collect(errors, fields.apply_values, customer, dict(custom), creating)
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


def possible_duplicates(viewer: Member, phone: str, email: str, exclude_id: int | None = None) -> dict:
    """Other live customers with the same phone or email: the ones the viewer may see, and how many others."""
    conditions = []
    for name, value in (("phone", validation.or_none(validation.phone, phone, phone_region())),
                        ("email", validation.or_none(validation.normalise_email, email))):
        if value:
            conditions.append(getattr(Customer, name) == value)
    if not conditions:
        return {"visible": [], "hidden": 0}
    same = select(Customer).where(Customer.deleted_at.is_(None), or_(*conditions))
    if exclude_id:
        same = same.where(Customer.id != exclude_id)
    shown = list(db.session.scalars(scoped(same, viewer, "customers", "view", Customer).limit(5)).unique())
    total = db.session.scalar(same.with_only_columns(func.count(Customer.id)))
    return {"visible": shown, "hidden": max(total - len(shown), 0)}


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
    return len(customers)


def move_to_trash(customers: list[Customer]) -> int:
    now = utcnow()
    for customer in customers:
        customer.deleted_at = now
        record("delete", "customer", customer.id, summary=customer.name)
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
    return len(customers)


def purge(customers: list[Customer]) -> int:
    """Delete for good (from the trash only)."""
    for customer in customers:
        record("purge", "customer", customer.id, summary=customer.name)
        db.session.delete(customer)
    return len(customers)


def active_members() -> list[Member]:
    return list(db.session.scalars(select(Member).where(Member.active).order_by(Member.name)).unique())


def count_by_stage(viewer: Member) -> dict[str, int]:
    """How many customers the viewer sees in each lifecycle stage."""
    stmt = visible(viewer).with_only_columns(Customer.stage, func.count(Customer.id)).group_by(Customer.stage)
    return dict(db.session.execute(stmt.order_by(None)).all())
