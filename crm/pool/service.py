"""The pool and what people do with it: the pool list (contacts masked until claimed), claims and assignments
within each role's limit, releases with a reason."""
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import defer, lazyload

from crm import crypto, listing, validation
from crm.audit.service import record
from crm.customers import queries as customers
from crm.customers.models import LEVELS, Customer
from crm.errors import Invalid
from crm.extensions import db, utcnow
from crm.members.access import reached_members
from crm.members.models import Member
from crm.timeline import service as timeline
from crm.validation import record_id
from crm.webhooks import events as webhooks

PAGE_SIZE = 25
MANAGER_SCOPES = ("team", "subteams", "all")
NEWEST_IN_POOL = (listing.Key(Customer.pooled_at, datetime, descending=True, nullable=True),
                  listing.Key(Customer.id, descending=True))


# The pool list

@dataclass
class PoolQuery:
    """What the pool list was asked for: search, level, tag and the keyset cursor."""

    q: str = ""
    level: str = ""
    tag: int | None = None
    after: str = ""

    @classmethod
    def from_args(cls, args) -> "PoolQuery":
        """Read the query string; anything malformed is ignored rather than failing the page."""
        return cls(q=validation.clipped(args.get("q"), 100),
                   level=args.get("level", "") if args.get("level") in LEVELS else "",
                   tag=record_id(args.get("tag")), after=args.get("after", ""))

    def args(self, **changes) -> dict:
        """Query-string arguments for a link to this list with `changes`."""
        values = {"q": self.q, "level": self.level, "tag": self.tag, "after": "", **changes}
        return {k: v for k, v in values.items() if v}

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.level or self.tag)


def in_pool():
    """Live customers without an owner."""
    return select(Customer).where(Customer.owner_id.is_(None), Customer.deleted_at.is_(None))


def _filtered(viewer: Member, query: PoolQuery):
    """The customer list's search (GIN-indexed grams), level and tag conditions on the pool."""
    wanted = customers.CustomerQuery(q=query.q, level=query.level, tags=[query.tag] if query.tag else [])
    return customers.filtered(in_pool(), viewer, wanted)


def list_pool(viewer: Member, query: PoolQuery, limit: int = PAGE_SIZE) -> tuple[list[Customer], str]:
    """One page of pool customers, most recently pooled first, and the next page's cursor ('' on the last)."""
    stmt = _filtered(viewer, query).options(
        lazyload(Customer.owner), defer(Customer.notes), defer(Customer.street), defer(Customer.custom_sensitive),
        defer(Customer.id_number_enc), defer(Customer.bank_account_enc))
    return listing.page(stmt, NEWEST_IN_POOL, query.after, limit)


def count_pool(viewer: Member, query: PoolQuery) -> int:
    return db.session.scalar(_filtered(viewer, query).with_only_columns(func.count(Customer.id)).order_by(None))


def masks_contacts(viewer: Member) -> bool:
    """Phones and emails of pool customers are masked until claimed, except for roles that see every
    customer anyway (customers/view scope "all")."""
    return viewer.role.scope("customers", "view") != "all"


def mask_phone(value: str | None) -> str:
    """`**** 8000`: the last digits only."""
    return crypto.mask(value)


def mask_email(value: str | None) -> str:
    """`z***@example.com`: the domain says which company; the person stays private until claimed."""
    if not value or "@" not in value:
        return crypto.mask(value)
    local, domain = value.split("@", 1)
    return f"{local[:1]}***@{domain}"


# Claims, assignments, releases

def owned_count(member_id: int) -> int:
    """How many live customers the member owns now."""
    return db.session.scalar(select(func.count(Customer.id)).where(Customer.owner_id == member_id,
                                                                   Customer.deleted_at.is_(None)))


def _lock_pooled(ids) -> list[Customer]:
    """The chosen customers still in the pool, locked: two people claiming one customer cannot both get it."""
    ids = [i for i in map(record_id, ids) if i][:1000]
    if not ids:
        raise Invalid({"ids": _("Choose at least one customer.")})
    stmt = in_pool().where(Customer.id.in_(ids)).options(lazyload(Customer.owner)).with_for_update(of=Customer)
    found = list(db.session.scalars(stmt.order_by(Customer.id)).unique())
    if not found:
        raise Invalid({"ids": _("None of the chosen customers is in the pool any more.")})
    return found


