"""The development outbox: every email the app would send, readable in a page (not in production)."""
from flask import Blueprint, render_template
from sqlalchemy import select

from crm.accounts.models import OutboundEmail
from crm.extensions import db

bp = Blueprint("dev", __name__, url_prefix="/dev")


@bp.get("/outbox")
def outbox():
    """The newest 100 platform emails and their delivery status."""
    emails = db.session.scalars(select(OutboundEmail).order_by(OutboundEmail.id.desc()).limit(100))
    return render_template("dev/outbox.html", emails=emails)
