"""Calendar: a week or month of planned follow-ups (mine, or my team's by scope), drag to another day, click a
day to plan one; and each member's iCalendar feed link."""
from flask import Blueprint, abort, g, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm import public_links, registry, validation
from crm.calendar import feed, service
from crm.errors import Invalid
from crm.extensions import db
from crm.followups import service as followups
from crm.followups.models import METHOD_LABELS
from crm.members.access import require
from crm.web import on_invalid, render, saved
from tenants.binding import tenant_bound
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("calendar", __name__, "/calendar")
registry.plug(bp, registry.MenuEntry("calendar.index", _l("Calendar"), order=22, permission=("activities", "view"),
                                     current=("calendar.*",)))

public = Blueprint("calendar_feed", __name__, url_prefix="/cal")


def _shown(values) -> tuple[service.Period, str]:
    """The period and whose follow-ups the query string (or the move's form) asks for; today's week by default."""
    try:
        anchor = validation.day(values.get("date"), "date") or service.today()
    except Invalid:
        anchor = service.today()
    whose = values.get("whose") if values.get("whose") in service.WHOSE else "mine"
    if g.member.role.scope("activities", "view") == "own":
        whose = "mine"
    return service.period(values.get("view", "week"), anchor), whose


def _calendar_page(values, error: str | None = None):
    shown, whose = _shown(values)
    by_day, truncated = service.planned_in(g.member, shown, whose)
    here = url_for("calendar.index", view=shown.view, date=shown.anchor.isoformat(), whose=whose)
    return render("calendar/index.html", "grid", shown=shown, whose=whose, by_day=by_day, truncated=truncated,
                  today=service.today(), here=here, error=error, method_labels=METHOD_LABELS,
                  feed_url=feed.feed_url(g.member), team_view=g.member.role.scope("activities", "view") != "own",
                  can_edit=g.member.can("activities", "edit"), can_plan=g.member.can("activities", "create"))


@bp.get("/")
@require("activities", "view")
def index():
    return _calendar_page(request.args)


@bp.post("/<id:activity_id>/move")
@require("activities", "edit")
def move(activity_id: int):
    """Plan the follow-up on the day it was dropped on (same time of day); answers the calendar again."""
    activity = followups.get_activity(g.member, activity_id, "edit")
    on_invalid(lambda error: _calendar_page(request.form, " ".join(error.errors.values())))
    day = validation.day(request.form.get("day"), "day")
    if day is None:
        raise Invalid({"day": _("Choose a day.")})
    service.move_to_day(g.member, activity, day)
    db.session.commit()
    return _calendar_page(request.form)


@bp.post("/feed")
@require("activities", "view")
def feed_link():
    """Make a new feed link (the old one stops working), or turn the feed off."""
    if request.form.get("action") == "off":
        feed.turn_off(g.member)
        return saved(_("Calendar link turned off."), "calendar.index")
    feed.new_link(g.member)
    return saved(_("New calendar link made; the previous one no longer works."), "calendar.index")


@public.get("/<token>.ics", endpoint="show")
def feed_show(token: str):
    """The member's follow-ups as iCalendar; anything wrong with the token is the same 404."""
    link = feed.read_link(token)
    if link is None:
        abort(404)
    tenant, member_id, signature = link
    with tenant_bound(tenant):
        body = feed.document(tenant, member_id, signature)
    if body is None:
        abort(404)
    response = public_links.private_answer(body)
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = 'inline; filename="follow-ups.ics"'
    return response
