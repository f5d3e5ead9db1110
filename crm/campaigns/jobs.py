"""The campaign's expansion job: one batch of the audience into the outbox per run, one transaction each; it
queues itself again for the next batch (after commit), so a huge audience never holds one long transaction.

Restartable: the campaign row keeps the cursor (the last customer id handled) in the same transaction as the
batch's messages, so after a crash the job goes on from the last committed batch; each message's idempotency
key (campaign + customer) makes a repeated batch add nothing. Two jobs of one campaign never run a batch at
once: the campaign row is locked (the second one skips)."""
from sqlalchemy import select

from crm.campaigns import sending
from crm.campaigns.models import Campaign
from crm.extensions import db
from crm.jobs import enqueue_for_active_tenants, platform_job, tenant_job


@tenant_job
def expand(campaign_id: int) -> str:
    """Queue the next batch of one campaign; returns what happened (for logs and tests)."""
    return sending.expand_batch(campaign_id)


@tenant_job
def resume_stalled() -> int:
    """Hand every stalled campaign of the tenant to RQ again (for a periodic check); returns how many."""
    campaigns = db.session.scalars(select(Campaign).where(Campaign.status.in_(("scheduled", "sending"))))
    return sum(sending.resume_if_stalled(campaign) for campaign in campaigns)


@platform_job
def resume_stalled_all() -> int:
    """Check every active workspace for stalled campaigns (from cron, every ten minutes)."""
    return enqueue_for_active_tenants(resume_stalled, queue_name="notify")
