"""What each list exports: its rows under the list's own filters (read from the same query string) within the
viewer's `export` scope, and its columns, the list's visible ones or every field, read in the reader's language.

Rows are read as plain columns, never as records: a million customers cost one pass over the table, the names of
owners, stages and tags coming from small dictionaries read once."""
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select

from crm.contacts import service as contacts
from crm.contacts.models import Contact
from crm.customers import addresses
from crm.customers import queries as customers
from crm.customers.forms import CHANNEL_LABELS, FIELD_LABELS, KIND_LABELS
from crm.customers.models import SENSITIVE, STAGE_LABELS, Customer, Tag
from crm.customers.sensitive import masked, plain
from crm.deals import deal_queries
from crm.deals.forms import KIND_LABELS as DEAL_STATUS_LABELS
from crm.deals.models import Deal, Pipeline, Stage
from crm.extensions import db, utcnow
from crm.fields import definitions, filters
from crm.fields.record_values import masked_custom, reveal_custom
from crm.fields.values import display
from crm.followups.models import METHOD_LABELS, Activity
from crm.members.access import reached_members, scoped
from crm.members.models import Member
from crm.orders import queries as orders
from crm.orders.forms import STATUS_LABELS as ORDER_STATUS_LABELS
from crm.orders.models import Order
from crm.settings import workspace_zone
from crm.tickets import service as tickets
from crm.tickets.forms import KIND_LABELS as TICKET_KIND_LABELS
from crm.tickets.forms import PRIORITY_LABELS, STATUS_LABELS as TICKET_STATUS_LABELS
from crm.tickets.models import Ticket

# A kind's place in these (and BUILDERS) is in export links (crm/exports/service.py): new kinds go at the end.
TITLES = {"customers": _l("Customers"), "deals": _l("Deals"), "orders": _l("Orders"), "tickets": _l("Tickets"),
          "followups": _l("Follow-ups"), "contacts": _l("Contacts")}
RESOURCES = {"customers": "customers", "deals": "deals", "orders": "orders", "tickets": "tickets",
             "followups": "activities", "contacts": "customers"}
YES_NO = {True: _l("Yes"), False: _l("No")}


@dataclass
class Column:
    heading: Any  # a lazy label or a field's label in the reader's language
    value: Callable[[Any], Any]  # the cell, from one row of the source's statement


@dataclass
class Source:
    """One export: the statement of its rows and its columns; `revealed` names the sensitive fields written in
    full (the export is then audited as a reveal too)."""
    kind: str
    stmt: Select
    columns: list[Column]
    revealed: list[str] = field(default_factory=list)

    def headings(self) -> list[str]:
        return [str(column.heading) for column in self.columns]

    def rows(self, batch: int = 2000):
        """Every row, read through a server-side cursor `batch` rows at a time."""
        for row in db.session.execute(self.stmt.execution_options(yield_per=batch)):
            yield [column.value(row) for column in self.columns]


def in_workspace_zone() -> Callable[[datetime | None], datetime | None]:
    """Times in the workspace's time zone, to the minute, as spreadsheets hold times (no zone); the zone is
    looked up once per export, not per cell."""
    zone = workspace_zone()
    return lambda moment: moment.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0) if moment else None


def read_labels(labels: dict) -> Callable[[str | None], str]:
    """Labels read in the reader's language once per export, not per cell; an unknown key as stored."""
    read = {key: str(label) for key, label in labels.items()}
    return lambda key: read.get(key, key or "")


def _labelled(labels: dict, name: str):
    read = read_labels(labels)
    return lambda row: read(getattr(row, name))


def _timed(local, name: str):
    return lambda row: local(getattr(row, name))


def _names(model, column=None) -> dict:
    column = column if column is not None else model.name
    return dict(db.session.execute(select(model.id, column)).all())


def _member_names() -> dict:
    return _names(Member)


def build(kind: str, viewer: Member, args, all_fields: bool) -> Source:
    return BUILDERS[kind](viewer, args, all_fields)


