"""Customer pages: list with active search, modal create/edit, inline edit, detail, tags, bulk, trash."""
from flask import abort, flash, g, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_babel import lazy_gettext as _l

from crm import registry
from crm.customers import addresses, chooser, merging, queries, sensitive, writes
from crm.customers.forms import (
    AUDIT_LABELS,
    CHANNEL_LABELS,
    CHINA_LABELS,
    FIELD_LABELS,
    KIND_LABELS,
    STAGE_LABELS,
    CustomerForm,
)
from crm.errors import Invalid, NotFound
from crm.extensions import db
from crm.fields import definitions as fields
from crm.fields import filters, record_values
from crm.fields.values import display, read_form
from crm.members.access import members_in_reach, require
from crm.members.service import member_name
from crm.settings import phone_region
from crm.tags import service as tags
from crm.validation import record_id
from crm.web import check_form, fragment_of, is_htmx, on_invalid, on_invalid_go_to, render, see_other
from crm.web import open_when_read_only
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("customers", __name__, "/customers")
registry.plug(
    bp, registry.MenuEntry("customers.index", _l("Customers"), order=30, current=("customers.*",)),
    registry.AuditEntity("customer", _l("Customer"), fields=AUDIT_LABELS, link=("customers.show", "customer_id"),
                         values={"kind": KIND_LABELS, "stage": STAGE_LABELS, "preferred_channel": CHANNEL_LABELS,
                                 "owner_id": member_name, "country": addresses.country_name}),
    registry.SavedList("customers", "customers.index", read=lambda args: {
        **queries.CustomerQuery.from_args(args).args(), **_column_args(args)}))


@bp.app_context_processor
def labels():
    return {"stage_labels": STAGE_LABELS, "kind_labels": KIND_LABELS, "field_labels": FIELD_LABELS,
            "china_labels": CHINA_LABELS, "regions": addresses, "masked": sensitive.masked, "masked_custom": record_values.masked_custom, "custom_display": display}


@bp.get("/")
@require("customers", "view")
def index():
    """The list; search, filters and scrolling swap only the rows."""
    definitions = fields.fields()
    query = queries.CustomerQuery.from_args(request.args)
    query.custom = filters.filter_args(request.args, definitions)
    more = bool(query.after) and is_htmx()  # the next rows only; no need to count again
    rows, next_cursor, total = queries.list_customers(g.member, query, with_total=not more)
    whole_page = not is_htmx() or bool(request.headers.get("HX-Boosted"))  # the filter form needs these
    return render("customers/index.html", block="more_rows" if more else "results", rows=rows,
                  next_cursor=next_cursor, query=query, total=total,
                  tags=tags.all_tags() if whole_page else [],
                  members=members_in_reach(g.member, "customers", "view") if whole_page else [], custom_fields=definitions,
                  columns=_columns(definitions))


def _column_args(args) -> dict:
    """The columns a saved view keeps: the picked ones, when the filter form sent its "Columns" choice."""
    return {"columns_set": "1", "col": args.getlist("col")[:20]} if args.get("columns_set") else {}


def _columns(definitions) -> list:
    """The custom columns this user picked for the list (remembered per workspace), else the defaults."""
    remembered = session.setdefault("list_columns", {})
    if request.args.get("columns_set"):
        remembered[str(g.tenant.id)] = request.args.getlist("col")[:20]
        session.modified = True
    picked = remembered.get(str(g.tenant.id))
    return [f for f in definitions if (f.key in picked if picked is not None else f.in_list) and not f.sensitive]


@bp.get("/new")
@require("customers", "create")
def new():
    """The empty form, shown in a modal."""
    form = _form("create")
    form.owner_id.data = str(g.member.id)
    form.country.data = phone_region()  # the workspace's country
    return _form_page(form, None)


@bp.post("/")
@require("customers", "create")
def create():
    """Create a customer; errors come back beside their fields with what was typed kept."""
    form = _form("create")
    custom = read_form(fields.fields(), request.form, for_update=False)
    on_invalid(lambda error: _form_page(form, None, custom, error.split_custom(form)))
    check_form(form)
    customer = writes.create_customer(g.member, form.data_for_service(), custom=custom)
    db.session.commit()
    flash(_("Customer %(name)s added.", name=customer.name))
    return see_other(url_for("customers.show", customer_id=customer.id))


