"""The customer pool (公海): claim, assign, release, and the recycle rules."""
import click
from flask import g, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from crm import registry
from crm.customers import queries as customers
from crm.extensions import db
from crm.members.access import require
from crm.pool import recycle_rules, service
from crm.pool.forms import KIND_LABELS, ReleaseForm, RuleForm
from crm.pool.recycle import returning_soon
from crm.tags import service as tags
from crm.web import is_htmx, on_invalid, on_invalid_go_to, render, saved
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("pool", __name__, "/pool")
registry.plug(
    bp, registry.MenuEntry("pool.index", _l("Pool"), order=70, permission=("customers", "view"),
                           current=("pool.index",), more=True),
    registry.SettingsTab("pool.rules", _l("Recycle rules"), order=110, permission=("settings", "edit"),
                         current=("pool.*",)),
    registry.CustomerPanel("pool/_release.html", order=10, permission=("customers", "edit"), place="actions"),
    registry.AuditEntity("customer", fields={"pool_reason": _l("Reason for the pool")}))


@bp.app_context_processor
def labels():
    return {"recycle_kind_labels": KIND_LABELS, "pool_mask_phone": service.mask_phone,
            "pool_mask_email": service.mask_email,
            "pool_may_release": lambda customer: service.may_release(g.member, customer)}


@bp.get("/")
@require("customers", "view")
def index():
    """Customers without an owner; search, filters and scrolling swap only the rows."""
    query = service.PoolQuery.from_args(request.args)
    more = bool(query.after) and is_htmx()
    # Only the filter form (target #results) and the next rows ask for a part; an htmx navigation here
    # (HX-Location after claiming or releasing) gets the whole page.
    block = "more_rows" if more else "results" if request.headers.get("HX-Target") == "results" else None
    rows, next_cursor = service.list_pool(g.member, query)
    whole_page = block is None or bool(request.headers.get("HX-Boosted"))
    return render("pool/index.html", block=block, rows=rows, next_cursor=next_cursor,
                  query=query, total=None if more else service.count_pool(g.member, query),
                  masks=service.masks_contacts(g.member), tags=tags.all_tags() if whole_page else [],
                  assignees=service.assignees(g.member) if whole_page else [],
                  soon=returning_soon(g.member) if whole_page else [])


def _the_list() -> dict:
    """The pool list's filters to go back to, read as the list reads them: the raw query string could name
    url_for's or saved()'s own arguments (endpoint, message, _external)."""
    return service.PoolQuery.from_args(request.args).args()


@bp.post("/claim")
@require("customers", "edit")
def claim():
    """Claim the selected pool customers, all or none, within the role's limit."""
    on_invalid_go_to("pool.index", **_the_list())
    claimed = service.claim(g.member, request.form.getlist("ids"))
    return saved(ngettext("You claimed %(num)d customer.", "You claimed %(num)d customers.", len(claimed)),
                 "pool.index", **_the_list())


@bp.post("/<id:customer_id>/claim")
@require("customers", "edit")
def claim_one(customer_id: int):
    """Claim one customer from its row."""
    on_invalid_go_to("pool.index", **_the_list())
    customer = service.claim_one(g.member, customer_id)
    return saved(_("You claimed %(name)s.", name=customer.name), "pool.index", **_the_list())


@bp.post("/assign")
@require("customers", "edit")
def assign():
    """A manager gives the selected pool customers to a member of their team."""
    on_invalid_go_to("pool.index", **_the_list())
    chosen, member = service.assign(g.member, request.form.getlist("ids"), request.form.get("member_id"))
    return saved(ngettext("%(num)d customer assigned to %(name)s.", "%(num)d customers assigned to %(name)s.",
                          len(chosen), name=member.name), "pool.index", **_the_list())


@bp.get("/release/<id:customer_id>")
@require("customers", "edit")
def release_form(customer_id: int):
    """The release form, shown in a modal: a reason is required."""
    customer = customers.get_customer(g.member, customer_id, "edit")
    return render("pool/release.html", block="form", form=ReleaseForm(), customer=customer)