def _customers(viewer: Member, args, all_fields: bool) -> Source:
    fields = definitions.fields()
    local = in_workspace_zone()
    query = customers.CustomerQuery.from_args(args)
    query.custom = filters.filter_args(args, fields)
    owners, tag_names = _member_names(), _names(Tag)
    columns = [Column(FIELD_LABELS["name"], lambda r: r.name), Column(FIELD_LABELS["phone"], lambda r: r.phone),
               Column(FIELD_LABELS["email"], lambda r: r.email),
               Column(FIELD_LABELS["stage"], _labelled(STAGE_LABELS, "stage")),
               Column(FIELD_LABELS["level"], lambda r: r.level),
               Column(FIELD_LABELS["owner_id"], lambda r: owners.get(r.owner_id)),
               Column(_l("Tags"), lambda r: ", ".join(sorted(tag_names[t] for t in r.tag_ids if t in tag_names)))]
    if all_fields:
        columns += [Column(FIELD_LABELS[name], (lambda name: lambda r: getattr(r, name))(name))
                    for name in ("company", "title", *addresses.PARTS, "source", "notes")]
        columns += [Column(FIELD_LABELS["kind"], _labelled(KIND_LABELS, "kind")),
                    Column(FIELD_LABELS["preferred_channel"], _labelled(CHANNEL_LABELS, "preferred_channel"))]
    picked = set(args.getlist("col")) if not all_fields else None
    shown = [f for f in fields if (all_fields or f.key in picked) and (all_fields or not f.sensitive)]
    reveals = _reveals(viewer) if all_fields else (lambda owner_id: False)
    language = get_locale().language
    for f in shown:  # read while the rows stream, after the view's commit, which would expire them
        db.session.expunge(f)
    for f in shown:
        columns.append(Column(f.label(language), _custom_cell(f, reveals, language)))
    revealed = []
    if all_fields:
        columns += [Column(FIELD_LABELS[name], _sensitive_cell(name, reveals)) for name in SENSITIVE]
        if viewer.role.scope("sensitive", "view") != "none":
            revealed = [*SENSITIVE, *(f"custom_{f.key}" for f in shown if f.sensitive)]
    columns += [Column(_l("Created"), _timed(local, "created_at"))]
    if all_fields:
        columns += [Column(_l("Updated"), _timed(local, "updated_at"))]
    stmt = customers.filtered(customers.visible(viewer, "export"), viewer, query)
    wanted = [Customer.id, Customer.name, Customer.phone, Customer.email, Customer.stage, Customer.level,
              Customer.owner_id, Customer.tag_ids, Customer.custom, Customer.created_at]
    if all_fields:
        wanted += [Customer.company, Customer.title, *(getattr(Customer, name) for name in addresses.PARTS),
                   Customer.source, Customer.notes, Customer.kind,
                   Customer.preferred_channel, Customer.updated_at, Customer.custom_sensitive,
                   Customer.id_number_enc, Customer.bank_account_enc]
    stmt = stmt.with_only_columns(*wanted).order_by(Customer.id.desc())
    return Source("customers", stmt, columns, revealed)


def _reveals(viewer: Member) -> Callable[[int | None], bool]:
    """Whether the viewer may read a customer's sensitive values in full, by the customer's owner (the
    `sensitive` view scope, as the customer page's Reveal button)."""
    scope = viewer.role.scope("sensitive", "view")
    if scope == "all":
        return lambda owner_id: True
    if scope == "own":
        return lambda owner_id: owner_id == viewer.id
    if scope in ("team", "subteams"):
        reached = set(db.session.scalars(reached_members(viewer, scope == "subteams")))
        return lambda owner_id: owner_id in reached
    return lambda owner_id: False


def _sensitive_cell(name: str, reveals):
    def cell(row):
        token = getattr(row, f"{name}_enc")
        if not token:
            return ""
        return plain(row, name) if reveals(row.owner_id) else masked(row, name)
    return cell


def _custom_cell(f, reveals, language: str):
    if f.sensitive:
        def sensitive(row):
            if not (row.custom_sensitive or {}).get(f.key):
                return ""
            return reveal_custom(row, f.key) if reveals(row.owner_id) else masked_custom(row, f.key)
        return sensitive
    return lambda row: display(f, (row.custom or {}).get(f.key), language)


def _custom_columns(entity: str) -> list[Column]:
    """A column per custom field of a deal or an order (these have no sensitive fields), in the reader's
    language; the definitions are detached first, as they are read after the view's commit."""
    language, shown = get_locale().language, definitions.fields(entity)
    for f in shown:
        db.session.expunge(f)
    return [Column(f.label(language), (lambda f: lambda r: display(f, (r.custom or {}).get(f.key), language))(f))
            for f in shown]