@bp.get("/<id:customer_id>")
@require("customers", "view")
def show(customer_id: int):
    """The customer's page: data, custom fields, tags, and the panels other features plug in (history, deals ...)."""
    try:
        customer = queries.get_customer(g.member, customer_id)
    except NotFound:  # an old link to a merged customer leads to the one it was merged into
        survivor = merging.merged_into(g.member, customer_id)
        if survivor is None:
            raise
        flash(_("That customer was merged into %(name)s.", name=survivor.name))
        return see_other(url_for("customers.show", customer_id=survivor.id))
    panels, panel_data = registry.customer_panels(g.member, customer)
    duplicates = merging.duplicates_of(g.member, customer) if merging.may_merge(g.member) else []
    return render("customers/show.html", customer=customer, tags=tags.all_tags(), merge=merging.merge_note(customer),
                  duplicates=duplicates,
                  members=members_in_reach(g.member, "customers", "edit"), custom_fields=fields.fields(), hidden_builtin=_hidden_builtin(),
                  panels=panels, **panel_data)


@bp.get("/<id:customer_id>/edit")
@require("customers", "edit")
def edit(customer_id: int):
    customer = queries.get_customer(g.member, customer_id, "edit")
    form = _form("edit", obj=customer)
    form.owner_id.data = str(customer.owner_id or "")
    return _form_page(form, customer)


@bp.post("/<id:customer_id>")
@require("customers", "edit")
def update(customer_id: int):
    """Save the modal form."""
    customer = queries.get_customer(g.member, customer_id, "edit")
    form = _form("edit")
    custom = read_form(fields.fields(), request.form, for_update=True)
    on_invalid(lambda error: _form_page(form, customer, custom, error.split_custom(form)))
    check_form(form)
    writes.update_customer(g.member, customer, form.data_for_service(), custom=custom)
    db.session.commit()
    flash(_("Changes saved."))
    return see_other(url_for("customers.show", customer_id=customer.id))


def _form_page(form, customer, custom_values=None, custom_errors=None):
    """The customer form (a modal for htmx): built-in fields, then this workspace's custom fields."""
    definitions = fields.fields()
    if custom_values is None:
        custom_values = dict(customer.custom) if customer else {f.key: f.default for f in definitions if f.default}
    return render("customers/form.html", block="form", form=form, customer=customer, custom_fields=definitions,
                  custom_values=custom_values, custom_errors=custom_errors or {}, hidden_builtin=_hidden_builtin())


def _hidden_builtin() -> set:
    return {name for name, rule in fields.builtin_rules().items() if rule.get("hidden")}


@bp.get("/<id:customer_id>/fields/<name>")
@require("customers", "view")
@fragment_of("customers.show")
def field(customer_id: int, name: str):
    """One field, shown (or, with ?edit=1, as a small form) for inline editing."""
    _inline_field(name)
    customer = queries.get_customer(g.member, customer_id, "edit" if request.args.get("edit") else "view")
    return render("customers/_field.html", customer=customer, name=name, editing=bool(request.args.get("edit")),
                  value=getattr(customer, name), error=None, members=members_in_reach(g.member, "customers", "edit"))


@bp.post("/<id:customer_id>/fields/<name>")
@require("customers", "edit")
def update_field(customer_id: int, name: str):
    """Save one inline-edited field; a bad value stays in the input with its message."""
    _inline_field(name)
    customer = queries.get_customer(g.member, customer_id, "edit")
    value = request.form.get("value", "")
    on_invalid(lambda error: render("customers/_field.html", customer=customer, name=name, editing=True, value=value,
                                    error=error.errors.get(name),
                                    members=members_in_reach(g.member, "customers", "edit")))
    writes.update_customer(g.member, customer, {name: value}, partial=True)
    db.session.commit()
    return render("customers/_field.html", customer=customer, name=name, editing=False,
                  value=getattr(customer, name), error=None, members=members_in_reach(g.member, "customers", "edit"))


def _inline_field(name: str) -> None:
    if name not in writes.INLINE_EDITABLE:
        abort(404)


