"""Ticket rules and queries: scoped lists and queues, validation, status moves, assignment, comments (a reply
to the customer is sent; closing asks the customer for a rating: crm/tickets/messages.py)."""
import re
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, or_, select, true
from sqlalchemy.orm import joinedload, lazyload

from crm import listing, validation
from crm.audit.service import audited, record
from crm.contacts import service as contacts
from crm.customers import queries as customers
from crm.customers.models import Customer
from crm.errors import Invalid, NotFound
from crm.extensions import db, utcnow
from crm.members.access import in_reach, reached_members
from crm.members.models import Member
from crm.notify import service as notify
from crm.settings import on_local_days
from crm.orders import chooser as orders
from crm.tickets import messages
from crm.tickets.forms import STATUS_LABELS
from crm.tickets.models import (
    ACTIVE,
    DUE_AFTER,
    KINDS,
    MOVES,
    PRIORITIES,
    STATUSES,
    Ticket,
    TicketComment,
)
from crm.timeline.service import in_both_languages, log
from crm.validation import record_id
from crm.webhooks import events as webhooks

PAGE_SIZE = 25
VIEWS = ("all", "mine", "unassigned")
EDITABLE = ("subject", "description", "kind", "priority", "due_at", "order_id", "contact_id")
TYPED = EDITABLE[:-2]  # the order is chosen by number (`order_number`), it and the contact checked against the customer
LIMITS = {"subject": 200, "description": 10000, "body": 10000}
NUMBER = re.compile(r"(?:TK-?)?#?0*(\d{1,10})", re.IGNORECASE)


def reach(viewer: Member, action: str, resource: str = "tickets"):
    """The tickets the viewer's role reaches: assigned within its scope; unassigned ones from team scope up.
    `resource` "reports": the tickets the viewer's reports count, by the same rule."""
    scope = viewer.role.scope(resource, action)
    if scope == "all":
        return true()
    if scope == "own":
        return Ticket.owner_id == viewer.id
    if scope in ("team", "subteams"):
        return or_(Ticket.owner_id.is_(None), Ticket.owner_id.in_(reached_members(viewer, scope == "subteams")))
    return Ticket.id.is_(None)


def visible(viewer: Member, action: str = "view"):
    return select(Ticket).where(reach(viewer, action))


def sees_unassigned(viewer: Member) -> bool:
    return viewer.role.scope("tickets", "view") in ("team", "subteams", "all")


def get_ticket(viewer: Member, ticket_id: int, action: str = "view") -> Ticket:
    """A ticket the viewer may act on; anything else is simply not found."""
    ticket = db.session.scalar(visible(viewer, action).where(Ticket.id == ticket_id).options(
        joinedload(Ticket.customer).load_only(Customer.id, Customer.name).lazyload("*")))
    if ticket is None:
        raise NotFound()
    return ticket


def get_comment(viewer: Member, comment_id: int, action: str = "view") -> TicketComment:
    """A comment of a ticket the viewer may act on (files are kept with comments); else not found."""
    comment = db.session.get(TicketComment, comment_id)
    if comment is None:
        raise NotFound()
    get_ticket(viewer, comment.ticket_id, action)
    return comment


DAY_FILTERS = ("created_from", "created_to", "due_from", "due_to", "resolved_from", "resolved_to")
SLA = ("met", "breached")


def _day(args, name: str) -> date | None:
    """A local day from the query string; the day after it must still be a date."""
    return validation.or_none(validation.day, args.get(name), name, validation.EARLIEST, date(9998, 12, 31))


def sla_met():
    """Resolved by its due time (the last resolution counts: a reopened ticket is judged again)."""
    return and_(Ticket.resolved_at.is_not(None), Ticket.resolved_at <= Ticket.due_at)


def sla_breached(now: datetime):
    """Resolved after its due time, or not resolved and past it at `now`."""
    return or_(Ticket.resolved_at > Ticket.due_at, and_(Ticket.resolved_at.is_(None), Ticket.due_at < now))