def _deals(viewer: Member, args, all_fields: bool) -> Source:
    query = deal_queries.DealQuery.from_args(args)
    local = in_workspace_zone()
    owners, stages, pipelines = _member_names(), {s.id: s.name for s in db.session.scalars(select(Stage))}, \
        {p.id: p.name for p in db.session.scalars(select(Pipeline))}
    columns = [Column(_l("Deal"), lambda r: r.title), Column(_l("Customer"), lambda r: r.customer_name),
               Column(_l("Stage"), lambda r: stages.get(r.stage_id)), Column(_l("Amount"), lambda r: r.amount),
               Column(_l("Currency"), lambda r: r.currency), Column(_l("Probability"), lambda r: r.probability),
               Column(_l("Owner"), lambda r: owners.get(r.owner_id)),
               Column(_l("Expected close"), lambda r: r.expected_close)]
    if all_fields:
        columns += [Column(_l("Pipeline"), lambda r: pipelines.get(r.pipeline_id)),
                    Column(_l("Status"), _labelled(DEAL_STATUS_LABELS, "status")),
                    Column(_l("Source"), lambda r: r.source), Column(_l("Lost reason"), lambda r: r.lost_reason),
                    Column(_l("Created"), _timed(local, "created_at")),
                    Column(_l("Closed"), _timed(local, "closed_at")), *_custom_columns("deal")]
    stmt = deal_queries.filtered(deal_queries.visible(viewer, "export"), viewer, query)
    if query.pipeline_id:
        stmt = stmt.where(Deal.pipeline_id == query.pipeline_id)
    stmt = stmt.with_only_columns(
        Deal.id, Deal.title, Customer.name.label("customer_name"), Deal.stage_id, Deal.amount, Deal.currency,
        Deal.probability, Deal.owner_id, Deal.expected_close, Deal.pipeline_id, Deal.status, Deal.source,
        Deal.lost_reason, Deal.created_at, Deal.closed_at, Deal.custom,
    ).join_from(Deal, Customer, Deal.customer_id == Customer.id).order_by(Deal.id.desc())
    return Source("deals", stmt, columns)


def _orders(viewer: Member, args, all_fields: bool) -> Source:
    query = orders.OrderQuery.from_args(args)
    local = in_workspace_zone()
    owners = _member_names()
    columns = [Column(_l("Order number"), lambda r: r.number), Column(_l("Customer"), lambda r: r.customer_name),
               Column(_l("Status"), _labelled(ORDER_STATUS_LABELS, "status")),
               Column(_l("Total"), lambda r: r.total), Column(_l("Paid"), lambda r: r.paid_amount),
               Column(_l("Currency"), lambda r: r.currency), Column(_l("Owner"), lambda r: owners.get(r.owner_id)),
               Column(_l("Delivery"), lambda r: r.delivery_date), Column(_l("Placed"), _timed(local, "created_at"))]
    if all_fields:
        columns += [Column(_l("Subtotal"), lambda r: r.subtotal), Column(_l("Discount"), lambda r: r.discount_total),
                    Column(_l("Refunded"), lambda r: r.refunded_amount), Column(_l("Notes"), lambda r: r.notes),
                    Column(_l("Updated"), _timed(local, "updated_at")), *_custom_columns("order")]
    stmt = orders.filtered(orders.visible(viewer, "export"), viewer, query).with_only_columns(
        Order.id, Order.number, Customer.name.label("customer_name"), Order.status, Order.total, Order.paid_amount,
        Order.currency,
        Order.owner_id, Order.delivery_date, Order.created_at, Order.subtotal, Order.discount_total,
        Order.refunded_amount, Order.notes, Order.updated_at, Order.custom,
    ).join_from(Order, Customer, Order.customer_id == Customer.id).order_by(Order.id.desc())
    return Source("orders", stmt, columns)


