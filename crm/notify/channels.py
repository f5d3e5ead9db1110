"""Channels: how a rendered message leaves. Email over SMTP, SMS through the tenant's provider, chat-bot
webhooks, and in-app (the row itself is the message). In development, whatever has no real destination
configured lands in the dev outbox page instead."""
import io
import re
import smtplib
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import formataddr, parseaddr
from urllib.parse import unquote, urlparse

from flask import current_app, g

from crm.extensions import db
from crm.notify.messages import Message
from crm.notify.models import DevMessage, Notification
from crm.settings import get_setting


class ChannelError(RuntimeError):
    """The channel could not take the message (not configured, refused, unreachable)."""


def deliver(notification: Notification, message: Message, mark_sent) -> None:
    """Send `message` by the notification's channel and call `mark_sent()` at the channel's point of no
    return (as late as the channel allows); raises on any failure before it (the caller retries)."""
    if notification.channel == "email" and current_app.config["SMTP_URL"]:
        return send_email(notification, message, mark_sent)
    if notification.channel == "sms":
        send_sms(notification, message)
    elif notification.channel in ("wecom", "dingtalk", "feishu", "webhook"):
        send_bot(notification, message)
    elif notification.channel == "email":
        dev_outbox(notification, message)
    mark_sent()


def dev_outbox(notification: Notification, message: Message) -> None:
    """Keep the message in the development outbox page (never in production)."""
    if not current_app.config["DEV_OUTBOX"]:
        raise ChannelError(f"{notification.channel} is not configured for this workspace")
    db.session.add(DevMessage(tenant_id=g.tenant.id, channel=notification.channel,
                              recipient=notification.recipient, subject=message.subject, body=message.text))


def send_email(notification: Notification, message: Message, mark_sent) -> None:
    sender = get_setting("email", {}) or {}
    _name, address = parseaddr(current_app.config["MAIL_FROM"])
    mail = EmailMessage()
    mail["From"] = formataddr((sender.get("sender_name") or g.tenant.name, address))
    mail["To"] = notification.recipient
    mail["Subject"] = message.subject
    if sender.get("reply_to"):
        mail["Reply-To"] = sender["reply_to"]
    if notification.payload.get("unsubscribe"):
        mail["List-Unsubscribe"] = f"<{notification.payload['unsubscribe']}>"
    # The same id on every attempt: a mail store that got a retried message knows it already has it.
    mail["Message-ID"] = f"<{notification.idempotency_key.replace(':', '.')}.t{g.tenant.id}@crm>"
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    smtp_send(current_app.config["SMTP_URL"], mail, mark_sent)


def smtp_send(smtp_url: str, mail: EmailMessage, mark_sent) -> None:
    """Send over smtp:// (STARTTLS when a login is given) or smtps:// (TLS).

    The message goes in full but its final "." waits for `mark_sent()`: a worker that dies before that point
    leaves the server an unfinished message, which it discards, so the retry does not deliver it twice."""
    url = urlparse(smtp_url)
    secure = url.scheme == "smtps"
    connect = smtplib.SMTP_SSL if secure else smtplib.SMTP
    with connect(url.hostname, url.port or (465 if secure else 25), timeout=15) as smtp:
        smtp.ehlo()
        if not secure and url.username:
            smtp.starttls()
            smtp.ehlo()
        if url.username:
            smtp.login(unquote(url.username), unquote(url.password or ""))
        _send_held(smtp, mail, mark_sent)


def _send_held(smtp: smtplib.SMTP, mail: EmailMessage, mark_sent) -> None:
    """SMTP's DATA by hand, so that the closing dot goes only after `mark_sent()`."""
    _refused_unless(smtp.mail(parseaddr(mail["From"])[1]), 250)
    _refused_unless(smtp.rcpt(parseaddr(mail["To"])[1]), 250, 251)
    smtp.putcmd("data")
    _refused_unless(smtp.getreply(), 354)
    buffer = io.BytesIO()
    BytesGenerator(buffer, policy=mail.policy).flatten(mail, linesep="\r\n")
    body = re.sub(rb"(?m)^\.", b"..", buffer.getvalue())  # a line starting with "." gets another one
    smtp.send(body if body.endswith(b"\r\n") else body + b"\r\n")
    mark_sent()
    smtp.send(b".\r\n")
    code, answer = smtp.getreply()
    if code != 250:
        raise ChannelError(f"SMTP server refused the message after it was marked sent: {code} {answer!r}")


def _refused_unless(reply: tuple[int, bytes], *codes: int) -> None:
    if reply[0] not in codes:
        raise ChannelError(f"SMTP {reply[0]} {reply[1].decode(errors='replace')}")


def send_sms(notification: Notification, message: Message) -> None:
    from crm.notify import sms

    config = sms.tenant_config()
    if config is None:
        return dev_outbox(notification, message)
    sms.provider(config).send(notification.recipient, message.text, notification)


def send_bot(notification: Notification, message: Message) -> None:
    from crm.notify import bots

    config = bots.tenant_config(notification.channel)
    if config is None:
        return dev_outbox(notification, message)
    bots.post(notification.channel, config, message, notification)
