"""The Campaigns pack: per campaign that started sending in the period, what became of its messages (the campaign
page's own counts, crm/campaigns/progress.py) and how many of the customers it reached got a deal or placed an
order within 30 days of their message. Campaigns count within the viewer's reports scope by their owner (who made
them); the owner and team filters read the same."""
from datetime import timedelta

from flask import url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, or_, select

from crm.campaigns.models import Campaign
from crm.campaigns.progress import progress_of
from crm.deals.models import Deal
from crm.extensions import db
from crm.members.access import scoped
from crm.members.models import Member
from crm.notify.models import Notification
from crm.orders.models import Order
from crm.reports import charts
from crm.reports.catalogue import add_pack, report
from crm.reports.periods import Period, ReportQuery
from crm.reports.results import Cell, Column, Figure, Result, Table, ratio

add_pack("campaigns", _l("Campaigns"))
WINDOW = timedelta(days=30)


def _campaigns(viewer: Member, query: ReportQuery, period: Period) -> list[Campaign]:
    """Campaigns the viewer's reports reach that started sending in the period, oldest first."""
    start, end = period.bounds()
    stmt = scoped(select(Campaign), viewer, "reports", "view", Campaign).where(
        Campaign.started_at >= start, Campaign.started_at < end)
    if query.owner:
        stmt = stmt.where(Campaign.owner_id == (viewer.id if query.owner == "me" else int(query.owner)))
    if query.team:
        stmt = stmt.where(Campaign.owner_id.in_(select(Member.id).where(Member.team_id == query.team)))
    return list(db.session.scalars(stmt.order_by(Campaign.started_at, Campaign.id)))


def _within_window(model, *conditions):
    """The message's customer has a `model` row created in the WINDOW after the message was sent."""
    return exists().where(model.customer_id == Notification.customer_id, model.created_at >= Notification.sent_at,
                          model.created_at < Notification.sent_at + WINDOW, *conditions)


def converted(campaign_ids: list[int]) -> dict[int, int]:
    """Per campaign, the customers its sent messages reached who got a deal or placed an order (not cancelled)
    within 30 days after their message was sent."""
    if not campaign_ids:
        return {}
    stmt = (select(Notification.campaign_id, func.count(Notification.customer_id.distinct()))
            .where(Notification.campaign_id.in_(campaign_ids), Notification.status == "sent",
                   or_(_within_window(Deal), _within_window(Order, Order.status != "cancelled")))
            .group_by(Notification.campaign_id))
    return dict(db.session.execute(stmt).all())


def _totals(found: list[Campaign], counts: dict, won: dict) -> tuple[int, int, int]:
    sent = sum(counts[c.id].sent for c in found)
    return len(found), sent, sum(won.get(c.id, 0) for c in found)


@report("campaigns", "campaigns_results", _l("Campaign results"), order=10, filters=("owner", "team"))
def results(viewer: Member, query: ReportQuery) -> Result:
    """Per campaign: sent, failed, opted out, and the customers reached who got a deal or an order in 30 days."""
    found, before = (_campaigns(viewer, query, p) for p in (query.period, query.previous))
    counts, won = progress_of(found + before), converted([c.id for c in found + before])
    table = Table([Column(_("Campaign"), "text"), Column(_("Started"), "text"), Column(_("Sent")),
                   Column(_("Failed")), Column(_("Opted out")), Column(_("Deal or order in 30 days")),
                   Column(_("Conversion"), "percent")])
    may_open = viewer.can("campaigns", "view")
    names, series = [], {"sent": [], "failed": [], "opted_out": [], "converted": []}
    for campaign in found:
        shown, n = counts[campaign.id], won.get(campaign.id, 0)
        link = url_for("campaigns.show", campaign_id=campaign.id) if may_open else None
        names.append(campaign.name)
        for key, value in (("sent", shown.sent), ("failed", shown.failed), ("opted_out", shown.opted_out),
                           ("converted", n)):
            series[key].append(charts.point(value, link))
        table.rows.append([Cell(campaign.name, link), Cell(format_date(campaign.started_at)), Cell(shown.sent),
                           Cell(shown.failed), Cell(shown.opted_out), Cell(n), Cell(ratio(n, shown.sent))])
    labels = {"sent": _("Sent"), "failed": _("Failed"), "opted_out": _("Opted out"),
              "converted": _("Deal or order in 30 days")}
    chart = charts.categories(names, [charts.series(labels[key], points) for key, points in series.items()],
                              horizontal=True) if found else None
    (campaigns, sent, converted_now), (campaigns_before, sent_before, converted_before) = (
        _totals(group, counts, won) for group in (found, before))
    return Result(table, chart, [
        Figure(_("Campaigns"), campaigns, campaigns_before), Figure(_("Messages sent"), sent, sent_before),
        Figure(_("Deal or order in 30 days"), converted_now, converted_before),
        Figure(_("Conversion"), ratio(converted_now, sent), ratio(converted_before, sent_before), kind="percent")],
        notes=[_("Customers reached by a sent message who got a deal or placed an order (not cancelled) within 30 "
                 "days after it, whoever owns the deal or order. Recent campaigns may still gain.")])