@bp.get("/duplicates")
@require("customers", "view")
@fragment_of("customers.new")
def duplicates():
    """A warning when another customer has the same phone or email (checked while typing)."""
    exclude = record_id(request.args.get("exclude"))
    found = queries.possible_duplicates(g.member, request.args.get("phone", ""), request.args.get("email", ""),
                                        exclude)
    return render("customers/_duplicates.html", found=found, exclude=exclude, may_merge=merging.may_merge(g.member))


@bp.get("/address")
@require("customers", "view")
@fragment_of("customers.new")
def address():
    """The form's address fields again for the country, province and city chosen (the next select's choices)."""
    form = _form("create", formdata=request.args, meta={"csrf": False})
    return render("customers/_address.html", form=form)


@bp.get("/place-filter")
@require("customers", "view")
@fragment_of("customers.index")
def place_filter():
    """The list's place filter again for the country and province chosen (the cities of that province)."""
    query = queries.CustomerQuery.from_args(request.args)
    if query.country == addresses.CHINA and query.city not in addresses.cities(query.region):
        query.city = ""
    return render("customers/_place_filter.html", query=query)


@bp.get("/choices")
@require("customers", "view")
@fragment_of("customers.index")
def choices():
    """The customer chooser's options for what was typed, the chosen customer kept first."""
    q = request.args.get("customer_q", "").strip()
    return render("customers/_choices.html", chosen=chooser.chosen(g.member, request.args.get("customer_id")),
                  found=chooser.matching(g.member, q), q=q)


@bp.post("/<id:customer_id>/tags")
@require("customers", "edit")
def add_tag(customer_id: int):
    """Tag one customer with an existing tag or a new one typed by name."""
    customer = queries.get_customer(g.member, customer_id, "edit")
    on_invalid(lambda error: render("customers/_tags.html", customer=customer, tags=tags.all_tags(),
                                    error=error.errors.get("name")))
    tag_id = record_id(request.form.get("tag_id"))
    tag = tags.get_tag(tag_id) if tag_id else tags.find_or_create_tag(request.form.get("name", ""))
    writes.add_tag([customer], tag)
    db.session.commit()
    return render("customers/_tags.html", customer=queries.get_customer(g.member, customer_id), tags=tags.all_tags(),
                  error=None)


@bp.post("/<id:customer_id>/tags/<id:tag_id>/remove")
@require("customers", "edit")
def remove_tag(customer_id: int, tag_id: int):
    customer = queries.get_customer(g.member, customer_id, "edit")
    writes.remove_tag([customer], tags.get_tag(tag_id))
    db.session.commit()
    customer = queries.get_customer(g.member, customer_id)
    return render("customers/_tags.html", customer=customer, tags=tags.all_tags(), error=None)


@bp.post("/<id:customer_id>/delete")
@require("customers", "delete")
def delete(customer_id: int):
    """Move one customer to the trash."""
    customer = queries.get_customer(g.member, customer_id, "delete")
    writes.move_to_trash([customer])
    db.session.commit()
    flash(_("%(name)s moved to the trash.", name=customer.name))
    return see_other(url_for("customers.index"))


BULK_ACTIONS = {"add_tag": "edit", "remove_tag": "edit", "set_owner": "edit", "delete": "delete"}


@bp.post("/bulk")
@require("customers", "view")
def bulk():
    """Apply one action to the selected rows the member may change."""
    action = request.form.get("action", "")
    # Back to the list as it was filtered, read as the list reads it: the raw query string could name
    # url_for's own arguments (endpoint, _external) and would keep only the first of several tags.
    the_list = queries.CustomerQuery.from_args(request.args).args()
    if action == "merge":  # chosen on the side-by-side page, which checks the selection
        return see_other(url_for("customers.merge_form", ids=request.form.getlist("ids")[:10]))
    if action not in BULK_ACTIONS:
        flash(_("Choose an action."), "error")
        return see_other(url_for("customers.index", **the_list))
    on_invalid_go_to("customers.index", **the_list)
    done = _bulk(action, writes.selected(g.member, request.form.getlist("ids"), BULK_ACTIONS[action]))
    db.session.commit()
    flash(_("%(n)d customers updated.", n=done) if action != "delete"
          else _("%(n)d customers moved to the trash.", n=done))
    return see_other(url_for("customers.index", **the_list))


