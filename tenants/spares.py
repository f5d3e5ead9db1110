"""Spare tenant schemas, built ahead of time so that signing a company up is a rename, not DDL.

Each spare is built by the same script as a new tenant (tables at the migration head, stamped, seeded
with the default roles and settings) and listed in public.spare_schemas with that head. Provisioning
takes one at the current head (`FOR UPDATE SKIP LOCKED`, so concurrent sign-ups never share one) and
renames it to t_<id>; an RQ job (crm/jobs.py) refills the pool. Spares left at an older head are dropped."""
import secrets

from flask import current_app
from sqlalchemy import delete, func, select, text

from crm.extensions import db
from tenants.models import SpareSchema


def claim_spare(schema: str) -> bool:
    """Rename a ready spare to `schema` in the current transaction; False when none is ready."""
    from tenants.provisioning import tenant_head

    if current_app.config["TENANT_POOL_SIZE"] <= 0:
        return False
    ready = (select(SpareSchema.name).where(SpareSchema.head == tenant_head()).order_by(SpareSchema.created_at)
             .limit(1).with_for_update(skip_locked=True).scalar_subquery())
    name = db.session.scalar(delete(SpareSchema).where(SpareSchema.name == ready).returning(SpareSchema.name))
    if name is None:
        return False
    db.session.execute(text(f'ALTER SCHEMA "{name}" RENAME TO "{schema}"'))  # both names are ours, never input
    return True


def refill() -> int:
    """Drop spares at an old head and build new ones up to TENANT_POOL_SIZE; returns how many were built.

    Needs an app context: the `tenants upgrade` command, the run command and the refill job give it one."""
    from tenants.provisioning import build_schema, tenant_head

    head, target = tenant_head(), current_app.config["TENANT_POOL_SIZE"]
    for stale in db.session.scalars(select(SpareSchema.name).where(SpareSchema.head != head)).all():
        db.session.execute(text(f'DROP SCHEMA IF EXISTS "{stale}" CASCADE'))
        db.session.execute(delete(SpareSchema).where(SpareSchema.name == stale))
    db.session.commit()
    built = 0
    while db.session.scalar(select(func.count()).select_from(SpareSchema)) < target:
        name = f"spare_{secrets.token_hex(6)}"
        build_schema(name)
        db.session.add(SpareSchema(name=name, head=head))
        db.session.commit()  # each spare in its own transaction: a half-built pool is still usable
        built += 1
    return built
