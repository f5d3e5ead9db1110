"""Service tickets: complaints, inquiries and repairs, with comments and a per-agent queue; and the customer's
satisfaction page behind the link a closed ticket sends (`/s/<token>`, no account and no tenant slug)."""
from contextlib import nullcontext

from flask import Blueprint, abort, flash, g, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm import public_links, registry
from crm.attachments.service import card as files_card
from crm.attachments.service import comment_cards
from crm.audit import service as audit
from crm.contacts import service as contacts
from crm.customers import chooser
from crm.customers.queries import customer_name
from crm.extensions import db
from crm.members.access import members_in_reach, require
from crm.members.service import member_name
from crm.orders import chooser as order_chooser
from crm.tickets import messages, service, survey
from crm.tickets.forms import (
    FIELD_LABELS,
    KIND_LABELS,
    MOVE_LABELS,
    PRIORITY_LABELS,
    RATING_LABELS,
    STATUS_LABELS,
    CommentForm,
    TicketForm,
)
from crm.tickets.models import MOVES
from crm.validation import local_input
from crm.web import check_form, is_htmx, on_invalid, on_invalid_go_to, refused, render, saved, see_other
from tenants.binding import tenant_bound
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("tickets", __name__, "/tickets")
registry.plug(
    bp, registry.MenuEntry("tickets.index", _l("Tickets"), order=80, permission=("tickets", "view"),
                           current=("tickets.*",)),
    registry.CustomerPanel("tickets/_customer_panel.html", order=50, permission=("tickets", "view"),
                           load=lambda member, customer: {
                               "tickets": service.tickets_for_customer(member, customer.id)}),
    registry.AuditEntity("ticket", _l("Ticket"), fields=FIELD_LABELS,
                         values={"status": STATUS_LABELS, "kind": KIND_LABELS, "priority": PRIORITY_LABELS,
                                 "owner_id": member_name, "customer_id": customer_name,
                                 "order_id": order_chooser.order_number, "contact_id": contacts.contact_name}),
    registry.SavedList("tickets", "tickets.index", read=lambda args: service.TicketQuery.from_args(args).args()))
# The customer's satisfaction page, through the signed link a closed ticket sends.
public = Blueprint("ticket_survey", __name__, url_prefix=survey.PREFIX)


@bp.app_context_processor
def labels():
    return {"ticket_status_labels": STATUS_LABELS, "ticket_priority_labels": PRIORITY_LABELS,
            "ticket_kind_labels": KIND_LABELS}


@bp.get("/")
@require("tickets", "view")
def index():
    """The list with its tabs (all, my queue, unassigned); filters and scrolling swap only the rows."""
    query = service.TicketQuery.from_args(request.args)
    more = bool(query.after) and is_htmx()  # the next rows only; no need to count again
    rows, next_cursor = service.list_tickets(g.member, query)
    whole_page = not is_htmx() or bool(request.headers.get("HX-Boosted"))
    return render("tickets/index.html", block="more_rows" if more else "results", rows=rows,
                  next_cursor=next_cursor, query=query, total=None if more else service.count_tickets(g.member, query),
                  members=members_in_reach(g.member, "tickets", "view") if whole_page else [],
                  customer=chooser.chosen(g.member, query.customer),
                  sees_unassigned=service.sees_unassigned(g.member))


@bp.get("/new")
@require("tickets", "create")
def new():
    """The empty form in a modal, for a customer when ?customer_id= names one; ?find= searches without JS."""
    finding = bool(request.args.get("find"))
    form = _form(formdata=request.args if finding else None)
    if not finding:
        form.owner_id.data = str(g.member.id)
        form.customer_id.data = request.args.get("customer_id", "")
    return _form_page(form, q=request.args.get("customer_q", "").strip() if finding else "",
                      order_q=request.args.get("order_q", "").strip() if finding else "")


@bp.post("/")
@require("tickets", "create")
def create():
    """Open a ticket; errors come back beside their fields with what was typed kept, nothing saved."""
    form = _form()
    on_invalid(lambda error: _form_page(error.apply_to(form)))
    check_form(form)
    ticket = service.create_ticket(g.member, form.data_for_service())
    return saved(_("Ticket %(number)s opened.", number=ticket.number), "tickets.show", ticket_id=ticket.id)


@bp.get("/<id:ticket_id>")
@require("tickets", "view")
def show(ticket_id: int):
    """The ticket: details, status buttons, assignment, the conversation and the history."""
    ticket = service.get_ticket(g.member, ticket_id)
    return render("tickets/show.html", **_page_context(ticket))


