"""`flask --app wsgi tenants list|upgrade|suspend|restore` for operators; crm/cli.py adds the commands that
need the CRM's features (create, rotate-keys) to this group."""
import time

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
@click.option("--processes", default=1, show_default=True,
              help="Worker processes, each with one connection; 1: this one. More pay only with a database "
                   "server of its own with cores to spare (docs/operations.md).")
@click.option("--canary", default=0, show_default=True,
              help="Migrate the first N tenants (by id) first, and stop there if any of them fails.")
@click.option("--chunk", type=int, default=None, help="Schemas handed to a worker at a time (default: about "
              "an eighth of each worker's share).")
@click.option("--quiet", is_flag=True, help="Report only the tenants that failed or changed, not every one.")
def upgrade(processes, canary, chunk, quiet):
    """Migrate public, then every tenant schema (each in its own transaction), reporting per tenant."""
    from crm.extensions import redis_connection
    from tenants.migrations import remember_run, tenant_schemas, upgrade_all, upgrade_public
    from tenants.spares import refill

    upgrade_public(db.engine)
    schemas = tenant_schemas(db.engine)
    progress = Progress(len(schemas))

    def report(reports):
        for r in reports:
            if quiet and not r.error and r.before == r.after and not r.given:
                continue
            outcome = "FAILED " + r.error if r.error else "ok"
            if r.given:
                outcome += f" ({r.given} objects given to the tenant's role)"
            click.echo(f"{r.schema:<10} {r.before or '-':>8} -> {r.after or '-':<8} {r.seconds * 1000:7.1f} ms  "
                       f"{outcome}")
        progress.add(reports)

    run = upgrade_all(db.engine, processes, canary=canary, chunk=chunk, on_reports=report, schemas=schemas)
    progress.finish()
    remember_run(redis_connection(), run)
    if run.canary_failed:
        click.echo(f"a canary failed: stopped before the other {run.not_started} tenants")
    else:
        click.echo(f"{refill()} spare schemas built at head")
    click.echo(f"{len(run.reports) - len(run.failed)} tenants at head, {len(run.failed)} failed, "
               f"{run.not_started} not started")
    if run.failed:
        raise SystemExit(1)


class Progress:
    """One line on stderr, at most once a second: tenants done, failed, rate and time left."""

    def __init__(self, total: int):
        self.total, self.done, self.failed = total, 0, 0
        self.started = self.shown = time.monotonic()

    def add(self, reports) -> None:
        self.done += len(reports)
        self.failed += sum(1 for r in reports if r.error)
        if time.monotonic() - self.shown >= 1:
            self.show()

    def show(self) -> None:
        self.shown = time.monotonic()
        rate = self.done / max(self.shown - self.started, 1e-9)
        left = (self.total - self.done) / rate if rate else 0
        click.echo(f"{self.done}/{self.total} tenants, {self.failed} failed, {rate:.0f}/s, "
                   f"{left:.0f} s left", err=True)

    def finish(self) -> None:
        if self.done:
            self.show()


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
