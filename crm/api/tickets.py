"""/api/v1/tickets: the ticket list with the list page's filters (and updated since), one ticket with its comments,
opening one, changing it (PATCH with If-Match; `owner_id` assigns as the page's assign buttons do), moving it along
the status workflow (closing included: the customer is asked for a rating, as from the page), and its comments
(an internal note, or a reply sent to the customer); all through crm/tickets' service, so the scope (unassigned
tickets reach team scopes and up), the workflow (MOVES) and the messages are the pages' own.
Tickets are never deleted (the pages have no delete either): a ticket ends closed.
`TicketOut` and `shown` are also what the outgoing webhooks' `ticket.*` events carry."""
from flask import g, request, url_for
from marshmallow import fields
from marshmallow.validate import OneOf, Range
from sqlalchemy import select

from crm.api import schemas
from crm.api.core import (
    IDEMPOTENCY,
    IF_MATCH,
    answer,
    check_if_match,
    documented,
    found_first,
    resource_blueprint,
    write,
)
from crm.extensions import db
from crm.members.access import require
from crm.tickets import service
from crm.tickets.models import KINDS, MOVES, PRIORITIES, STATUSES, Ticket, TicketComment

bp = resource_blueprint("tickets", __name__, "/tickets",
                        "Service tickets with their comments; status moves along the workflow.")
TIME = {"format": "date-time", "description": "ISO 8601; without an offset, in the workspace's time zone.",
        "example": "2026-12-07T09:30:00+08:00"}


class TicketOut(schemas.Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True, metadata={"example": "TK-000042"})
    customer_id = fields.Integer(required=True)
    contact_id = fields.Integer(allow_none=True, required=True, metadata={"description": "Who asked: one of the customer's contacts; null: none."})
    order_id = fields.Integer(allow_none=True, required=True)
    subject = fields.String(required=True)
    description = fields.String(allow_none=True, required=True)
    kind = fields.String(required=True, metadata={"enum": list(KINDS)})
    priority = fields.String(required=True, metadata={"enum": list(PRIORITIES)})
    status = fields.String(required=True, metadata={"enum": list(STATUSES)})
    owner_id = fields.Integer(allow_none=True, required=True, metadata={"description": "null: unassigned."})
    due_at = fields.DateTime(required=True)
    satisfaction = fields.Integer(allow_none=True, required=True, metadata={"description": "The customer's 1-5."})
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    resolved_at = fields.DateTime(allow_none=True, required=True)
    closed_at = fields.DateTime(allow_none=True, required=True)


class CommentOut(schemas.Schema):
    id = fields.Integer(required=True)
    author_id = fields.Integer(allow_none=True, required=True)
    author_name = fields.String(required=True)
    body = fields.String(required=True)
    internal = fields.Boolean(required=True, metadata={"description": "false: a reply sent to the customer."})
    created_at = fields.DateTime(required=True)


class TicketDetail(TicketOut):
    next_statuses = fields.List(fields.String(metadata={"enum": list(STATUSES)}), required=True, metadata={
        "description": "Where POST .../status may move it now."})
    comments = fields.List(fields.Nested(CommentOut), required=True, metadata={"description": "Oldest first."})


class TicketPage(schemas.Page):
    data = fields.List(fields.Nested(TicketOut), required=True)


class CommentList(schemas.Schema):
    data = fields.List(fields.Nested(CommentOut), required=True)


class ListArgs(schemas.Schema):
    view = fields.String(validate=OneOf(service.VIEWS), metadata={
        "description": "The list's tabs: `mine` and `unassigned` are open and pending tickets, most urgent first."})
    q = fields.String(metadata={"description": "A ticket number, or part of the subject or the customer's name, "
                                               "phone, email or company."})
    status = fields.String(validate=OneOf([*STATUSES, "active"]), metadata={
        "description": "`active`: open or pending."})
    priority = fields.String(validate=OneOf(PRIORITIES))
    kind = fields.String(validate=OneOf(KINDS))
    assignee = fields.String(metadata={"description": "A member id, `me` or `none` (unassigned)."})
    customer = fields.Integer(validate=Range(1, schemas.MAX_ID), metadata={"description": "A customer id."})
    overdue = fields.Boolean(metadata={"description": "Open or pending and past its due time."})
    updated_since = fields.AwareDateTime(default_timezone=None, metadata={
        "description": "Only tickets changed at or after this time (an edit, a move, a comment), ISO 8601 with an "
                       "offset."})
    after = fields.String(metadata={"description": "The `next_cursor` of the page before."})
    limit = fields.Integer(validate=Range(1, 100), metadata={"description": "Rows per page (default 25)."})