@bp.get("/<id:ticket_id>/edit")
@require("tickets", "edit")
def edit(ticket_id: int):
    ticket = service.get_ticket(g.member, ticket_id, "edit")
    form = _form(obj=ticket, editing=True)
    form.due_at.data = local_input(ticket.due_at)
    form.order_number.data = order_chooser.order_number(ticket.order_id)
    return _form_page(form, ticket)


@bp.post("/<id:ticket_id>")
@require("tickets", "edit")
def update(ticket_id: int):
    """Save the edit form."""
    ticket = service.get_ticket(g.member, ticket_id, "edit")
    form = _form(editing=True)
    on_invalid(lambda error: _form_page(error.apply_to(form), ticket))
    check_form(form)
    service.update_ticket(g.member, ticket, form.data_for_service())
    return saved(_("Changes saved."), "tickets.show", ticket_id=ticket_id)


@bp.get("/<id:ticket_id>/close")
@require("tickets", "edit")
def close(ticket_id: int):
    """Ask before closing for good, saying where the customer's satisfaction link will go."""
    ticket = service.get_ticket(g.member, ticket_id, "edit")
    return render("tickets/close.html", block="form", ticket=ticket, recipient=messages.recipient(ticket))


@bp.post("/<id:ticket_id>/status")
@require("tickets", "edit")
def move(ticket_id: int):
    """Move the ticket along its workflow; an illegal move is refused with a message."""
    ticket = service.get_ticket(g.member, ticket_id, "edit")
    status = request.form.get("status", "")
    on_invalid_go_to("tickets.show", ticket_id=ticket_id)
    service.move_ticket(g.member, ticket, status)
    return saved(_("Ticket %(number)s is now %(status)s.", number=ticket.number, status=STATUS_LABELS[status]),
                 "tickets.show", ticket_id=ticket_id)


@bp.post("/<id:ticket_id>/assign")
@require("tickets", "edit")
def assign(ticket_id: int):
    """Give the ticket to a member (or to nobody)."""
    ticket = service.get_ticket(g.member, ticket_id, "edit")
    on_invalid_go_to("tickets.show", ticket_id=ticket_id)
    service.assign_ticket(g.member, ticket, request.form.get("owner_id", ""))
    message = (_("Ticket %(number)s assigned to %(name)s.", number=ticket.number, name=ticket.owner.name)
               if ticket.owner else _("Ticket %(number)s is unassigned.", number=ticket.number))
    return saved(message, "tickets.show", ticket_id=ticket_id)


@bp.post("/<id:ticket_id>/take")
@require("tickets", "edit")
def take(ticket_id: int):
    """Assign the ticket to oneself."""
    ticket = service.get_ticket(g.member, ticket_id, "edit")
    on_invalid_go_to("tickets.show", ticket_id=ticket_id)
    service.assign_ticket(g.member, ticket, g.member.id)
    return saved(_("You took ticket %(number)s.", number=ticket.number), "tickets.show", ticket_id=ticket_id)


@bp.post("/<id:ticket_id>/comments")
@require("tickets", "edit")
def comment(ticket_id: int):
    """Add an internal note or a reply to the customer; htmx swaps the conversation in place."""
    ticket = service.get_ticket(g.member, ticket_id, "edit")
    form = CommentForm()
    on_invalid(lambda error: render("tickets/show.html", block="comments",
                                    **_page_context(ticket, error.apply_to(form)))
               if is_htmx() and "body" in error.errors  # else (e.g. closed meanwhile) say so on the whole page
               else refused(error, url_for("tickets.show", ticket_id=ticket_id)))
    service.add_comment(g.member, ticket, form.body.data, internal=form.audience.data != "customer")
    db.session.commit()
    if not is_htmx():
        flash(_("Comment added."))
        return see_other(url_for("tickets.show", ticket_id=ticket_id))
    audience = CommentForm(formdata=None, audience=form.audience.data)
    return render("tickets/show.html", block="comments", **_page_context(ticket, audience))


@bp.post("/<id:ticket_id>/messages/retry")
@require("tickets", "edit")
def retry_message(ticket_id: int):
    """Send a failed reply or satisfaction link again (also once the ticket is closed)."""
    ticket = service.get_ticket(g.member, ticket_id, "edit")
    on_invalid_go_to("tickets.show", ticket_id=ticket_id)
    service.retry_message(ticket, request.form.get("notification_id"))
    return saved(_("The message will be sent again."), "tickets.show", ticket_id=ticket_id)


