"""`flask --app wsgi tenants list|upgrade|suspend|restore` for operators; crm/cli.py adds the commands that
need the CRM's features (create, rotate-keys) to this group."""
import click
from flask.cli import AppGroup

from crm.extensions import db

tenants_cli = AppGroup("tenants", help="Create, list, migrate, suspend and restore tenants.")


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
    from tenants.spares import refill

    upgrade_public(db.engine)
    reports = upgrade_all(db.engine, processes)
    for report in reports:
        outcome = "FAILED " + report.error if report.error else "ok"
        if report.given:
            outcome += f" ({report.given} objects given to the tenant's role)"
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