class TicketWrite(schemas.Request):
    """The ticket form's fields; validated by the same service, with the same messages."""

    customer_id = schemas.record_id(allow_none=True, metadata={"description": "Required."})
    subject = schemas.text(metadata={"description": "Required.", "example": "Printer jams"})
    description = schemas.text()
    kind = schemas.text(metadata={"enum": [*KINDS, None], "description": "Default: inquiry."})
    priority = schemas.text(metadata={"enum": [*PRIORITIES, None], "description": "Default: normal."})
    owner_id = schemas.record_id(allow_none=True, metadata={
        "description": "The assignee; default: the token's member; null: unassigned (team scopes and up)."})
    due_at = schemas.text(metadata={**TIME, "description": "Default: by the priority (urgent 4 h ... low 7 days). "
                                                           + TIME["description"]})
    order_number = schemas.text(metadata={"description": "One of the customer's orders, by number.",
                                          "example": "SO-000042"})
    contact_id = schemas.record_id(allow_none=True, metadata={"description": "One of the customer's contacts (who asked; replies go to them); null: none."})


class TicketPatch(schemas.Request):
    """The edit form's fields, each optional, and the assignee (as the page's assign buttons)."""

    subject = schemas.text()
    description = schemas.text()
    kind = schemas.text(metadata={"enum": [*KINDS, None]})
    priority = schemas.text(metadata={"enum": [*PRIORITIES, None]})
    due_at = schemas.text(metadata={**TIME, "description": "Empty: the priority's default. " + TIME["description"]})
    order_number = schemas.text(metadata={"description": "Empty: no order."})
    contact_id = schemas.record_id(allow_none=True, metadata={"description": "One of the customer's contacts (who asked; replies go to them); null: none."})
    owner_id = schemas.record_id(allow_none=True, metadata={"description": "null: unassigned."})


class TicketMove(schemas.Request):
    status = fields.String(required=True, metadata={"enum": list(STATUSES), "description": "open → pending or "
                           "resolved; pending → open or resolved; resolved → open or closed. Closing asks the "
                           "customer to rate the service."})


class CommentWrite(schemas.Request):
    body = schemas.text(required=True, metadata={"example": "Replaced the roller; please try again."})
    internal = fields.Boolean(load_default=True, metadata={
        "description": "true (default): an internal note; false: a reply sent to the customer (email or SMS)."})


def shown(ticket: Ticket) -> dict:
    """Every field of the schema, as the ticket has it."""
    return {name: getattr(ticket, name) for name in TicketOut._declared_fields}


def detailed(ticket: Ticket) -> dict:
    """One ticket as GET shows it: its fields, the moves it may make and its comments."""
    return shown(ticket) | {"next_statuses": list(MOVES[ticket.status]),
                            "comments": service.comments(ticket)}


def _locked(ticket_id: int) -> Ticket:
    """The ticket the member may edit, its row locked for this transaction (before it is read, so its ETag is the
    stored one)."""
    db.session.execute(select(Ticket.id).where(Ticket.id == ticket_id).with_for_update())
    return service.get_ticket(g.member, ticket_id, "edit")


@bp.route("/", methods=["GET"])
@documented(bp)
@require("tickets", "view")
@bp.arguments(ListArgs, location="query", as_kwargs=True)
@bp.alt_response(200, schema=TicketPage, success=True,
                 description="One page of tickets, newest first (the queue tabs: most urgent first).")
def index(limit: int = service.PAGE_SIZE, updated_since=None, **_filters):
    """Tickets the token's member may see, filtered as the ticket list filters, one keyset page at a time."""
    query = service.TicketQuery.from_args(request.args)
    query.updated_since = updated_since
    rows, next_cursor = service.list_tickets(g.member, query, limit)
    return answer(TicketPage, {"data": [shown(t) for t in rows], "next_cursor": next_cursor or None})


