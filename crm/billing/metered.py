"""Metered SMS (plans with `sms_beyond = 'metered'`): the SMS sent past the month's credits are reported to Stripe
as usage of the plan's metered price, through a billing meter (STRIPE_SMS_METER, its event name).

The protocol: each hourly run counts the SMS past the credits this month, writes the part no earlier batch covered
as a batch row (`public.sms_usage_reports`, written on a connection of its own since the tenant's role may only
read it), commits it, and only then tells Stripe, with the batch's identifier (`crm-sms-<tenant>-<yyyymm>-<upto>`).
A failed call leaves the batch unreported and the next run sends it again under the same identifier, which Stripe
counts once; the unique (tenant, month, after) keeps two runs at once from both counting the same messages."""
import logging

import stripe
from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from crm.billing.models import Plan, SmsUsageReport, Subscription
from crm.billing.service import billing_on, standing
from crm.billing.sms import sms_sent_this_month
from crm.billing.stripe_sync import api
from crm.extensions import db, utcnow
from crm.jobs import enqueue_after_commit, platform_job, tenant_job
from crm.targets import months
from tenants.binding import current_tenant

log = logging.getLogger(__name__)


@tenant_job
def report_metered_sms() -> int:
    """Report the bound workspace's SMS past its credits not reported yet; returns how many were reported."""
    plan, tenant_id = standing().plan, current_tenant().id
    customer = db.session.scalar(select(Subscription.stripe_customer_id).where(Subscription.tenant_id == tenant_id))
    if not billing_on() or plan.sms_beyond != "metered" or plan.sms_per_month is None or not customer:
        return 0
    month = months.current()
    beyond = max(0, sms_sent_this_month() - plan.sms_per_month)
    with db.engine.begin() as connection:
        covered = connection.scalar(select(func.coalesce(func.max(SmsUsageReport.after + SmsUsageReport.quantity), 0))
                                    .where(SmsUsageReport.tenant_id == tenant_id, SmsUsageReport.month == month))
        if beyond > covered:
            connection.execute(insert(SmsUsageReport).values(
                tenant_id=tenant_id, month=month, after=covered, quantity=beyond - covered, created_at=utcnow(),
                identifier=f"crm-sms-{tenant_id}-{month:%Y%m}-{beyond}").on_conflict_do_nothing())
        waiting = connection.execute(select(SmsUsageReport.id, SmsUsageReport.identifier, SmsUsageReport.quantity)
                                     .where(SmsUsageReport.tenant_id == tenant_id,
                                            SmsUsageReport.reported_at.is_(None))
                                     .order_by(SmsUsageReport.id)).all()
    return sum(_report(batch, customer) for batch in waiting)


def _report(batch, customer: str) -> int:
    try:
        api().v1.billing.meter_events.create(params={
            "event_name": current_app.config["STRIPE_SMS_METER"], "identifier": batch.identifier,
            "payload": {"stripe_customer_id": customer, "value": str(batch.quantity)}})
        done = {"reported_at": utcnow(), "error": None}
    except stripe.StripeError as error:
        log.warning("metered SMS batch %s not reported: %s", batch.identifier, error)
        done = {"error": (str(error) or type(error).__name__)[:1000]}
    with db.engine.begin() as connection:
        connection.execute(update(SmsUsageReport).where(SmsUsageReport.id == batch.id).values(**done))
    return batch.quantity if "reported_at" in done else 0


@platform_job
def report_metered_sms_all() -> int:
    """Queue the report for every workspace with a Stripe customer on a metered plan (hourly, crm/cron.py)."""
    if not billing_on():
        return 0
    tenant_ids = db.session.scalars(select(Subscription.tenant_id).join(Plan).where(
        Plan.sms_beyond == "metered", Subscription.stripe_customer_id.is_not(None))).all()
    for tenant_id in tenant_ids:
        enqueue_after_commit(report_metered_sms, tenant_id, queue_name="default")
    return len(tenant_ids)
