"""Customer queries: the list's search, filters and keyset pages, counts, one customer, possible duplicates."""
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import phonenumbers
from sqlalchemy import func, or_, select
from sqlalchemy.orm import defer, joinedload

from crm import listing, validation
from crm.customers.models import LEVELS, STAGES, Customer
from crm.customers.sensitive import sensitive_matches
from crm.errors import NotFound
from crm.extensions import db, utcnow
from crm.fields import filters
from crm.members.access import scoped
from crm.members.models import Member
from crm.settings import on_local_days, phone_region
from crm.validation import record_id
from crm.workspace_settings import places

PAGE_SIZE = 25
NARROWING = ("source", "team", "quiet", "created_from", "created_to")  # see CustomerQuery.narrowing()
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
    custom: dict = field(default_factory=dict)  # custom field filters, from crm.fields.filters.filter_args()
    custom_args: dict = field(default_factory=dict)  # their query-string arguments, for links
    # Where: the country (ISO 3166 alpha-2), the province or region and the city, as stored (crm/customers/addresses).
    country: str = ""
    region: str = ""
    city: str = ""
    # Narrowed from a report (crm/reports): the filter form keeps them as hidden fields.
    source: str = ""
    team: int | None = None  # the owner is a member of this team
    created_from: date | None = None  # local days of the workspace
    created_to: date | None = None
    quiet: int | None = None  # no follow-up done in this many days (or never)
    updated_since: datetime | None = None  # changed at or after this time: what the API's sync clients ask

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
            country=_country(args.get("country")),
            region=validation.clipped(args.get("region"), 60),
            city=validation.clipped(args.get("city"), 60),
            source=validation.clipped(args.get("source"), 60),
            team=record_id(args.get("team")),
            created_from=_day(args, "created_from"),
            created_to=_day(args, "created_to"),
            quiet=validation.or_none(validation.whole_number, args.get("quiet"), "quiet", 1, 3650),
        )

    def args(self, **changes) -> dict:
        """Query-string arguments for a link to this list with `changes`."""
        values = {"q": self.q, "tag": self.tags, "tag_mode": self.tag_mode if self.tags else "",
                  "level": self.level, "stage": self.stage, "owner": self.owner,
                  "country": self.country, "region": self.region, "city": self.city,
                  "sort": self.sort if self.sort != "newest" else "", "after": "", **self.custom_args,
                  **self.narrowing()}
        values.update(changes)
        return {k: v for k, v in values.items() if v}

    def narrowing(self) -> dict:
        """The filters a report's link may add that the filter form has no control for."""
        values = {"source": self.source, "team": self.team, "quiet": self.quiet,
                  "created_from": self.created_from.isoformat() if self.created_from else "",
                  "created_to": self.created_to.isoformat() if self.created_to else ""}
        return {k: v for k, v in values.items() if v}

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.tags or self.level or self.stage or self.owner or self.custom or self.narrowing()
                    or self.country or self.region or self.city)


def _country(value) -> str:
    code = (value or "").strip().upper()
    return code if code in places.region_codes() else ""


def _day(args, name: str) -> date | None:
    """A local day from the query string; the day after it must still be a date."""
    return validation.or_none(validation.day, args.get(name), name, validation.EARLIEST, date(9998, 12, 31))


def visible(viewer: Member, action: str = "view"):
    """Live (not deleted) customers the viewer may act on."""
    stmt = select(Customer).where(Customer.deleted_at.is_(None))
    return scoped(stmt, viewer, "customers", action, Customer)


def search_term(q: str) -> str:
    """Phone-like input as the digits people dial nationally (no spaces, "+" or +86), else lower case. A whole
    number is read in the workspace's country, so `020 7946 0958` finds +44 20 7946 0958 (the trunk 0 dropped)."""
    digits = re.sub(r"[\s\-()+]", "", q)
    if digits.isdigit() and len(digits) >= 3:
        whole = validation.or_none(validation.phone, q, phone_region(), "q")
        if whole:
            return str(phonenumbers.parse(whole).national_number)
        return digits[2:] if q.strip().startswith("+86") else digits
    return q.lower()


def filtered(stmt, viewer: Member, query: CustomerQuery):
    if query.q:
        stmt = stmt.where(or_(_text_match(search_term(query.q)), *sensitive_matches(query.q)))
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
        stmt = stmt.where(*filters.conditions(query.custom, Customer.custom))
    for name in ("country", "region", "city"):
        if getattr(query, name):
            stmt = stmt.where(getattr(Customer, name) == getattr(query, name))
    return _narrowed(stmt, query)


def _narrowed(stmt, query: CustomerQuery):
    if query.source:
        stmt = stmt.where(Customer.source == query.source)
    if query.team:
        stmt = stmt.where(Customer.owner_id.in_(select(Member.id).where(Member.team_id == query.team)))
    stmt = stmt.where(*on_local_days(Customer.created_at, query.created_from, query.created_to))
    if query.quiet:
        stmt = stmt.where(quiet_for(query.quiet))
    if query.updated_since:
        stmt = stmt.where(Customer.updated_at >= query.updated_since)
    return stmt


def quiet_for(days: int):
    """No follow-up done in the last `days` days, or never."""
    return or_(Customer.last_contact_at.is_(None), Customer.last_contact_at < utcnow() - timedelta(days=days))


def _tag_condition(tag_ids: list[int], mode: str):
    """Array operators on the GIN-indexed tag_ids: any = overlap, all = contains."""
    wanted = sorted(set(tag_ids))
    return Customer.tag_ids.overlap(wanted) if mode == "any" else Customer.tag_ids.contains(wanted)


def _text_match(term: str):
    return text_match(Customer.search_text, Customer.search_grams, term)


def text_match(text, grams_column, term: str):
    """Substring match of `term` (lower case) in `text`, whose grams (grams_expression) are `grams_column`: the
    GIN-indexed grams find the candidates; LIKE confirms when the term is longer than one gram (for a single gram,
    containing it is the match)."""
    grams = query_grams(term)
    like = text.contains(term, autoescape=True)
    if not grams:
        return like
    contains = grams_column.contains(grams)
    return contains if grams == [term] else contains & like


def query_grams(term: str) -> list[str]:
    """The grams every match must contain, as the search_grams column cuts them; [] when none can be used."""
    if len(term) == 1:
        return [term] if ord(term) > 127 else []
    return sorted({term[i:i + 2] for i in range(len(term) - 1) if not any(c.isspace() for c in term[i:i + 2])})


def list_customers(viewer: Member, query: CustomerQuery, limit: int = PAGE_SIZE,
                   with_total: bool = False, whole_rows: bool = False) -> tuple[list[Customer], str, int | None]:
    """One page of matching customers, the cursor of the next page ('' on the last one) and, when asked,
    the number of all matches. `whole_rows`: every column (the API shows them all), else the list's."""
    stmt = filtered(visible(viewer), viewer, query)
    # The list shows the owner's name only: no role behind it, no long or secret columns.
    stmt = stmt.options(joinedload(Customer.owner).lazyload(Member.role))
    if not whole_rows:
        stmt = stmt.options(defer(Customer.notes), defer(Customer.street), defer(Customer.custom_sensitive),
                            defer(Customer.id_number_enc), defer(Customer.bank_account_enc))
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


def count_by_stage(viewer: Member) -> dict[str, int]:
    """How many customers the viewer sees in each lifecycle stage."""
    stmt = visible(viewer).with_only_columns(Customer.stage, func.count(Customer.id)).group_by(Customer.stage)
    return dict(db.session.execute(stmt.order_by(None)).all())