def _page_context(ticket, comment_form=None) -> dict:
    may_edit = g.member.can("tickets", "edit") and ticket.status != "closed"
    comments = service.comments(ticket)
    return {"ticket": ticket, "comments": comments, "may_edit": may_edit,
            "deliveries": messages.deliveries(ticket, comments), "recipient": messages.recipient(ticket),
            "reply_key": messages.reply_key, "survey_key": messages.survey_key(ticket.id),
            "order": order_chooser.chosen(g.member, order_chooser.order_number(ticket.order_id)),
            "order_number": order_chooser.order_number(ticket.order_id), "contact": contacts.contact_of(ticket),
            "comment_form": comment_form or CommentForm(formdata=None),
            "moves": [(to, MOVE_LABELS[(ticket.status, to)]) for to in MOVES[ticket.status]],
            "assignees": members_in_reach(g.member, "tickets", "edit") if may_edit else [],
            "may_unassign": service.may_leave_unassigned(g.member),
            "history": audit.history("ticket", ticket.id), **files_card(g.member, "ticket", ticket),
            "comment_files": comment_cards(g.member, ticket, comments)}


def _form(editing: bool = False, **kwargs) -> TicketForm:
    form = TicketForm(**kwargs)
    if editing:
        form.for_editing()
    else:
        form.set_assignees(members_in_reach(g.member, "tickets", "create"), service.may_leave_unassigned(g.member, "create"))
    return form


def _form_page(form, ticket=None, q: str = "", order_q: str = ""):
    """The ticket form (a modal for htmx); a new ticket's customer is chosen by searching, its order by number
    among the customer's orders."""
    chosen = None if ticket else chooser.chosen(g.member, form.customer_id.data)
    customer_id = ticket.customer_id if ticket else chosen.id if chosen else None
    return render("tickets/form.html", block="form", form=form, ticket=ticket, chosen=chosen, q=q,
                  found=chooser.matching(g.member, q), order_q=order_q, contacts=contacts.choices(customer_id),
                  **_order_choice(form, ticket, customer_id, order_q))


def _order_choice(form, ticket, customer_id: int | None, order_q: str) -> dict:
    """The order chooser's state: the order named (one the viewer may not see stays, by its number alone)."""
    if not g.member.can("orders", "view"):
        return {"orders_shown": False}
    number = form.order_number.data
    order = order_chooser.chosen(g.member, number, customer_id)
    kept = ticket is not None and order is None and ticket.order_id and \
        order_chooser.order_id_of(number) == ticket.order_id
    return {"orders_shown": True, "order_chosen": order_chooser.order_number(ticket.order_id) if kept else order,
            "orders_found": order_chooser.matching(g.member, order_q, customer_id)}


@public.get("/<token>", endpoint="show")
def survey_page(token: str):
    """The customer's page: rate the closed ticket, or see the rating already given."""
    tenant, ticket_id = _survey_link(token)
    with tenant_bound(tenant):
        shown = survey.shown(tenant, _closed_ticket(ticket_id))
    return _survey_answer(token, shown)


@public.post("/<token>", endpoint="rate")
def survey_rate(token: str):
    """Keep the customer's rating; a bad rating or comment comes back at its field, nothing kept."""
    tenant, ticket_id = _survey_link(token)
    with tenant_bound(tenant):
        ticket = _closed_ticket(ticket_id, lock=True)
        before = survey.shown(tenant, ticket)
        on_invalid(lambda error: _survey_answer(token, before, error.errors, request.form))
        thanks = survey.rate(ticket, request.form.get("rating"), request.form.get("comment"))
        shown = survey.shown(tenant, ticket)
    return _survey_answer(token, shown, thanks=thanks)


def _survey_link(token: str):
    """The tenant and ticket id of a good link; anything else (tampered, another purpose) is a 404."""
    link = survey.read_link(token)
    if link is None:
        abort(404)
    return link


def _closed_ticket(ticket_id: int, lock: bool = False):
    ticket = survey.closed_ticket(ticket_id, lock)
    if ticket is None:
        abort(404)
    return ticket


def _survey_answer(token: str, shown: dict, errors: dict | None = None, typed=None, thanks: bool = False):
    """The page in the link's language; an expired link answers 404 with a page that says so."""
    language = "zh" if request.args.get("lang") == "zh" else ""
    with force_locale("zh_Hans_CN") if language else nullcontext():
        html = render_template("tickets/survey.html", survey=shown, errors=errors or {}, typed=typed or {},
                               thanks=thanks, ratings=RATING_LABELS, survey_days=survey.DAYS,
                               comment_limit=survey.COMMENT_LIMIT,
                               action=url_for("ticket_survey.rate", token=token, lang=language or None))
    return public_links.private_answer(html, 404 if shown["expired"] and shown["rating"] is None else 200)
