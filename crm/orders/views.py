"""Orders: list with filters, the order form with its lines, detail, status moves, and the public status
link (`/o/<token>`, no account and no tenant slug)."""
from flask import Blueprint, abort, g, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as pgettext_l

from crm import public_links, registry
from crm.attachments.service import card as files_card
from crm.audit import service as audit
from crm.contacts import service as contacts
from crm.customers import chooser
from crm.customers.queries import customer_name
from crm.errors import Invalid
from crm.fields import definitions as fields
from crm.fields.values import initial_values, read_form
from crm.members.access import members_in_reach, require
from crm.members.service import member_name
from crm.orders import chooser as order_chooser
from crm.orders import forms, messages, queries, service, status_link
from crm.orders.totals import known_currency, plain_money
from crm.payments import state as payment_state
from crm.payments.service import order_card as payments_card
from crm.settings import workspace_currency
from crm.products import service as catalogue
from crm.validation import record_id
from crm.web import absolute_url, check_form, fragment_of, is_htmx, on_invalid, refused, render, saved
from crm.web import open_when_read_only
from tenants.binding import tenant_bound
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("orders", __name__, "/orders")
registry.plug(
    bp, registry.MenuEntry("orders.index", _l("Orders"), order=50, permission=("orders", "view"), current=("orders.*",)),
    registry.CustomerPanel("orders/_customer_orders.html", order=40, permission=("orders", "view"),
                           load=lambda member, customer: {
                               "customer_orders": queries.orders_for_customer(member, customer.id)}),
    registry.AuditEntity("order", pgettext_l("record", "Order"), fields=forms.AUDIT_LABELS,
                         values={"status": forms.STATUS_LABELS, "total": plain_money, "refunded_amount": plain_money,
                                 "paid_amount": plain_money,
                                 "public_link": forms.LINK_LABELS, "owner_id": member_name,
                                 "customer_id": customer_name, "contact_id": contacts.contact_name}),
    registry.SavedList("orders", "orders.index", read=lambda args: queries.OrderQuery.from_args(args).args(),
                       filters="#order-filters"))
# The end customer's view of one order, through a signed link: no account, no tenant slug in the URL.
public = Blueprint("order_status", __name__, url_prefix="/o")


@bp.app_context_processor
def labels():
    """Order labels and money formatting for every template (the customer page shows orders too)."""
    return {"order_status_labels": forms.STATUS_LABELS, "order_news_labels": forms.NEWS_LABELS,
            "order_move_label": forms.move_label,
            "order_field_labels": forms.FIELD_LABELS}


@bp.get("/")
@require("orders", "view")
def index():
    """The list; filters and "more" swap only the rows."""
    query = queries.OrderQuery.from_args(request.args)
    more = bool(query.after) and is_htmx()
    rows, next_cursor = queries.list_orders(g.member, query)
    return render("orders/index.html", block="more_rows" if more else "results", rows=rows, query=query,
                  next_cursor=next_cursor, members=queries.members_for_filter(g.member),
                  customer=chooser.chosen(g.member, query.customer_id))


@bp.get("/new")
@require("orders", "create")
def new():
    """The order form, with one empty line (and the customer, when it comes from the customer's page)."""
    form = _form()
    form.owner_id.data, form.currency.data = str(g.member.id), workspace_currency()
    customer = chooser.chosen(g.member, request.args.get("customer_id"))
    return _form_page(form, None, [forms.LineInput(key=forms.new_key())], customer)


@bp.post("/")
@require("orders", "create")
def create():
    """Place an order; errors come back beside their fields and lines, nothing saved."""
    form, rows = _form(), forms.read_lines(request.form)
    customer_id = request.form.get("customer_id")
    custom = read_form(fields.fields("order"), request.form, for_update=False)
    on_invalid(lambda error: _form_page(form, None, rows, chooser.chosen(g.member, customer_id), error,
                                        custom))
    check_form(form)
    order = service.create_order(g.member, form.data_for_service(customer_id), rows, custom=custom)
    return saved(_("Order %(number)s placed.", number=order.number), "orders.show", order_id=order.id)


