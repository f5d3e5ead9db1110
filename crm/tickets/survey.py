"""The satisfaction link a closed ticket's customer gets: `/s/<tenant id>.<ticket id>.<signature>`
(crm/public_links.py, purpose "ticket-satisfaction"), so nobody can make one for another ticket or tenant.

The page asks for a rating from 1 to 5 and an optional comment. The link works for DAYS days after the ticket
was closed (closing is final, so there is one link per ticket); the first rating stands, and opening the link
again shows it ("already rated")."""
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import lazyload

from crm import public_links, validation
from crm.audit.service import record
from crm.errors import Invalid
from crm.extensions import db, utcnow
from crm.tickets.models import Ticket
from tenants.resolver import TenantRef, tenant_by_id

PURPOSE = "ticket-satisfaction"
PREFIX = "/s"  # the public blueprint's prefix (crm/tickets/views.py)
DAYS = 30
LANGUAGES = ("en", "zh")
RATINGS = ("1", "2", "3", "4", "5")
COMMENT_LIMIT = 1000


def survey_url(tenant_id: int, ticket_id: int, language: str = "en") -> str:
    """The absolute link for the message (built without a request: the close may come from anywhere)."""
    token = public_links.make_token(PURPOSE, tenant_id, ticket_id)
    suffix = "?lang=zh" if language == "zh" else ""
    return f'{current_app.config["BASE_URL"].rstrip("/")}{PREFIX}/{token}{suffix}'


def read_link(token: str) -> tuple[TenantRef, int] | None:
    """(active tenant, ticket id) of a token signed for this purpose, else None."""
    ids = public_links.read_token(PURPOSE, token, 2)
    tenant = tenant_by_id(ids[0]) if ids else None
    return (tenant, ids[1]) if tenant is not None and tenant.active else None


def closed_ticket(ticket_id: int, lock: bool = False) -> Ticket | None:
    """The closed ticket a link names (with the tenant bound), else None."""
    stmt = select(Ticket).where(Ticket.id == ticket_id, Ticket.status == "closed").options(lazyload("*"))
    return db.session.scalar(stmt.with_for_update(of=Ticket) if lock else stmt)


def expired(ticket: Ticket) -> bool:
    return ticket.closed_at is None or ticket.closed_at + timedelta(days=DAYS) < utcnow()


def shown(tenant: TenantRef, ticket: Ticket) -> dict:
    """What the customer's page shows: whose ticket it is and the rating given, if any; no names, no notes."""
    return {"tenant_name": tenant.name, "number": ticket.number, "subject": ticket.subject,
            "rating": ticket.satisfaction, "comment": ticket.satisfaction_comment, "expired": expired(ticket)}


def clean(rating, comment) -> tuple[int, str | None]:
    """The rating (1-5, required) and the comment; every problem reported together."""
    errors = {}
    rating = str(rating or "").strip()
    if rating not in RATINGS:
        errors["rating"] = _("Choose a rating from 1 to 5.")
    comment = validation.collect(errors, validation.text, comment, "comment", COMMENT_LIMIT)
    if errors:
        raise Invalid(errors)
    return int(rating), comment


def rate(ticket: Ticket, rating, comment) -> bool:
    """Keep the customer's rating and comment (audited); False when the ticket was already rated or the link
    has expired (nothing changes)."""
    if ticket.satisfaction is not None or expired(ticket):
        return False
    rating, comment = clean(rating, comment)
    ticket.satisfaction, ticket.satisfaction_comment, ticket.updated_at = rating, comment, utcnow()
    record("update", "ticket", ticket.id, summary=f"{ticket.number} {ticket.subject}",
           changes={"satisfaction": [None, rating]} | ({"satisfaction_comment": [None, comment]} if comment else {}))
    db.session.flush()
    return True
