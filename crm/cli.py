"""The operator commands that need the CRM's features, added to the `tenants` group of tenants/cli.py:
`flask --app wsgi tenants create` (a workspace with its first admin) and `tenants rotate-keys`."""
import click
from cryptography.exceptions import InvalidTag

from crm.accounts import service as accounts
from crm.crypto import UnknownKey
from crm.customers.sensitive import rotate_sensitive
from crm.errors import Invalid
from crm.extensions import db
from crm.notify.channel_settings import rotate_secrets as rotate_setting_secrets
from crm.two_factor.service import rotate_secrets
from crm.webhooks.service import rotate_secrets as rotate_webhook_secrets
from tenants.binding import tenant_bound
from tenants.cli import tenants_cli
from tenants.service import list_tenants, ref_of


@tenants_cli.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="Company name.")
@click.option("--admin-email", required=True)
@click.option("--admin-name", default="Admin")
@click.password_option("--admin-password", prompt=False, required=True)
@click.option("--language", default="en", show_default=True, help="Workspace language: en or zh.")
@click.option("--country", "phone_region", default="CN", show_default=True,
              help="ISO country code; phone numbers without a country code are read in it.")
@click.option("--currency", default="CNY", show_default=True, help="ISO 4217 currency code.")
@click.option("--timezone", default="Asia/Shanghai", show_default=True, help="IANA time zone name.")
def create(slug, name, admin_email, admin_name, admin_password, **places):
    """Provision a tenant with its first admin, in the given language, country, currency and time zone."""
    try:
        _account, tenant = accounts.sign_up(name, slug, admin_name, admin_email, admin_password,
                                            places["language"], places)
    except Invalid as error:
        db.session.rollback()
        raise click.ClickException("; ".join(f"{k}: {v}" for k, v in error.errors.items()))
    db.session.commit()
    click.echo(f"created tenant {tenant.id} /{tenant.slug}/ in schema {tenant.schema}")


# What each workspace keeps encrypted under FIELD_KEYS: customers' sensitive values (built-in and custom), the
# webhook subscriptions' signing secrets, and the secrets in its settings (SMS and bot channels, Stripe payments).
TENANT_ROTATIONS = (rotate_sensitive, rotate_webhook_secrets, rotate_setting_secrets)


@tenants_cli.command("rotate-keys")
def rotate_keys():
    """Re-encrypt every tenant's sensitive values and secrets (webhook signing secrets, messaging and payment
    credentials) and every account's TOTP secret under the newest FIELD_KEYS key (keep the old key listed)."""
    total, failed = _rotate_totp_secrets(), []
    for tenant, _members in list_tenants():
        try:
            with tenant_bound(ref_of(tenant)):
                done = sum(rotate() for rotate in TENANT_ROTATIONS)
        except UnknownKey as error:  # this tenant is left as it was; the others go on
            failed.append(tenant.schema)
            click.echo(f"{tenant.schema:<10} FAILED {error}")
            continue
        except InvalidTag:  # a value altered, or copied from another workspace: left as it was, the others go on
            failed.append(tenant.schema)
            click.echo(f"{tenant.schema:<10} FAILED a value does not decrypt (altered, or from another workspace)")
            continue
        total += done
        click.echo(f"{tenant.schema:<10} {done:>7} values re-encrypted")
    if failed:
        raise click.ClickException(f"{len(failed)} tenants hold values that cannot be re-encrypted: "
                                   + ", ".join(failed))
    click.echo(f"{total} values re-encrypted; the old key can be removed from FIELD_KEYS now")


def _rotate_totp_secrets() -> int:
    try:
        done = rotate_secrets()
    except UnknownKey as error:
        db.session.rollback()
        raise click.ClickException(f"a TOTP secret is under a key missing from FIELD_KEYS: {error}")
    db.session.commit()
    click.echo(f"{'public':<10} {done:>7} TOTP secrets re-encrypted")
    return done


@tenants_cli.command("backup")
@click.argument("slug")
@click.option("--to", "path", type=click.Path(dir_okay=False, writable=True),
              help="Write the archive to this file instead of the workspace's backup storage.")
def backup(slug, path):
    """Back up one workspace (its schema's rows, its files, its migration head) as one signed archive."""
    from crm.backups import service as backups
    from tenants.models import Tenant

    tenant = db.session.scalar(db.select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise click.ClickException(f"no tenant {slug}")
    if path:
        with open(path, "wb") as out:
            manifest = backups.write_to(tenant, out)
        where = path
    else:
        key, manifest = backups.take_backup(tenant)
        where = f"backup storage, key {key}"
    rows = sum(t["rows"] for t in manifest["tables"])
    click.echo(f"{slug}: {len(manifest['tables'])} tables, {rows} rows, {len(manifest['files'])} files at "
               f"{manifest['head']} -> {where}")


@tenants_cli.command("restore-backup")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
@click.option("--as", "new_slug", help="Restore as a new workspace at this address, with the same members.")
@click.option("--replace", is_flag=True, help="Replace the workspace the backup was taken of with it.")
@click.option("--name", help="The new workspace's name (with --as; default: the backup's).")
def restore_backup(archive, new_slug, replace, name):
    """Restore a workspace backup: as a new workspace, or over the workspace it was taken of."""
    from pathlib import Path

    from crm.backups import service as backups
    from tenants.backup import BackupRefused

    if bool(new_slug) == replace:
        raise click.ClickException("give either --as NEW-SLUG or --replace")
    try:
        if replace:
            restored = backups.replace(Path(archive))
            done = f"replaced workspace {restored.manifest['tenant']['slug']}"
        else:
            tenant = backups.restore_as_new(Path(archive), new_slug, name)
            db.session.commit()
            restored, done = None, f"restored as workspace {tenant.slug} (tenant {tenant.id}, {tenant.schema})"
    except BackupRefused as error:
        db.session.rollback()
        raise click.ClickException(f"{backups.refusal(error)} ({error})")
    except Invalid as error:
        db.session.rollback()
        raise click.ClickException("; ".join(f"{k}: {v}" for k, v in error.errors.items()))
    click.echo(done)
