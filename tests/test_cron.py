"""The cron schedule loads and every periodic job runs against a real database and Redis."""
from rq.cron import CronScheduler


def test_cron_schedule_registers_every_periodic_job_and_each_runs(app, acme):
    from crm.activities.jobs import daily_reminders_all
    from crm.campaigns.jobs import resume_stalled_all
    from crm.extensions import redis_connection
    from crm.notify.email import sweep_platform_emails
    from crm.notify.jobs import sweep
    from crm.pool.jobs import recycle_all_tenants

    with app.app_context():
        scheduler = CronScheduler(connection=redis_connection())
        scheduler.load_config_from_file("crm/cron.py")
        names = {job.name for job in scheduler.get_jobs()}
        assert names == {"notify.sweep", "notify.sweep_platform_emails", "activities.daily_reminders_all",
                         "pool.recycle_all_tenants", "campaigns.resume_stalled_all"}
        assert sweep() >= 0 and sweep_platform_emails() >= 0
        assert daily_reminders_all() >= 1 and recycle_all_tenants() >= 1 and resume_stalled_all() >= 1