@dataclass
class TicketQuery:
    """What the ticket list was asked for: the tab, filters and the keyset cursor."""

    view: str = "all"
    q: str = ""
    status: str = ""  # a status, or "active" for open and pending
    priority: str = ""
    kind: str = ""
    assignee: str = ""  # a member id, "me" or "none"
    customer: int | None = None
    overdue: bool = False
    after: str = ""
    # Narrowed from a report (crm/reports/service_desk.py): the filter form keeps them as hidden fields.
    team: int | None = None  # the assignee is a member of this team
    created_from: date | None = None  # local days of the workspace
    created_to: date | None = None
    due_from: date | None = None
    due_to: date | None = None
    resolved_from: date | None = None
    resolved_to: date | None = None
    sla: str = ""  # "met" or "breached" (see sla_met, sla_breached)
    rating: int | None = None  # the customer's satisfaction rating, 1-5
    updated_since: datetime | None = None  # changed at or after this time: what the API's sync clients ask

    @classmethod
    def from_args(cls, args) -> "TicketQuery":
        """Read the query string; anything malformed is ignored rather than failing the page."""
        assignee = args.get("assignee", "")
        return cls(
            view=args.get("view") if args.get("view") in VIEWS else "all",
            q=validation.clipped(args.get("q"), 100),
            status=args.get("status", "") if args.get("status") in STATUSES + ("active",) else "",
            priority=args.get("priority", "") if args.get("priority") in PRIORITIES else "",
            kind=args.get("kind", "") if args.get("kind") in KINDS else "",
            assignee=assignee if record_id(assignee) or assignee in ("me", "none") else "",
            customer=record_id(args.get("customer")),
            overdue=args.get("overdue") == "1",
            after=args.get("after", ""),
            team=record_id(args.get("team")),
            **{name: _day(args, name) for name in DAY_FILTERS},
            sla=args.get("sla", "") if args.get("sla") in SLA else "",
            rating=int(args["rating"]) if args.get("rating") in ("1", "2", "3", "4", "5") else None,
        )

    def args(self, **changes) -> dict:
        """Query-string arguments for a link to this list with `changes`."""
        values = {"view": self.view if self.view != "all" else "", "q": self.q, "status": self.status,
                  "priority": self.priority, "kind": self.kind, "assignee": self.assignee,
                  "customer": self.customer, "overdue": "1" if self.overdue else "", "after": "",
                  **self.narrowing()}
        values.update(changes)
        return {k: v for k, v in values.items() if v}

    def narrowing(self) -> dict:
        """The filters a report's link may add that the filter form has no control for."""
        days = {name: getattr(self, name).isoformat() for name in DAY_FILTERS if getattr(self, name)}
        values = {"team": self.team, "sla": self.sla, "rating": self.rating, **days}
        return {k: v for k, v in values.items() if v}

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.status or self.priority or self.kind or self.assignee or self.customer
                    or self.overdue or self.narrowing())

    @property
    def queue(self) -> bool:
        """The queue tabs sort by urgency; the list of all tickets shows the newest first."""
        return self.view != "all"


def filtered(stmt, viewer: Member, query: TicketQuery, now: datetime):
    if query.view == "mine":
        stmt = stmt.where(Ticket.owner_id == viewer.id, Ticket.status.in_(ACTIVE))
    elif query.view == "unassigned":
        stmt = stmt.where(Ticket.owner_id.is_(None), Ticket.status.in_(ACTIVE))
    if query.q:
        stmt = stmt.where(_text_match(query.q))
    if query.status:
        stmt = stmt.where(Ticket.status.in_(ACTIVE) if query.status == "active" else Ticket.status == query.status)
    if query.priority:
        stmt = stmt.where(Ticket.priority == query.priority)
    if query.kind:
        stmt = stmt.where(Ticket.kind == query.kind)
    if query.assignee:
        stmt = stmt.where(_assignee_condition(viewer, query.assignee))
    if query.customer:
        stmt = stmt.where(Ticket.customer_id == query.customer)
    if query.overdue:
        stmt = stmt.where(Ticket.status.in_(ACTIVE), Ticket.due_at < now)
    return _narrowed(stmt, query, now)


