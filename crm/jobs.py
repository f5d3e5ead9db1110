"""Background jobs on RQ: enqueue after commit, and run with an app context (and a tenant) bound.

Jobs take ids, never objects. A platform job (`@platform_job`) works in `public`; a tenant job (`@tenant_job`)
takes the tenant's id first and runs with that tenant bound, so its body never names the tenant."""
import functools
import logging

import redis
import rq
from flask import current_app, has_app_context
from sqlalchemy import event, select

from crm.extensions import db, redis_connection
from tenants import spares
from tenants.binding import tenant_bound
from tenants.models import Tenant
from tenants.resolver import tenant_by_id

_app = None
log = logging.getLogger(__name__)


def queue(name: str = "default") -> rq.Queue:
    return rq.Queue(name, connection=redis_connection())


def enqueue_after_commit(func, *args, queue_name: str = "default", **options) -> None:
    """Enqueue `func(*args)` once the current transaction commits; never for a rolled-back one."""
    pending = db.session.info.setdefault("jobs_after_commit", [])
    pending.append((queue_name, func, args, options))


def enqueue_many_after_commit(func, calls: list[tuple], queue_name: str = "default") -> None:
    """Enqueue `func(*args)` with its job id for each (args, job id) or (args, job id, when) once the current
    transaction commits, in one round trip to Redis (a fan-out of thousands of jobs); a `when` in the future puts
    the job in the queue's scheduled registry for that time, as `enqueue_at` does."""
    if calls:
        pending = db.session.info.setdefault("jobs_after_commit", [])
        pending.append((queue_name, func, calls, {"many": True}))


@event.listens_for(db.session, "after_commit")
def _enqueue_pending(session) -> None:
    for queue_name, func, args, options in session.info.pop("jobs_after_commit", []):
        at = options.pop("at", None)
        try:
            if options.pop("many", False):
                _enqueue_many(queue(queue_name), func, args)
            elif at is None:
                queue(queue_name).enqueue(func, *args, **options)
            else:
                queue(queue_name).enqueue_at(at, func, *args, **options)
        except redis.RedisError:
            # The work is committed; what needs retrying (the outbox) is found again by its sweeper.
            name = getattr(func, "__name__", func)  # a job may be named by its dotted path
            log.warning("could not enqueue %s%r on %s", name, args, queue_name, exc_info=True)


def _enqueue_many(target: rq.Queue, func, calls: list[tuple]) -> None:
    now = [rq.Queue.prepare_data(func, call[0], job_id=call[1]) for call in calls if len(call) < 3 or call[2] is None]
    with target.connection.pipeline() as pipe:
        target.enqueue_many(now, pipeline=pipe)
        for call_args, job_id, at in (call for call in calls if len(call) == 3 and call[2] is not None):
            target.enqueue_at(at, func, *call_args, job_id=job_id, pipeline=pipe)
        pipe.execute()


@event.listens_for(db.session, "after_rollback")
def _drop_pending(session) -> None:
    session.info.pop("jobs_after_commit", None)


def worker_app():
    """The app a worker process runs jobs in, made once per process."""
    global _app
    if _app is None:
        from crm import create_app

        _app = create_app()
    return _app


def _in_app_context(run):
    if has_app_context():
        return run()
    with worker_app().app_context():
        return run()


def platform_job(func):
    """Run a job inside an app context; commits on success, rolls back on error."""

    @functools.wraps(func)
    def run(*args, **kwargs):
        return _in_app_context(lambda: _run_in_transaction(func, args, kwargs))

    return run


def _run_in_transaction(func, args, kwargs):
    try:
        result = func(*args, **kwargs)
        db.session.commit()
        return result
    except BaseException:
        db.session.rollback()
        raise


def tenant_job(func):
    """A job of one tenant: called as `job(tenant_id, *args)`, it runs `func(*args)` in an app context with
    the tenant bound, commits on success and rolls back on error. A deleted or suspended tenant is skipped
    with a log line (the job returns None)."""

    @functools.wraps(func)
    def run(tenant_id: int, *args, **kwargs):
        return _in_app_context(lambda: _run_for_tenant(func, tenant_id, args, kwargs))

    return run


def _run_for_tenant(func, tenant_id: int, args, kwargs):
    tenant = tenant_by_id(tenant_id)
    if tenant is None or not tenant.active:
        log.info("skipped %s for tenant %s: %s", func.__name__, tenant_id, tenant.status if tenant else "deleted")
        return None
    with tenant_bound(tenant):
        return func(*args, **kwargs)


def enqueue_for_active_tenants(job, queue_name: str = "default") -> int:
    """Queue `job(tenant_id)` for every active tenant once the current transaction commits; returns how many."""
    tenant_ids = db.session.scalars(select(Tenant.id).where(Tenant.status == "active").order_by(Tenant.id)).all()
    for tenant_id in tenant_ids:
        enqueue_after_commit(job, tenant_id, queue_name=queue_name)
    return len(tenant_ids)


# The spare schemas' refill runs as a job from here: tenants/ sits below the app, so it cannot make the app
# a worker needs (platform_job), and it only exposes the work itself (spares.refill).
@platform_job
def refill_spare_schemas() -> int:
    """Build spare tenant schemas up to TENANT_POOL_SIZE (tenants/spares.py)."""
    return spares.refill()


def refill_spares_after_commit() -> None:
    """Replace the spare a sign-up may have taken, once its transaction commits."""
    if current_app.config["TENANT_POOL_SIZE"] > 0:
        enqueue_after_commit(refill_spare_schemas, queue_name="default")