@bp.get("/<id:order_id>")
@require("orders", "view")
def show(order_id: int):
    """The order: lines, totals, status moves and history, and its public link."""
    return _show_page(queries.get_order(g.member, order_id))


@bp.get("/<id:order_id>/edit")
@require("orders", "edit")
def edit(order_id: int):
    """The order form filled in from the order."""
    order = queries.get_order(g.member, order_id, "edit")
    form = _form(order, obj=order)
    form.owner_id.data = str(order.owner_id)
    form.delivery_date.data = order.delivery_date.isoformat() if order.delivery_date else ""
    return _form_page(form, order, [_row(line) for line in order.lines], order.customer)


@bp.post("/<id:order_id>")
@require("orders", "edit")
def update(order_id: int):
    """Save the order form (lines only while the order is placed)."""
    order = queries.get_order(g.member, order_id, "edit", lock=True)
    form, rows = _form(order), forms.read_lines(request.form)
    customer_id = request.form.get("customer_id", order.customer_id)
    custom = read_form(fields.fields("order"), request.form, for_update=True)
    on_invalid(lambda error: _form_page(form, order, rows, chooser.chosen(g.member, customer_id), error,
                                        {**(order.custom or {}), **custom}))
    check_form(form)
    service.update_order(g.member, order, form.data_for_service(customer_id), rows, custom=custom)
    return saved(_("Changes saved."), "orders.show", order_id=order_id)


@bp.post("/<id:order_id>/status")
@require("orders", "edit")
def move(order_id: int):
    """Move the order along the workflow. A move it does not allow is refused with the reason; a refund's
    amount or a note that is refused comes back on the order's page beside its field."""
    order = queries.get_order(g.member, order_id, "edit", lock=True)
    to = request.form.get("to", "")
    on_invalid(lambda error: refused(error, url_for("orders.show", order_id=order_id)) if "status" in error.errors
               else _show_page(queries.get_order(g.member, order_id), moving=to, move_errors=error.errors,
                               typed=request.form))
    service.move_order(g.member, order, to, request.form.get("note", ""), request.form.get("amount"))
    return saved(_("Order %(number)s is now %(status)s.", number=order.number,
                   status=forms.STATUS_LABELS[order.status]), "orders.show", order_id=order_id)


@bp.post("/<id:order_id>/link")
@require("orders", "edit")
def new_link(order_id: int):
    """Make a public status link (a new one replaces the old, which stops working)."""
    order = queries.get_order(g.member, order_id, "edit")
    replaced = bool(order.link_nonce)
    status_link.new_link(order)
    return saved(_("A new status link is ready. The previous link no longer works.") if replaced
                 else _("The status link is ready: send it to your customer."), "orders.show", order_id=order_id)


@bp.post("/<id:order_id>/link/revoke")
@require("orders", "edit")
def revoke_link(order_id: int):
    """Switch the public status link off."""
    status_link.revoke_link(queries.get_order(g.member, order_id, "edit"))
    return saved(_("The status link no longer works."), "orders.show", order_id=order_id)


@bp.get("/line")
@require("orders", "view")
@fragment_of("orders.new")
def line():
    """A new empty line, or (when its product changed) the line with the product's name, unit and price."""
    row, products = forms.read_line(request.args), catalogue.products_for_lines(g.member)
    product = next((p for p in products if str(p.id) == row.product_id), None)
    if product is not None:
        row.description, row.unit, row.unit_price = product.name, product.unit or "", f"{product.price:.2f}"
    response = make_response(render("orders/_line.html", row=row, index=-1, errors={}, products=products,
                                    line_total=None))
    response.headers["HX-Trigger-After-Swap"] = "recompute"
    return response


@bp.get("/line/remove")
@require("orders", "view")
@fragment_of("orders.new")
def remove_line():
    """Nothing: the button that asks removes its line, then the totals are worked out again."""
    response = make_response("")
    response.headers["HX-Trigger-After-Swap"] = "recompute"
    return response


@bp.get("/choices")
@require("orders", "view")
@fragment_of("orders.index")
def choices():
    """The order chooser's options for what was typed (the customer's orders when the form names one)."""
    customer_id, q = record_id(request.args.get("customer_id")), request.args.get("order_q", "").strip()
    return render("orders/_choices.html", chosen=order_chooser.chosen(g.member, request.args.get("order_number"),
                                                                      customer_id),
                  found=order_chooser.matching(g.member, q, customer_id), q=q, customer_known=bool(customer_id))


