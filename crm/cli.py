"""The operator commands that need the CRM's features, added to the `tenants` group of tenants/cli.py:
`flask --app wsgi tenants create` (a workspace with its first admin) and `tenants rotate-keys`."""
import click

from crm.accounts import service as accounts
from crm.crypto import UnknownKey
from crm.customers.sensitive import rotate_sensitive
from crm.errors import Invalid
from crm.extensions import db
from crm.two_factor.service import rotate_secrets
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


@tenants_cli.command("rotate-keys")
def rotate_keys():
    """Re-encrypt every tenant's sensitive values and every account's TOTP secret under the newest FIELD_KEYS key
    (keep the old key listed)."""
    total, failed = _rotate_totp_secrets(), []
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


def _rotate_totp_secrets() -> int:
    try:
        done = rotate_secrets()
    except UnknownKey as error:
        db.session.rollback()
        raise click.ClickException(f"a TOTP secret is under a key missing from FIELD_KEYS: {error}")
    db.session.commit()
    click.echo(f"{'public':<10} {done:>7} TOTP secrets re-encrypted")
    return done