def _narrowed(stmt, query: TicketQuery, now: datetime):
    if query.team:
        stmt = stmt.where(Ticket.owner_id.in_(select(Member.id).where(Member.team_id == query.team)))
    for column, start, end in ((Ticket.created_at, query.created_from, query.created_to),
                               (Ticket.due_at, query.due_from, query.due_to),
                               (Ticket.resolved_at, query.resolved_from, query.resolved_to)):
        stmt = stmt.where(*on_local_days(column, start, end))
    if query.sla:
        stmt = stmt.where(sla_met() if query.sla == "met" else sla_breached(now))
    if query.rating:
        stmt = stmt.where(Ticket.satisfaction == query.rating)
    if query.updated_since:
        stmt = stmt.where(Ticket.updated_at >= query.updated_since)
    return stmt


def _text_match(q: str):
    """A ticket number (TK-000042, #42, 42) finds that ticket; other text is looked for in the subject and
    in the customer's name, phone, email and company."""
    matches = or_(Ticket.subject.icontains(q, autoescape=True), Ticket.customer_id.in_(_customers_matching(q)))
    number = NUMBER.fullmatch(q)
    ticket_id = record_id(number.group(1)) if number else None
    return or_(matches, Ticket.id == ticket_id) if ticket_id else matches


def _customers_matching(q: str):
    """Ids of customers whose search text contains `q`, found through the customers' gram index."""
    term = q.lower()
    found = select(Customer.id).where(Customer.search_text.contains(term, autoescape=True))
    grams = customers.query_grams(term)
    return found.where(Customer.search_grams.contains(grams)) if grams else found


def _assignee_condition(viewer: Member, assignee: str):
    if assignee == "me":
        return Ticket.owner_id == viewer.id
    if assignee == "none":
        return Ticket.owner_id.is_(None)
    return Ticket.owner_id == int(assignee)


NEWEST = (listing.Key(Ticket.id, descending=True),)


def _queue_keys(now: datetime) -> tuple[listing.Key, ...]:
    """Overdue at `now` first, then the most urgent priority, then the earliest due, then the oldest."""
    late = case((Ticket.due_at < now, 0), else_=1)
    rank = case({p: i for i, p in enumerate(PRIORITIES)}, value=Ticket.priority, else_=len(PRIORITIES))
    return (listing.Key(late, value=lambda ticket: 0 if ticket.due_at < now else 1),
            listing.Key(rank, value=lambda ticket: PRIORITIES.index(ticket.priority)),
            listing.Key(Ticket.due_at, datetime), listing.Key(Ticket.id))


def _queue_time(after: str) -> datetime:
    """When the queue's first page judged what is overdue (its cursors carry it), so later pages do not shift."""
    values = listing.read_cursor(after, (datetime, int, int, datetime, int))
    return values[0] if values and values[0] else utcnow()


def list_tickets(viewer: Member, query: TicketQuery, limit: int = PAGE_SIZE) -> tuple[list[Ticket], str]:
    """One page of matching tickets and the cursor of the next page ('' on the last one)."""
    now = _queue_time(query.after) if query.queue else utcnow()
    stmt = filtered(visible(viewer), viewer, query, now).options(
        joinedload(Ticket.customer).load_only(Customer.id, Customer.name).lazyload("*"),
        joinedload(Ticket.owner).lazyload(Member.role))
    if query.queue:
        return listing.page(stmt, _queue_keys(now), query.after, limit, context=[now])
    return listing.page(stmt, NEWEST, query.after, limit)


def count_tickets(viewer: Member, query: TicketQuery) -> int:
    stmt = filtered(visible(viewer), viewer, query, utcnow()).with_only_columns(func.count(Ticket.id))
    return db.session.scalar(stmt.order_by(None))


def tickets_for_customer(viewer: Member, customer_id: int, limit: int = 20) -> list[Ticket]:
    """The customer's tickets the viewer may see: the open and pending ones first, then the newest."""
    waiting = case((Ticket.status.in_(ACTIVE), 0), else_=1)
    stmt = visible(viewer).where(Ticket.customer_id == customer_id).options(lazyload(Ticket.owner))
    return list(db.session.scalars(stmt.order_by(waiting, Ticket.id.desc()).limit(limit)))


def default_due(priority: str, start: datetime) -> datetime:
    """When a ticket of this priority is due if nobody says otherwise."""
    return start + DUE_AFTER.get(priority, DUE_AFTER["normal"])