def _bulk(action: str, chosen) -> int:
    if action == "delete":
        return writes.move_to_trash(chosen)
    if action == "set_owner":
        return writes.set_owner(g.member, chosen, request.form.get("owner_id"))
    tag_id = record_id(request.form.get("tag_id"))
    if tag_id is None:
        raise Invalid({"tag_id": _("Choose a tag.")})
    tag = tags.get_tag(tag_id)
    return writes.add_tag(chosen, tag) if action == "add_tag" else writes.remove_tag(chosen, tag)


@bp.get("/merge")
@require("customers", "delete")
@require("customers", "edit")
def merge_form():
    """The 2-3 customers picked, side by side, with a choice per field where their values differ."""
    on_invalid_go_to("customers.index")
    customers = merging.customers_to_merge(g.member, request.args.getlist("ids"))
    return render("customers/merge.html", customers=customers, rows=merging.field_choices(customers))


@bp.get("/possible-duplicates")
@require("customers", "delete")
@require("customers", "edit")
def possible_duplicates():
    """Customers that share a phone, an email, or a name and company, each group a link to merge them."""
    return render("customers/possible_duplicates.html", groups=merging.duplicate_groups(g.member))


@bp.post("/merge")
@require("customers", "delete")
@require("customers", "edit")
def merge():
    """Merge the picked customers into the one kept, with the values chosen per field."""
    ids = request.form.getlist("ids")[:10]
    on_invalid_go_to("customers.merge_form", ids=ids)
    chosen = {key[6:]: value for key, value in request.form.items() if key.startswith("field:")}
    survivor = merging.merge(g.member, request.form.get("survivor_id"), ids, chosen)
    db.session.commit()
    flash(ngettext("%(num)d customer merged into %(name)s.", "%(num)d customers merged into %(name)s.",
                   merging.merged_count(survivor), name=survivor.name))
    return see_other(url_for("customers.show", customer_id=survivor.id))


@bp.post("/<id:customer_id>/unmerge")
@require("customers", "delete")
@require("customers", "edit")
def unmerge(customer_id: int):
    """Undo the latest merge into this customer, while it is unchanged since."""
    customer = queries.get_customer(g.member, customer_id, "edit")
    on_invalid_go_to("customers.show", customer_id=customer_id)
    restored = merging.undo(g.member, customer)
    db.session.commit()
    flash(ngettext("Merge undone: %(num)d customer restored.", "Merge undone: %(num)d customers restored.",
                   len(restored)))
    return see_other(url_for("customers.show", customer_id=customer_id))


@bp.get("/trash")
@require("customers", "delete")
def trash():
    """Deleted customers, which can be restored or deleted for good."""
    rows = writes.trash(g.member)
    return render("customers/trash.html", rows=rows, survivors=merging.survivors(g.member, rows))


@bp.post("/trash")
@require("customers", "delete")
def trash_action():
    chosen = writes.trashed(g.member, request.form.getlist("ids"))
    if request.form.get("action") == "purge":
        done = writes.purge(chosen)
        message = _("%(n)d customers deleted for good.", n=done)
    else:
        done = writes.restore(chosen)
        message = _("%(n)d customers restored.", n=done)
    db.session.commit()
    flash(message)
    return see_other(url_for("customers.trash"))


def _form(action: str, **kwargs) -> CustomerForm:
    form = CustomerForm(**kwargs)
    form.set_countries(addresses.country_choices())
    form.set_owners(members_in_reach(g.member, "customers", action))
    if not g.member.can("sensitive", "edit"):
        form.drop_sensitive()
    return form


@bp.post("/<id:customer_id>/reveal/<name>")
@require("sensitive", "view")
@open_when_read_only
def reveal(customer_id: int, name: str):
    """Show one sensitive value in full; the reveal is written to the audit log."""
    value = sensitive.reveal(g.member, customer_id, name)
    db.session.commit()
    return render("customers/_sensitive.html", customer=queries.get_customer(g.member, customer_id), name=name,
                  value=value)
