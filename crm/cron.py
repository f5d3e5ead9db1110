"""Every periodic job, for RQ's cron: `rq cron crm/cron.py` (scripts/run.py starts it beside the worker).

Each job is safe to run on several machines at once and to run late: the sweepers lock what they take, and
the daily jobs count days in each workspace's time zone with per-day idempotency, so an hourly run that
finds a workspace's morning does the day's work and later runs change nothing."""
from rq import cron

from crm.api.jobs import remove_expired_idempotent_all
from crm.attachments.jobs import sweep_files_all
from crm.billing.jobs import reconcile_subscriptions, requeue_billing_events
from crm.billing.metered import report_metered_sms_all
from crm.billing.usage import count_usage_all
from crm.backups.jobs import nightly_backups_all
from crm.exports.service import remove_expired
from crm.followups.jobs import daily_reminders_all
from crm.imports.uploads import sweep_spool_all
from crm.campaigns.jobs import resume_stalled_all
from crm.notify.email import sweep_platform_emails
from crm.notify.jobs import sweep
from crm.payments.jobs import requeue_stripe_events_all
from crm.pool.jobs import recycle_all_tenants
from crm.webhooks.jobs import sweep as sweep_webhooks
from crm.workspace_export.jobs import remove_expired_all as remove_expired_workspace_exports

cron.register(sweep, queue_name="notify", interval=30, name="notify.sweep")
cron.register(sweep_platform_emails, queue_name="notify", interval=600, name="notify.sweep_platform_emails")
cron.register(daily_reminders_all, queue_name="default", interval=3600, name="followups.daily_reminders_all")
cron.register(recycle_all_tenants, queue_name="default", interval=3600, name="pool.recycle_all_tenants")
cron.register(resume_stalled_all, queue_name="notify", interval=600, name="campaigns.resume_stalled_all")
cron.register(remove_expired, queue_name="exports", interval=3600, name="exports.remove_expired")
cron.register(sweep_webhooks, queue_name="webhooks", interval=30, name="webhooks.sweep")
cron.register(sweep_files_all, queue_name="default", interval=3600, name="attachments.sweep_files_all")
cron.register(sweep_spool_all, queue_name="default", interval=3600, name="imports.sweep_spool_all")
cron.register(requeue_stripe_events_all, queue_name="webhooks", interval=3600,
              name="payments.requeue_stripe_events_all")
cron.register(count_usage_all, queue_name="default", interval=3600, name="billing.count_usage_all")
cron.register(nightly_backups_all, queue_name="exports", interval=3600, name="backups.nightly_backups_all")
cron.register(requeue_billing_events, queue_name="webhooks", interval=3600, name="billing.requeue_billing_events")
# Nightly, at a quiet hour (UTC): one Stripe read per paying workspace; a long run for many workspaces.
cron.register(reconcile_subscriptions, queue_name="default", cron="17 3 * * *", job_timeout=3600,
              name="billing.reconcile_subscriptions")
cron.register(report_metered_sms_all, queue_name="default", interval=3600, name="billing.report_metered_sms_all")
cron.register(remove_expired_workspace_exports, queue_name="exports", interval=3600,
              name="workspace_export.remove_expired_all")
cron.register(remove_expired_idempotent_all, queue_name="default", interval=3600,
              name="api.remove_expired_idempotent_all")