def clean(data: dict, creating: bool) -> dict:
    """Validate and normalise ticket fields; every problem reported together."""
    cleaned, errors = {}, {}
    for name, value in data.items():
        if name in TYPED:
            cleaned[name] = validation.collect(errors, _clean_field, name, value)
    if creating and "subject" not in cleaned and "subject" not in errors:
        errors["subject"] = _("Subject is required.")
    if errors:
        raise Invalid(errors)
    return cleaned


def _clean_field(name: str, value):
    if name == "subject":
        return validation.text(value, name, LIMITS[name], required=_("Subject is required."))
    if name == "kind":
        return validation.choice(value, name, KINDS, default="inquiry")
    if name == "priority":
        return validation.choice(value, name, PRIORITIES, default="normal")
    if name == "due_at":
        return validation.local_datetime(value, name)
    return validation.text(value, name, LIMITS[name])


def _order(viewer: Member, number, customer_id: int | None, current: int | None = None) -> int | None:
    """The order a ticket is about, named by its number: one of the customer's orders that the viewer may see
    (or the one already linked, which the viewer may not see); empty means no order."""
    if not str(number or "").strip():
        return None
    if current is not None and orders.order_id_of(number) == current:
        return current
    order = orders.chosen(viewer, number, customer_id) if customer_id else None
    if order is None:
        raise Invalid({"order_number": _("Choose one of this customer's orders.")})
    return order.id


def _customer(viewer: Member, value) -> int:
    """A live customer the viewer may see, by id."""
    customer_id = record_id(value)
    stmt = customers.visible(viewer).where(Customer.id == customer_id).with_only_columns(Customer.id)
    if customer_id is None or db.session.scalar(stmt) is None:
        raise Invalid({"customer_id": _("Choose a customer.")})
    return customer_id


def may_leave_unassigned(viewer: Member, action: str = "edit") -> bool:
    return viewer.role.scope("tickets", action) in ("team", "subteams", "all")


def _assignee(viewer: Member, value, action: str) -> int | None:
    """An assignee the viewer may choose; None (unassigned) only for roles that see unassigned tickets."""
    owner_id = record_id(value) if value not in (None, "") else None
    if owner_id is None and value in (None, "") and may_leave_unassigned(viewer, action):
        return None
    if not in_reach(viewer, "tickets", action, owner_id):
        raise Invalid({"owner_id": _("You can only assign tickets to yourself.")
                       if viewer.role.scope("tickets", action) == "own"
                       else _("Choose an active member of your team.")})
    return owner_id


def create_ticket(viewer: Member, data: dict) -> Ticket:
    """A new open ticket, assigned to the viewer unless another assignee (or nobody) is chosen; logged."""
    errors, cleaned = {}, {}
    for check in (lambda: cleaned.update(clean(data, creating=True)),
                  lambda: cleaned.update(customer_id=_customer(viewer, data.get("customer_id"))),
                  lambda: cleaned.update(owner_id=_assignee(viewer, data.get("owner_id", viewer.id), "create")),
                  lambda: cleaned.update(order_id=_order(viewer, data.get("order_number"),
                                                         cleaned.get("customer_id"))),
                  lambda: cleaned.update(contact_id=contacts.chosen(cleaned.get("customer_id"),
                                                                    data.get("contact_id")))):
        try:
            check()
        except Invalid as error:
            errors.update(error.errors)
    if errors:
        raise Invalid(errors)
    now = utcnow()
    cleaned["due_at"] = cleaned.get("due_at") or default_due(cleaned.get("priority", "normal"), now)
    ticket = Ticket(status="open", created_by_id=viewer.id, created_at=now, updated_at=now, **cleaned)
    db.session.add(ticket)
    db.session.flush()
    record("create", "ticket", ticket.id, summary=f"{ticket.number} {ticket.subject}")
    log("ticket_opened", customer_id=ticket.customer_id, link=("tickets.show", {"ticket_id": ticket.id}),
        number=ticket.number, subject=ticket.subject)
    webhooks.emit("ticket.created", ticket)
    return ticket


def _open_for_changes(ticket: Ticket) -> None:
    if ticket.status == "closed":
        raise Invalid({"status": _("This ticket is closed and can no longer be changed.")})


