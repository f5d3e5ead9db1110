"""The targets page (/<slug>/targets/): a month's targets against actuals per team and member, edited in place;
and the home page's "This month" card."""
from babel.dates import format_skeleton
from flask import g, request
from flask_babel import format_percent, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from crm import registry
from crm.extensions import db
from crm.members.access import require
from crm.orders.totals import plain_money
from crm.targets import months, service
from crm.targets.forms import FIELD_LABELS, TargetForm
from crm.web import check_form, fragment_of, is_htmx, on_invalid, on_invalid_go_to, render, saved
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("targets", __name__, "/targets")
registry.plug(
    bp, registry.MenuEntry("targets.index", _l("Targets"), order=85, permission=("reports", "view"),
                           current=("targets.*",), more=True),
    registry.HomeCard("targets/_home_card.html", order=20, permission=("reports", "view"),
                      load=lambda member: {"month_lines": service.home_lines(member), "target_labels": FIELD_LABELS}),
    registry.AuditEntity("sales_target", _l("Sales target"), fields=FIELD_LABELS,
                         values={"won_amount": plain_money, "order_revenue": plain_money}))


@bp.app_template_filter("month_name")
def month_name(month) -> str:
    """A month as people name it in the reader's language: March 2026, 2026年3月."""
    return format_skeleton("yMMMM", month, locale=get_locale())


@bp.app_template_filter("progress_percent")
def progress_percent(value: int) -> str:
    """Whole percent in the reader's locale (45%)."""
    return format_percent(value / 100)


def _page(month, editing: str = "", form: TargetForm | None = None, lines=None):
    """The targets page of `month`; `editing`: the key of the row shown as `form`."""
    lines = service.board(g.member, month) if lines is None else lines
    return render("targets/index.html", month=month, lines=lines, editing=editing, form=form,
                  labels=FIELD_LABELS, months=months, can_edit=any(line.editable for line in lines))


def _row(line, form: TargetForm | None = None):
    """One row, as its inline form when `form` is given; the whole page with that row open without htmx."""
    if not is_htmx():
        return _page(line.month, line.subject.key if form else "", form)
    return render("targets/_row.html", line=line, month=line.month, form=form, labels=FIELD_LABELS, months=months)


@bp.get("/")
@require("reports", "view")
def index():
    """The month's targets and actuals of every member and team the viewer may see; ?edit=<key> opens a row."""
    month, editing = months.from_query(request.args.get("month")), request.args.get("edit", "")
    lines = service.board(g.member, month)
    line = next((line for line in lines if line.subject.key == editing and line.editable), None)
    return _page(month, editing if line else "", TargetForm(formdata=None).show(line) if line else None, lines)


@bp.get("/row")
@require("reports", "view")
@fragment_of("targets.index")
def row():
    """One member's or team's row, shown or (with edit=1) as its inline form."""
    month = months.from_query(request.args.get("month"))
    if request.args.get("edit"):
        line = service.line(g.member, month, request.args.get("subject"), "edit")
        return _row(line, TargetForm(formdata=None).show(line))
    return _row(service.line(g.member, month, request.args.get("subject")))


@bp.post("/")
@require("reports", "edit")
def save():
    """Save one member's or team's targets for the month: all four, or none with a message at each bad one."""
    form = TargetForm()
    month = months.parse(form.month.data)
    line = service.line(g.member, month, form.subject.data, "edit")
    on_invalid(lambda error: _row(line, error.apply_to(form)))
    check_form(form)
    service.save_targets(g.member, month, line.subject, form.data_for_service())
    if not is_htmx():
        return saved(_("Targets of %(name)s saved.", name=line.subject.name), "targets.index",
                     month=months.key(month))
    db.session.commit()
    return _row(service.line(g.member, month, line.subject.key))


@bp.post("/copy")
@require("reports", "edit")
def copy():
    """Give the month the targets of the month before, for everyone whose targets the viewer may set."""
    month = months.parse(request.form.get("month"))
    on_invalid_go_to("targets.index", month=months.key(month))
    changed = service.copy_previous_month(g.member, month)
    return saved(ngettext("Last month's targets copied; %(num)d row changed.",
                          "Last month's targets copied; %(num)d rows changed.", changed), "targets.index",
                 month=months.key(month))