def _check_limit(member: Member, adding: int, claimant: bool) -> None:
    """Refuse when the member would own more customers than the role's pool limit."""
    limit = member.role.pool_limit
    if limit is None:
        return
    # Claims for one member wait for each other, so two at once cannot both pass the count.
    db.session.execute(select(Member.id).where(Member.id == member.id).with_for_update())
    owned = owned_count(member.id)
    if owned + adding <= limit:
        return
    left = max(limit - owned, 0)
    if claimant:
        message = _("You may own at most %(limit)d customers and own %(owned)d now, so you can claim "
                    "%(left)d more.", limit=limit, owned=owned, left=left)
    else:
        message = _("%(name)s may own at most %(limit)d customers and owns %(owned)d now, so %(left)d more can "
                    "be assigned.", name=member.name, limit=limit, owned=owned, left=left)
    raise Invalid({"ids": message})


def _give(customer: Customer, member: Member, kind: str) -> None:
    """Make `member` the owner of a pool customer (the owner-change listener restarts the recycle clock)."""
    customer.owner_id, customer.updated_at = member.id, utcnow()
    record("update", "customer", customer.id, summary=customer.name, changes={"owner_id": [None, member.id]})
    # owner_id: whose customer it became (or was, when it returns): the reports count pool moves in their scope.
    timeline.log(kind, customer_id=customer.id, member=member.name, owner_id=member.id)
    webhooks.emit("customer.updated", customer)  # its owner changed: a subscriber syncing owners hears of it


def claim(viewer: Member, ids) -> list[Customer]:
    """Take pool customers for the viewer, within the role's limit; all or none."""
    chosen = _lock_pooled(ids)
    _check_limit(viewer, len(chosen), claimant=True)
    for customer in chosen:
        _give(customer, viewer, "pool_claimed")
    return chosen


def claim_one(viewer: Member, customer_id: int) -> Customer:
    """Claim one customer; one that has an owner already is refused if the viewer may see it, else not found."""
    if db.session.scalar(in_pool().where(Customer.id == customer_id).with_only_columns(Customer.id)) is None:
        taken = customers.get_customer(viewer, customer_id, "edit")
        raise Invalid({"ids": _("%(name)s already has an owner.", name=taken.name)})
    return claim(viewer, [customer_id])[0]


def may_assign(viewer: Member) -> bool:
    """Managers assign: a role that edits customers of a team, a team and its sub-teams, or everyone."""
    return viewer.role.scope("customers", "edit") in MANAGER_SCOPES


def assignees(viewer: Member) -> list[Member]:
    """Active members the viewer may give pool customers to."""
    if not may_assign(viewer):
        return []
    stmt = select(Member).where(Member.active).order_by(Member.name)
    scope = viewer.role.scope("customers", "edit")
    if scope != "all":
        stmt = stmt.where(Member.id.in_(reached_members(viewer, scope == "subteams")))
    return list(db.session.scalars(stmt).unique())


def assign(viewer: Member, ids, member_id) -> tuple[list[Customer], Member]:
    """Give pool customers to a member within the viewer's reach, within that member's limit; all or none."""
    if not may_assign(viewer):
        raise Invalid({"member_id": _("Only managers can assign customers from the pool.")})
    member = next((m for m in assignees(viewer) if m.id == record_id(member_id)), None)
    if member is None:
        raise Invalid({"member_id": _("Choose an active member of your team.")})
    chosen = _lock_pooled(ids)
    _check_limit(member, len(chosen), claimant=member.id == viewer.id)
    for customer in chosen:
        _give(customer, member, "pool_assigned")
    return chosen, member


def may_release(viewer: Member, customer: Customer) -> bool:
    """Whether the viewer may send this owned customer back to the pool (its owner, or edit scope over it)."""
    if customer.owner_id is None:
        return False
    stmt = customers.visible(viewer, "edit").where(Customer.id == customer.id).with_only_columns(Customer.id)
    return db.session.scalar(stmt) is not None


def release(viewer: Member, customer: Customer, reason) -> Customer:
    """Send a customer the viewer may edit back to the pool, with a reason on its timeline."""
    reason = validation.text(reason, "reason", 200, required=_("Say why the customer goes back to the pool."))
    if customer.owner_id is None:
        raise Invalid({"reason": _("This customer is already in the pool.")})
    previous = customer.owner_id
    customer.owner_id, customer.updated_at = None, utcnow()
    customer.pool_reason = reason
    record("update", "customer", customer.id, summary=customer.name,
           changes={"owner_id": [previous, None], "pool_reason": [None, reason]})
    timeline.log("pool_released", customer_id=customer.id, reason=reason, owner_id=previous)
    webhooks.emit("customer.updated", customer)
    return customer