def _tickets(viewer: Member, args, all_fields: bool) -> Source:
    query = tickets.TicketQuery.from_args(args)
    local = in_workspace_zone()
    owners = _member_names()
    columns = [Column(_l("Ticket"), lambda r: f"TK-{r.id:06d}"), Column(_l("Subject"), lambda r: r.subject),
               Column(_l("Customer"), lambda r: r.customer_name),
               Column(_l("Status"), _labelled(TICKET_STATUS_LABELS, "status")),
               Column(_l("Priority"), _labelled(PRIORITY_LABELS, "priority")),
               Column(_l("Assignee"), lambda r: owners.get(r.owner_id)), Column(_l("Due"), _timed(local, "due_at"))]
    if all_fields:
        columns += [Column(_l("Type"), _labelled(TICKET_KIND_LABELS, "kind")),
                    Column(_l("Description"), lambda r: r.description),
                    Column(_l("Satisfaction"), lambda r: r.satisfaction),
                    Column(_l("Created"), _timed(local, "created_at")),
                    Column(_l("Resolved"), _timed(local, "resolved_at")),
                    Column(_l("Closed"), _timed(local, "closed_at"))]
    stmt = tickets.filtered(tickets.visible(viewer, "export"), viewer, query, utcnow()).with_only_columns(
        Ticket.id, Ticket.subject, Customer.name.label("customer_name"), Ticket.status, Ticket.priority,
        Ticket.owner_id, Ticket.due_at, Ticket.kind, Ticket.description, Ticket.satisfaction, Ticket.created_at,
        Ticket.resolved_at, Ticket.closed_at,
    ).join_from(Ticket, Customer, Ticket.customer_id == Customer.id).order_by(Ticket.id.desc())
    return Source("tickets", stmt, columns)


def _followups(viewer: Member, args, all_fields: bool) -> Source:
    """Every follow-up in reach (My day has no filters), latest first."""
    local = in_workspace_zone()
    owners = _member_names()
    columns = [Column(_l("Method"), _labelled(METHOD_LABELS, "method")),
               Column(_l("Customer"), lambda r: r.customer_name), Column(_l("Summary"), lambda r: r.summary),
               Column(_l("Owner"), lambda r: owners.get(r.owner_id)), Column(_l("Due"), _timed(local, "due_at")),
               Column(_l("Done"), _timed(local, "done_at"))]
    if all_fields:
        columns += [Column(_l("Outcome"), lambda r: r.outcome), Column(_l("Created"), _timed(local, "created_at"))]
    stmt = scoped(select(Activity.id, Activity.method, Customer.name.label("customer_name"), Activity.summary,
                         Activity.owner_id, Activity.due_at, Activity.done_at, Activity.outcome, Activity.created_at)
                  .outerjoin_from(Activity, Customer, Activity.customer_id == Customer.id),
                  viewer, "activities", "export", Activity).order_by(Activity.id.desc())
    return Source("followups", stmt, columns)


def _contacts(viewer: Member, args, all_fields: bool) -> Source:
    """The contacts of the customers the customer list shows under its filters (the customers' export scope),
    customer by customer as the list orders them by default, each one's primary contact first."""
    query = customers.CustomerQuery.from_args(args)
    query.custom = filters.filter_args(args, definitions.fields())
    local = in_workspace_zone()
    yes_no = read_labels(YES_NO)
    columns = [Column(_l("Customer"), lambda r: r.customer_name),
               *(Column(contacts.FIELD_LABELS[name], (lambda name: lambda r: getattr(r, name))(name))
                 for name in ("name", "title", "mobile", "phone", "email", "wechat")),
               Column(_l("Primary contact"), lambda r: yes_no(r.is_primary)),
               Column(_l("Receives campaigns"), lambda r: yes_no(r.marketing_opt_out_at is None))]
    if all_fields:
        columns += [Column(contacts.FIELD_LABELS["notes"], lambda r: r.notes),
                    Column(_l("Created"), _timed(local, "created_at"))]
    stmt = customers.filtered(customers.visible(viewer, "export"), viewer, query).with_only_columns(
        Contact.id, Contact.customer_id, Customer.name.label("customer_name"), Contact.name, Contact.title,
        Contact.mobile, Contact.phone, Contact.email, Contact.wechat, Contact.is_primary,
        Contact.marketing_opt_out_at, Contact.notes, Contact.created_at,
    ).join_from(Customer, Contact, Contact.customer_id == Customer.id).order_by(
        Customer.id.desc(), *contacts.ORDER)
    return Source("contacts", stmt, columns)


BUILDERS = {"customers": _customers, "deals": _deals, "orders": _orders, "tickets": _tickets,
            "followups": _followups, "contacts": _contacts}
