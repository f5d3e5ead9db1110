"""A campaign's audience: the customer list's filter arguments, stored on the campaign and read back as that
list's query, counted, paged for sending and put in words.

The audience is stored as the customer list's query arguments and read back with CustomerQuery and list_customers,
so it is exactly what the list shows for those filters, within the creator's customers/view scope (as it is when
the batch runs)."""
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from crm import listing
from crm.campaigns.models import Campaign
from crm.contacts.models import Contact
from crm.customers import queries as customers
from crm.customers.models import STAGE_LABELS, Customer
from crm.extensions import db
from crm.fields import definitions as fields
from crm.fields import filters
from crm.members.models import Member

# The customer list's filter arguments a campaign keeps (search, sort and paging are left out; custom field
# filters are the cf_* arguments).
AUDIENCE_KEYS = ("q", "tag", "tag_mode", "level", "stage", "owner", *customers.NARROWING)


def audience_args(args) -> dict[str, list[str]]:
    """The filter arguments of a request (the customer list's names), cleaned, as stored on a campaign."""
    query = customers.CustomerQuery.from_args(args)
    values = query.args(sort="", after="")
    kept = {}
    for key, value in values.items():
        if key in AUDIENCE_KEYS or (key.startswith("cf_") and len(kept) < 60):
            items = value if isinstance(value, list) else [value]
            kept[key[:80]] = [str(item)[:200] for item in items][:20]
    if "tag_mode" in kept and "tag" not in kept:
        del kept["tag_mode"]
    return kept


def audience_query(audience: dict, definitions=None) -> customers.CustomerQuery:
    """The customer list's query for a stored audience, in id order (the keyset the expansion walks)."""
    args = MultiDict([(key, value) for key, values in (audience or {}).items() for value in values])
    query = customers.CustomerQuery.from_args(args)
    query.custom = filters.filter_args(args, fields.fields() if definitions is None else definitions)
    query.sort = "oldest"
    return query


def count_audience(member: Member, audience: dict) -> int:
    """How many live customers the audience holds for `member` (the creator, or who is filling the form)."""
    return customers.count_customers(member, audience_query(audience))


def count_recipients(member: Member, audience: dict, recipients: str) -> int:
    """How many messages the audience makes: one per customer, or (to all contacts) one per contact of each
    customer, one for a customer without contacts. The progress card counts people in the same unit."""
    if recipients != "contacts":
        return count_audience(member, audience)
    query = audience_query(audience)
    people = func.greatest(1, select(func.count(Contact.id)).where(Contact.customer_id == Customer.id)
                           .correlate(Customer).scalar_subquery())
    stmt = customers.filtered(customers.visible(member), member, query).with_only_columns(
        func.coalesce(func.sum(people), 0))
    return db.session.scalar(stmt.order_by(None))


def audience_member(viewer: Member, campaign: Campaign | None) -> Member:
    """Whose customers/view scope an audience is counted in: the campaign's creator, else the viewer."""
    return campaign.owner if campaign is not None else viewer


def audience_page(member: Member, audience: dict, after_id: int, size: int) -> tuple[list[Customer], bool]:
    """The next `size` customers of the audience after `after_id`, and whether more follow."""
    query = audience_query(audience)
    query.after = listing.cursor([after_id]) if after_id else ""  # the "oldest" order's one key is the id
    rows, next_cursor, _total = customers.list_customers(member, query, limit=size)
    return rows, bool(next_cursor)


def describe_audience(audience: dict) -> list[str]:
    """The filters in words, for the campaign's page."""
    from crm.tags import service as tags

    query = audience_query(audience)
    parts = []
    if query.q:
        parts.append(_("Search: %(q)s", q=query.q))
    if query.tags:
        names = [tag.name for tag in tags.all_tags() if tag.id in query.tags]
        parts.append((_("Any of the tags: %(tags)s", tags=", ".join(names)) if query.tag_mode == "any"
                      else _("All of the tags: %(tags)s", tags=", ".join(names))))
    if query.level:
        parts.append(_("Level %(level)s", level=query.level))
    if query.stage:
        parts.append(str(STAGE_LABELS.get(query.stage, query.stage)))
    if query.owner == "me":
        parts.append(_("Owned by the campaign's creator"))
    elif query.owner == "none":
        parts.append(_("No owner"))
    elif query.owner:
        owner = db.session.get(Member, int(query.owner))
        parts.append(_("Owner: %(name)s", name=owner.name if owner else "?"))
    if query.custom:
        parts.append(_("%(n)d custom field filters", n=len(query.custom)))
    if query.narrowing():
        parts.append(_("Narrowed by a report."))
    return parts
