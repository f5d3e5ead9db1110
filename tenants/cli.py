"""`flask --app wsgi tenants create|list|upgrade|suspend|restore` for operators."""
import click
from flask.cli import AppGroup

from crm.extensions import db

tenants_cli = AppGroup("tenants", help="Create, list, migrate, suspend and restore tenants.")


@tenants_cli.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="Company name.")
@click.option("--admin-email", required=True)
@click.option("--admin-name", default="Admin")
@click.password_option("--admin-password", prompt=False, required=True)
def create(slug, name, admin_email, admin_name, admin_password):
    """Provision a tenant with its first admin."""
    from crm.accounts import service as accounts
    from crm.errors import Invalid

    try:
        _account, tenant = accounts.sign_up(name, slug, admin_name, admin_email, admin_password, "en")
    except Invalid as error:
        db.session.rollback()
        raise click.ClickException("; ".join(f"{k}: {v}" for k, v in error.errors.items()))
    db.session.commit()
    click.echo(f"created tenant {tenant.id} /{tenant.slug}/ in schema {tenant.schema}")


@tenants_cli.command("list")
def list_():
    """Every tenant with its status, schema and member count."""
    from tenants.service import list_tenants

    click.echo(f"{'id':>5}  {'slug':<24} {'status':<10} {'schema':<10} {'members':>7}  name")
    for tenant, members in list_tenants():
        click.echo(f"{tenant.id:>5}  {tenant.slug:<24} {tenant.status:<10} {tenant.schema:<10} {members:>7}  "
                   f"{tenant.name}")


@tenants_cli.command("upgrade")
@click.option("--processes", default=4, show_default=True, help="Tenants migrated at once.")
def upgrade(processes):
    """Migrate public, then every tenant schema (each in its own transaction), reporting per tenant."""
    from tenants.migrations import upgrade_all, upgrade_public
    from tenants.pool import refill

    upgrade_public(db.engine)
    reports = upgrade_all(db.engine, processes)
    for report in reports:
        outcome = "FAILED " + report.error if report.error else "ok"
        click.echo(f"{report.schema:<10} {report.before or '-':>8} -> {report.after or '-':<8} "
                   f"{report.seconds * 1000:7.1f} ms  {outcome}")
    click.echo(f"{refill()} spare schemas built at head")
    failed = [r for r in reports if r.error]
    click.echo(f"{len(reports) - len(failed)} tenants at head, {len(failed)} failed")
    if failed:
        raise SystemExit(1)


def _set_status(slug: str, status: str) -> None:
    from tenants.models import Tenant
    from tenants.service import set_status

    tenant = db.session.scalar(db.select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise click.ClickException(f"no tenant {slug}")
    set_status(tenant, status)
    db.session.commit()
    click.echo(f"{slug}: {status}")


@tenants_cli.command("suspend")
@click.argument("slug")
def suspend(slug):
    """Stop a tenant's members from using it (data kept)."""
    _set_status(slug, "suspended")


@tenants_cli.command("restore")
@click.argument("slug")
def restore(slug):
    _set_status(slug, "active")


@tenants_cli.command("rotate-keys")
def rotate_keys():
    """Re-encrypt every tenant's sensitive values under the newest FIELD_KEYS key (keep the old key listed)."""
    from crm.customers.service import rotate_sensitive
    from tenants.binding import tenant_bound
    from tenants.service import list_tenants, ref_of

    from crm.crypto import UnknownKey

    total, failed = 0, []
    for tenant, _members in list_tenants():
        try:
            with tenant_bound(ref_of(tenant)):
                done = rotate_sensitive()
        except UnknownKey as error:  # this tenant is left as it was; the others go on
            failed.append(tenant.schema)
            click.echo(f"{tenant.schema:<10} FAILED {error}")
            continue
        total += done
        click.echo(f"{tenant.schema:<10} {done:>7} values re-encrypted")
    if failed:
        raise click.ClickException(f"{len(failed)} tenants hold values under a key missing from FIELD_KEYS")
    click.echo(f"{total} values re-encrypted; the old key can be removed from FIELD_KEYS now")
