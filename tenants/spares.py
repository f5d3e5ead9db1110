"""Spare tenant schemas, built ahead of time so that signing a company up takes one instead of running DDL.

A spare is built for a tenant id reserved from `public.tenants`' sequence, by the same code as a new tenant:
schema `t_<id>` owned by its own role (tenants/roles.py), tables at the migration head, stamped, seeded with
the default roles and settings; it is listed in public.spare_schemas with that head. Provisioning takes one
at the current head (`FOR UPDATE SKIP LOCKED`, so concurrent sign-ups never share one) and inserts the tenant
with the reserved id: nothing is renamed, so neither the schema nor its role needs rights the app's login role
lacks. An RQ job (crm/jobs.py) refills the pool. Spares left at an older head are dropped with their roles;
their ids are never used (tenant ids already have gaps)."""
from flask import current_app
from sqlalchemy import delete, func, select, text

from crm.extensions import db
from tenants import roles
from tenants.models import SpareSchema, schema_name


def claim_spare() -> int | None:
    """Take a ready spare in the current transaction: the tenant id it was built for, or None."""
    from tenants.provisioning import tenant_head

    if current_app.config["TENANT_POOL_SIZE"] <= 0:
        return None
    ready = (select(SpareSchema.tenant_id).where(SpareSchema.head == tenant_head())
             .order_by(SpareSchema.created_at).limit(1).with_for_update(skip_locked=True).scalar_subquery())
    return db.session.scalar(delete(SpareSchema).where(SpareSchema.tenant_id == ready)
                             .returning(SpareSchema.tenant_id))


def refill() -> int:
    """Drop spares at an old head and build new ones up to TENANT_POOL_SIZE; returns how many were built.

    Needs an app context: the `tenants upgrade` command, the run command and the refill job give it one."""
    from tenants.provisioning import build_schema, tenant_head

    head, target = tenant_head(), current_app.config["TENANT_POOL_SIZE"]
    for stale in db.session.scalars(select(SpareSchema.tenant_id).where(SpareSchema.head != head)).all():
        roles.drop_schema(db.session.connection(), schema_name(stale))
        db.session.execute(delete(SpareSchema).where(SpareSchema.tenant_id == stale))
    db.session.commit()
    built = 0
    while db.session.scalar(select(func.count()).select_from(SpareSchema)) < target:
        tenant_id = db.session.scalar(text("select nextval(pg_get_serial_sequence('public.tenants', 'id'))"))
        build_schema(schema_name(tenant_id))
        db.session.add(SpareSchema(tenant_id=tenant_id, head=head))
        db.session.commit()  # each spare in its own transaction: a half-built pool is still usable
        built += 1
    return built
