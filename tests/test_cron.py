"""The cron schedule loads and every periodic job runs against a real database and Redis, doing its work."""
from datetime import timedelta

from rq.cron import CronScheduler


def test_cron_schedule_registers_every_periodic_job_and_each_runs(app, acme):
    from crm.accounts.models import OutboundEmail
    from crm.followups.jobs import daily_reminders_all
    from crm.campaigns.jobs import resume_stalled_all
    from crm.extensions import db, redis_connection
    from crm.jobs import queue
    from crm.notify.email import sweep_platform_emails
    from crm.notify.jobs import sweep
    from crm.notify.models import NotificationDue
    from crm.notify.outbox import job_id
    from crm.pool.jobs import recycle_all_tenants
    from crm.attachments.jobs import sweep_files_all
    from crm.imports.uploads import sweep_spool_all
    from crm.billing.jobs import reconcile_subscriptions, requeue_billing_events
    from crm.billing.metered import report_metered_sms_all
    from crm.billing.usage import count_usage_all
    from crm.extensions import utcnow

    with app.app_context():
        scheduler = CronScheduler(connection=redis_connection())
        scheduler.load_config_from_file("crm/cron.py")
        names = {job.name for job in scheduler.get_jobs()}
        assert names == {"notify.sweep", "notify.sweep_platform_emails", "followups.daily_reminders_all",
                         "pool.recycle_all_tenants", "campaigns.resume_stalled_all", "exports.remove_expired",
                         "attachments.sweep_files_all", "imports.sweep_spool_all",
                         "payments.requeue_stripe_events_all", "billing.count_usage_all",
                         "backups.nightly_backups_all", "webhooks.sweep", "billing.requeue_billing_events",
                         "billing.reconcile_subscriptions", "billing.report_metered_sms_all",
                         "workspace_export.remove_expired_all", "api.remove_expired_idempotent_all"}

        # A message whose job Redis lost, and a platform email stuck in "queued": each sweeper hands it over.
        long_ago = utcnow() - timedelta(hours=1)
        db.session.add(NotificationDue(tenant_id=acme.id, notification_id=424242, due_at=long_ago))
        stuck = OutboundEmail(to_address="stuck@example.com", subject="Reset", body_text="x", created_at=long_ago)
        db.session.add(stuck)
        db.session.commit()
        assert sweep() == 1
        assert sweep_platform_emails() >= 1
        waiting = [queue("notify").fetch_job(i) for i in queue("notify").get_job_ids()]
        assert job_id(acme.id, 424242) in {job.id for job in waiting}
        assert any(job.func_name.endswith("deliver_email") and job.args == (stuck.id,) for job in waiting)

        assert daily_reminders_all() >= 1 and recycle_all_tenants() >= 1 and resume_stalled_all() >= 1
        assert sweep_files_all() >= 1 and sweep_spool_all() >= 1 and count_usage_all() >= 1
        assert reconcile_subscriptions() == {} and requeue_billing_events() == 0  # billing off: nothing to do
        assert report_metered_sms_all() == 0
