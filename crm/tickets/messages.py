"""What a ticket tells its customer: a reply marked "to the customer", and on closing a signed link to rate
the service. Both go through the outbox in the transaction of the reply or the move, by the customer's
preferred channel (the one order news use), in the workspace's customer language. They are service messages,
not marketing: a customer who unsubscribed from campaigns still gets them (crm/notify/rules.py)."""
from sqlalchemy import select

from crm.contacts import service as contacts
from crm.customers.models import Customer
from crm.extensions import db
from crm.notify import outbox
from crm.notify.models import Notification
from crm.orders.messages import customer_language, destination
from crm.tickets import survey
from crm.tickets.models import Ticket, TicketComment
from tenants.binding import current_tenant


def reply_key(comment_id: int) -> str:
    return f"ticket-reply:{comment_id}"


def survey_key(ticket_id: int) -> str:
    return f"ticket-survey:{ticket_id}"


def recipient(ticket: Ticket) -> tuple[str, str] | None:
    """Where a message about the ticket goes (its contact's, else its customer's address); None without one."""
    return destination(db.session.get(Customer, ticket.customer_id), contacts.contact_of(ticket))


def _schedule(ticket: Ticket, kind: str, key: str, payload: dict) -> Notification | None:
    to = recipient(ticket)
    if to is None:
        return None
    return outbox.schedule(channel=to[0], kind=kind, recipient=to[1], customer_id=ticket.customer_id, key=key,
                           source=f"ticket:{ticket.id}", language=customer_language(),
                           payload={"customer": to.name, "company": current_tenant().name,
                                    "number": ticket.number, "subject": ticket.subject, **payload})


def send_reply(ticket: Ticket, comment: TicketComment) -> Notification | None:
    """Queue the reply to the customer (nothing when they have no address: the page says it was not sent)."""
    return _schedule(ticket, "ticket_reply", reply_key(comment.id),
                     {"body": comment.body, "agent": comment.author_name})


def ask_for_rating(ticket: Ticket) -> Notification | None:
    """Queue the closed ticket's satisfaction link."""
    language = customer_language()
    return _schedule(ticket, "ticket_survey", survey_key(ticket.id),
                     {"link": survey.survey_url(current_tenant().id, ticket.id, language), "days": survey.DAYS})


def deliveries(ticket: Ticket, comments: list[TicketComment]) -> dict[str, Notification]:
    """The outbox rows of the ticket's replies and satisfaction link, by idempotency key (for their status)."""
    keys = [reply_key(c.id) for c in comments if not c.internal] + [survey_key(ticket.id)]
    rows = db.session.scalars(select(Notification).where(Notification.idempotency_key.in_(keys)))
    return {row.idempotency_key: row for row in rows}


def message_of(ticket: Ticket, notification_id) -> Notification | None:
    """One of the ticket's own messages by id, else None."""
    row = db.session.get(Notification, notification_id) if notification_id else None
    return row if row is not None and row.source == f"ticket:{ticket.id}" else None
