"""`flask --app wsgi platform grant-operator EMAIL`: give an account the operator console."""
import click
from flask.cli import AppGroup

from crm.errors import NotFound
from crm.extensions import db
from crm.platform import service

platform_cli = AppGroup("platform", help="The platform operator's commands.")


@platform_cli.command("grant-operator")
@click.argument("email")
def grant_operator(email):
    """Let the account with this email open /platform (it also needs two-step sign-in)."""
    try:
        account = service.grant_operator(email)
    except NotFound:
        raise click.ClickException(f"no account {email}") from None
    db.session.commit()
    second = "on" if account.second_factor else "off: set it up at /account/two-factor before opening /platform"
    click.echo(f"{account.email} is an operator; two-step sign-in is {second}")