@bp.post("/release/<id:customer_id>")
@require("customers", "edit")
def release(customer_id: int):
    """Send a customer back to the pool; the reason goes on its timeline."""
    customer = customers.get_customer(g.member, customer_id, "edit")
    form = ReleaseForm()
    on_invalid(lambda error: render("pool/release.html", block="form", form=error.apply_to(form), customer=customer))
    service.release(g.member, customer, form.reason.data)
    return saved(_("%(name)s is back in the pool.", name=customer.name), "pool.index")


@bp.get("/rules")
@require("settings", "edit")
def rules():
    """The recycle rules: which owned customers go back to the pool, and the warning before."""
    names = {tag.id: tag.name for tag in tags.all_tags()}
    return render("pool/rules.html", rules=recycle_rules.rules(),
                  rule_tags=lambda rule: ", ".join(names[i] for i in rule.tag_ids if i in names))


@bp.get("/rules/new")
@require("settings", "edit")
def new_rule():
    return _rule_page(_rule_form(), None)


@bp.post("/rules")
@require("settings", "edit")
def create_rule():
    """Add a rule; errors come back beside their fields."""
    form = _rule_form()
    on_invalid(lambda error: _rule_page(error.apply_to(form), None))
    rule = recycle_rules.save_rule(None, form.data_for_service())
    return saved(_("Rule %(name)s added.", name=rule.name), "pool.rules")


@bp.get("/rules/<id:rule_id>/edit")
@require("settings", "edit")
def edit_rule(rule_id: int):
    rule = recycle_rules.get_rule(rule_id)
    form = _rule_form(obj=rule)
    form.tag_ids.data = [str(tag_id) for tag_id in rule.tag_ids]
    return _rule_page(form, rule)


@bp.post("/rules/<id:rule_id>")
@require("settings", "edit")
def update_rule(rule_id: int):
    rule = recycle_rules.get_rule(rule_id)
    form = _rule_form()
    on_invalid(lambda error: _rule_page(error.apply_to(form), rule))
    recycle_rules.save_rule(rule, form.data_for_service())
    return saved(_("Rule %(name)s saved.", name=rule.name), "pool.rules")


@bp.post("/rules/<id:rule_id>/active")
@require("settings", "edit")
def set_rule_active(rule_id: int):
    """Switch a rule on or off."""
    rule = recycle_rules.get_rule(rule_id)
    recycle_rules.set_rule_active(rule, request.form.get("active") == "1")
    return saved(_("Rule %(name)s is on.", name=rule.name) if rule.active else
                 _("Rule %(name)s is off.", name=rule.name), "pool.rules")


@bp.post("/rules/<id:rule_id>/delete")
@require("settings", "edit")
def delete_rule(rule_id: int):
    rule = recycle_rules.get_rule(rule_id)
    recycle_rules.delete_rule(rule)
    return saved(_("Rule %(name)s deleted.", name=rule.name), "pool.rules")


def _rule_form(**kwargs) -> RuleForm:
    form = RuleForm(**kwargs)
    form.set_tags(tags.all_tags())
    return form


def _rule_page(form: RuleForm, rule):
    return render("pool/rule_form.html", block="form", form=form, rule=rule)


@bp.cli.command("recycle")
@click.option("--tenant", "slug", default=None, help="Only this tenant (its slug); default: every active tenant.")
def recycle_command(slug):
    """Apply the recycle rules now, tenant by tenant, in this process (the scheduler queues the same work)."""
    from sqlalchemy import select

    from crm.pool.jobs import recycle
    from tenants.models import Tenant

    stmt = select(Tenant).where(Tenant.status == "active").order_by(Tenant.id)
    found = db.session.scalars(stmt.where(Tenant.slug == slug) if slug else stmt).all()
    if slug and not found:
        raise click.ClickException(f"no active tenant {slug}")
    for tenant in found:
        result = recycle(tenant.id)
        done = f"{result['recycled']} returned to the pool, {result['warned']} warned" if result else "busy, skipped"
        click.echo(f"{tenant.slug:<24} {done}")
