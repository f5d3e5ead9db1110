"""Follow-ups: My day, plan and log follow-ups, mark them done, notes on the timeline."""
from flask import flash, g, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm import registry
from crm.attachments.service import card as files_card
from crm.contacts import service as contacts
from crm.followups import service
from crm.followups.forms import DoneForm, FollowUpForm
from crm.followups.models import METHOD_LABELS
from crm.extensions import db, utcnow
from crm.members.access import members_in_reach, require
from crm.members.service import member_name
from crm.validation import local_input
from crm.web import check_form, local_path, on_invalid, on_invalid_go_to, render, saved, see_other
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("followups", __name__, "/activities")  # the URL kept: links in sent reminders use it
registry.plug(
    bp, registry.MenuEntry("followups.index", _l("My day"), order=20, permission=("activities", "view"),
                           current=("followups.*",)),
    registry.SettingsTab("followups.rules", _l("Reminder rules"), order=60, permission=("settings", "view"),
                         current=("followups.rules",)),
    registry.CustomerPanel("followups/_customer_panel.html", order=60, load=lambda member, customer: {
        "follow_ups": service.open_for(member, customer_id=customer.id), "now": utcnow(),
        "method_labels": METHOD_LABELS}),
    registry.AuditEntity("activity", _l("Follow-up"), fields={"owner_id": _l("Owner")}, values={"owner_id": member_name}))


def _back() -> str:
    """Where to go after a write: the page the user came from (inside this app), else My day."""
    return local_path(request.form.get("next")) or ""


def _done(message: str):
    """Commit, say so, and go back to where the user came from."""
    db.session.commit()
    flash(message)
    return see_other(_back() or url_for("followups.index"))


@bp.get("/")
@require("activities", "view")
def index():
    """My day: overdue, today and the coming week, with one-click done."""
    day = service.my_day(g.member)
    every = day["overdue"] + day["today"] + day["upcoming"]
    return render("followups/index.html", day=day, names=service.customer_names(every),
                  method_labels=METHOD_LABELS, now=utcnow(), digest=service.digest_wanted(g.member))


def _follow_up_form(form: FollowUpForm, activity=None):
    form.owner_id.choices = [(str(m.id), m.name) for m in members_in_reach(g.member, "activities", "create")]
    files = files_card(g.member, "activity", activity) if activity else {}
    customer_id = activity.customer_id if activity else service.form_customer(g.member, form.customer_id.data,
                                                                               form.deal_id.data)
    return render("followups/form.html", "form", form=form, activity=activity, contacts=contacts.choices(customer_id),
                  next_url=request.values.get("next", ""), **files)


@bp.get("/new")
@require("activities", "create")
def new():
    """The follow-up form in a modal: a plan, or (mode=log) an interaction that happened."""
    form = FollowUpForm(formdata=None, mode=request.args.get("mode", "plan"),
                        customer_id=request.args.get("customer_id", ""), deal_id=request.args.get("deal_id", ""),
                        owner_id=str(g.member.id), due_at=request.args.get("due_at", "")[:16])
    return _follow_up_form(form)


@bp.post("/")
@require("activities", "create")
def create():
    """Save a planned follow-up or a logged interaction."""
    form = FollowUpForm()
    on_invalid(lambda error: _follow_up_form(error.apply_to(form)))
    check_form(form)
    activity = service.create(g.member, form.data_for_service())
    return _done(_("Interaction logged.") if activity.done_at else _("Follow-up planned."))


@bp.get("/<id:activity_id>/edit")
@require("activities", "edit")
def edit(activity_id: int):
    activity = service.get_activity(g.member, activity_id, "edit")
    form = FollowUpForm(formdata=None, obj=activity, due_at=local_input(activity.due_at),
                        owner_id=str(activity.owner_id), remind_minutes=str(activity.remind_minutes or ""))
    return _follow_up_form(form, activity)


@bp.post("/<id:activity_id>")
@require("activities", "edit")
def update(activity_id: int):
    """Reschedule or reword a planned follow-up."""
    activity = service.get_activity(g.member, activity_id, "edit")
    form = FollowUpForm()
    on_invalid(lambda error: _follow_up_form(error.apply_to(form), activity))
    check_form(form)
    service.update(g.member, activity, form.data_for_service())
    return _done(_("Follow-up saved."))


def _done_form(form: DoneForm, activity):
    return render("followups/done.html", "form", form=form, activity=activity, method_labels=METHOD_LABELS,
                  next_url=request.values.get("next", ""))


@bp.get("/<id:activity_id>/done")
@require("activities", "edit")
def done_form(activity_id: int):
    activity = service.get_activity(g.member, activity_id, "edit")
    return _done_form(DoneForm(formdata=None, next_method=activity.method), activity)


@bp.post("/<id:activity_id>/done")
@require("activities", "edit")
def done(activity_id: int):
    """Mark it done with the outcome; plan the next one when asked."""
    activity = service.get_activity(g.member, activity_id, "edit")
    form = DoneForm()
    on_invalid(lambda error: _done_form(error.apply_to(form), activity))
    check_form(form)
    following = service.complete(g.member, activity, form.data_for_service())
    return _done(_("Done. Next follow-up planned.") if following else _("Follow-up done."))


@bp.post("/<id:activity_id>/delete")
@require("activities", "delete")
def delete(activity_id: int):
    """Cancel a planned follow-up."""
    activity = service.get_activity(g.member, activity_id, "delete")
    on_invalid_go_to("followups.index")
    service.cancel(g.member, activity)
    return _done(_("Follow-up cancelled."))


@bp.post("/notes")
@require("activities", "create")
def add_note():
    """A note on a customer's timeline."""
    on_invalid_go_to("followups.index")
    service.add_note(g.member, request.form)
    return _done(_("Note added."))

@bp.post("/digest")
@require("activities", "view")
def digest():
    """Opt in or out of the morning digest of one's own follow-ups."""
    wanted = request.form.get("wanted") == "1"
    service.set_digest(g.member, wanted)
    return _done(_("You will get a morning digest.") if wanted else _("Morning digest switched off."))


def _rules_page(errors: dict | None = None):
    return render("followups/rules.html", rule=service.quiet_rule(), errors=errors or {},
                  typed=request.form if errors else {})


@bp.get("/rules")
@require("settings", "view")
def rules():
    """The workspace's reminder rules: customers without a follow-up for N days."""
    return _rules_page()


@bp.post("/rules")
@require("settings", "edit")
def save_rules():
    on_invalid(lambda error: _rules_page(error.errors))
    service.set_quiet_rule(request.form)
    return saved(_("Reminder rules saved."), "followups.rules")
