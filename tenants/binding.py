"""Where a tenant is bound: the session's schema map and the tenant's database role, set again at the start of
every transaction."""
from contextlib import contextmanager

from flask import current_app, g, has_app_context
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session
from sqlalchemy.pool import Pool

from tenants import roles

TENANT_PLACEHOLDER = "tenant"


@event.listens_for(Session, "after_begin")
def bind_tenant_schema(session, transaction, connection):
    """Map the placeholder schema `tenant` to the bound tenant's schema for this transaction, and act as the
    tenant's role (tenants/roles.py) so that PostgreSQL refuses any other tenant's schema.

    With no tenant bound the SQL names schema `tenant`, which never exists, so it fails loudly.
    """
    tenant = g.get("tenant") if has_app_context() else None
    if tenant is not None:
        connection.execution_options(schema_translate_map={TENANT_PLACEHOLDER: tenant.schema})
        roles.switch_to(connection, tenant.schema)
        info = connection.connection.info  # lives as long as the database connection, across checkouts
        info.setdefault("tenant_schemas", set()).add(tenant.schema)
        info["tenant_schemas_limit"] = current_app.config["TENANT_SCHEMAS_PER_CONNECTION"]


@event.listens_for(Pool, "checkout")
def retire_wide_connections(_dbapi_connection, record, _proxy):
    """A PostgreSQL backend keeps the catalog entries of every schema it has touched, and never frees them (issue
    19: 216-295 KiB a schema): a connection that has served TENANT_SCHEMAS_PER_CONNECTION tenants is closed and a
    fresh one taken instead, so a process serving thousands of tenants keeps its backends small."""
    schemas = record.info.get("tenant_schemas")
    if schemas and len(schemas) >= record.info["tenant_schemas_limit"]:
        raise DisconnectionError(f"served {len(schemas)} tenant schemas: replaced by a fresh connection")


def current_tenant():
    """The bound tenant (a TenantRef), for the few places business code must name it: a job's first argument,
    an encryption context, an absolute link. Views and templates read `g.tenant` at the edge."""
    return g.get("tenant")


@contextmanager
def tenant_bound(tenant):
    """Run a block (a job, a CLI command, a test) as `tenant`; commits on success, rolls back on error."""
    from crm.extensions import db

    if db.session().in_transaction():
        db.session.commit()  # the map is fixed per transaction: start a fresh one for this tenant
    previous = g.get("tenant")
    g.tenant = tenant
    _forget_time_zone()
    try:
        yield tenant
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        g.tenant = previous
        _forget_time_zone()


def _forget_time_zone() -> None:
    # flask-babel keeps the time zone it looked up for the rest of the app context (flask_babel.get_timezone
    # caches it on g._flask_babel); each workspace has its own, so it is looked up again for the next tenant.
    babel_cache = g.get("_flask_babel")
    if babel_cache is not None:
        vars(babel_cache).pop("babel_tzinfo", None)
