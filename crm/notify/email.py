"""Platform email (password resets, invitations): an outbox row, then an RQ job that sends it by SMTP."""
import smtplib
from datetime import timedelta
from email.message import EmailMessage

from flask import current_app
from rq import Retry

from crm.accounts.models import OutboundEmail
from crm.extensions import db, utcnow
from crm.jobs import enqueue_after_commit, platform_job, queue
from crm.notify import smtp

MAX_ATTEMPTS = 5
RETRY_SECONDS = [10, 30, 120, 600]


def queue_email(to_address: str, subject: str, body_text: str) -> OutboundEmail:
    """Write the message in this transaction; it is handed to a worker after commit."""
    message = OutboundEmail(to_address=to_address, subject=subject, body_text=body_text)
    db.session.add(message)
    db.session.flush()
    enqueue_after_commit(deliver_email, message.id, queue_name="notify",
                         retry=Retry(max=MAX_ATTEMPTS - 1, interval=RETRY_SECONDS))
    return message


@platform_job
def deliver_email(email_id: int) -> str:
    """Send one email once in effect (smtp.py: marked sent, then COMMIT and the final "." back to back);
    without SMTP configured it stays in the dev outbox."""
    message = db.session.scalar(
        db.select(OutboundEmail).where(OutboundEmail.id == email_id).with_for_update(skip_locked=True))
    if message is None or message.status in ("sent", "outbox"):
        return "skipped"
    smtp_url = current_app.config["SMTP_URL"]
    if not smtp_url:
        message.status = "outbox"
        return message.status
    message.attempts += 1
    try:
        smtp.deliver_once(smtp.hold(smtp_url, _mail(current_app.config["MAIL_FROM"], message)),
                          lambda: _mark_sent(message))
    except (OSError, smtplib.SMTPException) as error:
        message.last_error = str(error)[:500]
        message.status = "failed" if message.attempts >= MAX_ATTEMPTS else "queued"
        db.session.commit()
        if message.status == "queued":
            raise
        return message.status
    return message.status


def _mark_sent(message: OutboundEmail) -> bool:
    message.status, message.sent_at, message.last_error = "sent", utcnow(), None
    return True  # the row is locked by this job: no other attempt can own it


def _mail(sender: str, message: OutboundEmail) -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, message.to_address, message.subject
    mail["Message-ID"] = f"<outbound-{message.id}@crm>"
    mail.set_content(message.body_text)
    return mail


@platform_job
def sweep_platform_emails(older_than_minutes: int = 20) -> int:
    """Hand over again platform emails still queued long after their retries should have ended (Redis lost
    the job); `deliver_email` skips any that was sent meanwhile."""
    cutoff = utcnow() - timedelta(minutes=older_than_minutes)
    ids = list(db.session.scalars(db.select(OutboundEmail.id).where(OutboundEmail.status == "queued",
                                                                    OutboundEmail.created_at < cutoff)))
    for email_id in ids:
        queue("notify").enqueue(deliver_email, email_id)
    return len(ids)