def update_ticket(viewer: Member, ticket: Ticket, data: dict) -> Ticket:
    """Change subject, description, type, priority, due time or order; an empty due time means the
    priority's default (counted from the ticket's creation). Audited."""
    _open_for_changes(ticket)
    errors = {}
    cleaned = validation.collect(errors, clean, data, creating=False) or {}
    if "order_number" in data:
        cleaned["order_id"] = validation.collect(errors, _order, viewer, data["order_number"], ticket.customer_id,
                                                 ticket.order_id)
    if "contact_id" in data:
        cleaned["contact_id"] = validation.collect(errors, contacts.chosen, ticket.customer_id, data["contact_id"])
    if errors:
        raise Invalid(errors)
    if "due_at" in data and cleaned.get("due_at") is None:
        cleaned["due_at"] = default_due(cleaned.get("priority", ticket.priority), ticket.created_at)
    with audited(ticket, entity="ticket", fields=EDITABLE, summary=lambda t: f"{t.number} {t.subject}") as change:
        for name, value in cleaned.items():
            setattr(ticket, name, value)
    if change:
        ticket.updated_at = utcnow()
    db.session.flush()
    return ticket


def move_ticket(viewer: Member, ticket: Ticket, status: str) -> Ticket:
    """Move the ticket to `status` when the workflow allows it; closing sends the customer the link to rate
    the service (the customer rates, never the agent: crm/tickets/survey.py)."""
    _open_for_changes(ticket)
    if status not in MOVES[ticket.status]:
        label = STATUS_LABELS.get(status)
        raise Invalid({"status": _("A ticket that is %(now)s cannot be moved to %(to)s.",
                                   now=STATUS_LABELS[ticket.status], to=label) if label
                       else _("Choose a status.")})
    before, now = ticket.status, utcnow()
    ticket.status, ticket.updated_at = status, now
    if status == "resolved":
        ticket.resolved_at = now
    elif status == "open" and before == "resolved":
        ticket.resolved_at = None
    elif status == "closed":
        ticket.closed_at = now
        messages.ask_for_rating(ticket)
        webhooks.emit("ticket.closed", ticket)
    record("update", "ticket", ticket.id, summary=f"{ticket.number} {ticket.subject}",
           changes={"status": [before, status]})
    log("ticket_status", customer_id=ticket.customer_id, link=("tickets.show", {"ticket_id": ticket.id}),
        number=ticket.number, status=in_both_languages(lambda: STATUS_LABELS[status]))
    db.session.flush()
    return ticket


def assign_ticket(viewer: Member, ticket: Ticket, owner_id) -> Ticket:
    """Give the ticket to a member the viewer reaches (or, for team scopes and up, to nobody); audited."""
    _open_for_changes(ticket)
    owner_id = _assignee(viewer, owner_id, "edit")
    if owner_id != ticket.owner_id:
        record("update", "ticket", ticket.id, summary=f"{ticket.number} {ticket.subject}",
               changes={"owner_id": [ticket.owner_id, owner_id]})
        ticket.owner_id, ticket.updated_at = owner_id, utcnow()
        db.session.flush()
        db.session.expire(ticket, ["owner"])
    return ticket


def add_comment(viewer: Member, ticket: Ticket, body: str, internal: bool) -> TicketComment:
    """An internal note, or a reply to the customer, which is queued to them with it (when they have an
    email address or phone number)."""
    _open_for_changes(ticket)
    body = validation.text(body, "body", LIMITS["body"], required=_("Write something first."))
    comment = TicketComment(ticket_id=ticket.id, author_id=viewer.id, author_name=viewer.name, body=body,
                            internal=internal)
    ticket.updated_at = utcnow()
    db.session.add(comment)
    db.session.flush()
    if not internal:
        messages.send_reply(ticket, comment)
    return comment


def retry_message(ticket: Ticket, notification_id) -> None:
    """Send one of the ticket's failed messages again (the retry the outbox page offers, from the ticket)."""
    message = messages.message_of(ticket, record_id(notification_id))
    if message is None or notify.retry(message.id) is None:
        raise Invalid({"notification_id": _("Only a message that failed can be sent again.")})


def comments(ticket: Ticket) -> list[TicketComment]:
    """The ticket's comments, oldest first (a conversation reads downwards)."""
    stmt = select(TicketComment).where(TicketComment.ticket_id == ticket.id).order_by(TicketComment.id)
    return list(db.session.scalars(stmt))
