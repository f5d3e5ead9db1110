"""The development outbox: every email, SMS and bot message the app would send, readable in a page
(registered only outside production)."""
from flask import Blueprint, render_template
from sqlalchemy import select

from crm.accounts.models import OutboundEmail
from crm.extensions import db
from crm.notify.models import DevMessage

bp = Blueprint("dev", __name__, url_prefix="/dev")


@bp.get("/outbox")
def outbox():
    """The newest 100 workspace messages (reminders, order news, campaigns) and platform emails."""
    messages = db.session.scalars(select(DevMessage).order_by(DevMessage.id.desc()).limit(100))
    emails = db.session.scalars(select(OutboundEmail).order_by(OutboundEmail.id.desc()).limit(100))
    return render_template("dev/outbox.html", messages=messages, emails=emails)
