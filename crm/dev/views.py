"""The development outbox: the email, SMS and bot messages the app would have sent, readable in a page
(registered only outside production). It needs sign-in and shows an account only what concerns it, because a
development instance may well be reachable by others: reset and invitation links must not be."""
from flask import Blueprint, render_template
from flask_login import current_user, login_required

from crm.dev import service

bp = Blueprint("dev", __name__, url_prefix="/dev")


@bp.get("/outbox")
@login_required
def outbox():
    """The signed-in account's workspaces' newest messages, and the platform emails addressed to it."""
    return render_template("dev/outbox.html", messages=service.messages_for(current_user),
                           emails=service.emails_to(current_user))