@bp.post("/preview")
@require("orders", "view")
@open_when_read_only
def preview():
    """The totals of the lines as typed so far (the save works them out again)."""
    order_id = record_id(request.form.get("order_id"))
    order = queries.get_order(g.member, order_id, "edit") if order_id else None
    rows = forms.read_lines(request.form)
    lines, totals, incomplete = service.preview(g.member, rows, order)
    return render("orders/_totals.html", rows=rows, lines=lines, totals=totals, incomplete=incomplete,
                  currency=known_currency(request.form.get("currency")), oob=True)


def _show_page(order, moving: str = "", move_errors: dict | None = None, typed=None):
    """The order's page; `moving` names the move whose form comes back open, with what was `typed` and
    `move_errors` at its fields."""
    token = status_link.link_token(order)
    link = absolute_url("order_status.show", token=token) if token else None
    return render("orders/show.html", order=order, link=link, can_edit=g.member.can("orders", "edit"),
                  custom_fields=fields.fields("order"), history=audit.history("order", order.id),
                  held_until=messages.held_until(order), moving=moving, move_errors=move_errors or {},
                  contact=contacts.contact_of(order),
                  typed=typed or {}, **files_card(g.member, "order", order), **payments_card(order))


def _form(order=None, **kwargs) -> forms.OrderForm:
    """The order form; its owners are the members the viewer may give the order to (and its owner)."""
    form = forms.OrderForm(**kwargs)
    owners = members_in_reach(g.member, "orders", "edit" if order else "create")
    if order is not None and order.owner not in owners:
        owners.insert(0, order.owner)
    form.set_owners(owners)
    return form


def _row(line) -> forms.LineInput:
    """A stored line as the form shows it."""
    return forms.LineInput(key=forms.new_key(), product_id=str(line.product_id or ""),
                           description=line.description, unit=line.unit or "",
                           quantity=f"{line.quantity.normalize():f}", unit_price=f"{line.unit_price:.2f}",
                           discount=f"{line.discount.normalize():f}")


def _form_page(form, order, rows, customer, error: Invalid | None = None, custom: dict | None = None):
    """The order form: the order's fields, the customer picker, the lines and their totals, then this
    workspace's custom fields for orders (`custom`: the values as typed, else the stored ones or defaults)."""
    errors = error.errors if error else {}
    Invalid({k: v for k, v in errors.items() if hasattr(form, k)}).apply_to(form)
    keep = [line.product_id for line in order.lines] if order else []
    lines, totals, incomplete = service.preview(g.member, rows, order)
    definitions = fields.fields("order")
    return render("orders/form.html", block="form", form=form, order=order, rows=rows, customer=customer,
                  custom_fields=definitions,
                  custom_values=custom if custom is not None else initial_values(definitions, order),
                  custom_errors={k: v for k, v in errors.items() if k.startswith("custom_")},
                  errors=errors, products=catalogue.products_for_lines(g.member, keep), lines=lines, totals=totals,
                  incomplete=incomplete, contacts=contacts.choices(customer.id if customer else None),
                  currency=known_currency(form.currency.data or (order.currency if order else "")))


@public.get("/<token>", endpoint="show")
def public_show(token: str):
    """The end customer's view of one order: number, status, its dates and the delivery date; with payments set
    up, what is paid and a Pay button for the rest."""
    # Anything wrong with the token (tampered, unknown, revoked, another tenant's) is the same 404.
    link = status_link.read_link(token)
    if link is None:
        abort(404)
    tenant, order_id, signature = link
    with tenant_bound(tenant):
        order = status_link.linked_order(tenant, order_id, signature)
        if order is None:
            abort(404)
        shown, payment = status_link.public_status(tenant, order), payment_state.public_view(order)
        page = render_template("orders/public.html", order=shown, payment=payment, token=token,
                               just_paid=request.args.get("paid") == "1")
    response = public_links.private_answer(page)
    return payment_state.allow_checkout(response) if payment and payment["can_pay"] else response