@bp.route("/", methods=["POST"])
@documented(bp)
@bp.doc(parameters=[IDEMPOTENCY])
@write
@require("tickets", "create")
@bp.arguments(TicketWrite)
@bp.alt_response(201, schema=TicketDetail, success=True,
                 description="Opened; `Location` and `ETag` say where and which.")
def create(data: dict):
    """Open a ticket for a customer the member may see, assigned to the token's member unless `owner_id` says
    otherwise."""
    ticket = service.create_ticket(g.member, data)
    return answer(TicketDetail, detailed(ticket), 201, etag=True,
                  headers={"Location": url_for("api_tickets.show", ticket_id=ticket.id)})


@bp.route("/<id:ticket_id>", methods=["GET"])
@documented(bp)
@require("tickets", "view")
@bp.alt_response(200, schema=TicketDetail, success=True, description="The ticket with its comments; `ETag`.")
def show(ticket_id: int):
    """One ticket with its comments; a ticket outside the member's reach or unknown is 404."""
    return answer(TicketDetail, detailed(service.get_ticket(g.member, ticket_id)), etag=True)


@bp.route("/<id:ticket_id>", methods=["PATCH"])
@documented(bp)
@bp.doc(parameters=[IF_MATCH])
@write
@require("tickets", "edit")
@found_first(lambda ticket_id: _locked(ticket_id))
@bp.arguments(TicketPatch)
@bp.alt_response(200, schema=TicketDetail, success=True, description="Changed; the new `ETag`.")
def update(data: dict, ticket_id: int):
    """Change the fields sent (the others stay) as the edit form does, and the assignee when `owner_id` is sent; a
    closed ticket no longer changes (422 at `status`). With `If-Match: <ETag>` a stale write is refused (412)."""
    ticket = _locked(ticket_id)
    check_if_match(TicketDetail, detailed(ticket))
    assigning = "owner_id" in data
    owner_id = data.pop("owner_id", None)
    service.update_ticket(g.member, ticket, data)
    if assigning:
        service.assign_ticket(g.member, ticket, owner_id)
    return answer(TicketDetail, detailed(ticket), etag=True)


@bp.route("/<id:ticket_id>/status", methods=["POST"])
@documented(bp)
@bp.doc(parameters=[IDEMPOTENCY, IF_MATCH])
@write
@require("tickets", "edit")
@found_first(lambda ticket_id: _locked(ticket_id))
@bp.arguments(TicketMove)
@bp.alt_response(200, schema=TicketDetail, success=True, description="Moved; the ticket as it is now.")
def move(data: dict, ticket_id: int):
    """Move the ticket along the workflow, as the ticket page's buttons do (closing is a move to `closed`); a move
    the workflow does not allow is refused (422) with the page's message."""
    ticket = _locked(ticket_id)
    check_if_match(TicketDetail, detailed(ticket))
    service.move_ticket(g.member, ticket, data["status"])
    return answer(TicketDetail, detailed(ticket), etag=True)


@bp.route("/<id:ticket_id>/comments", methods=["GET"])
@documented(bp)
@require("tickets", "view")
@bp.alt_response(200, schema=CommentList, success=True, description="The ticket's comments, oldest first.")
def comments(ticket_id: int):
    """The conversation of a ticket the member may see."""
    return answer(CommentList, {"data": service.comments(service.get_ticket(g.member, ticket_id))})


@bp.route("/<id:ticket_id>/comments", methods=["POST"])
@documented(bp)
@bp.doc(parameters=[IDEMPOTENCY])
@write
@require("tickets", "edit")
@found_first(lambda ticket_id: _locked(ticket_id))
@bp.arguments(CommentWrite)
@bp.alt_response(201, schema=CommentOut, success=True, description="Added.")
def add_comment(data: dict, ticket_id: int):
    """Add an internal note, or (`internal: false`) a reply that is sent to the customer, as on the ticket page."""
    comment: TicketComment = service.add_comment(g.member, _locked(ticket_id), data["body"], data["internal"])
    return answer(CommentOut, comment, 201)
