"""Channels: how a rendered message leaves. Email over SMTP, SMS through the tenant's provider, chat-bot
webhooks, and in-app (the row itself is the message). In development, whatever has no real destination
configured lands in the dev outbox page instead."""
import smtplib
import uuid
from email.message import EmailMessage
from email.utils import formataddr, parseaddr

from flask import current_app
from flask_babel import gettext as _

from crm import validation
from crm.errors import Invalid
from crm.extensions import db
from crm.notify import bots, channel_settings, messages, sms, smtp
from crm.notify.messages import Message
from crm.notify.models import BOT_CHANNELS, DevMessage, Notification
from crm.notify.transport import ChannelError
from crm.settings import get_setting, phone_region
from tenants.binding import current_tenant


def deliver(notification: Notification, message: Message) -> smtp.Held | None:
    """Send `message` by the notification's channel; raises on any failure (the caller retries). Email over
    SMTP is only held: it is returned without its final "." for the caller to mark and release
    (smtp.deliver_once)."""
    if notification.channel == "email" and current_app.config["SMTP_URL"]:
        return smtp.hold(current_app.config["SMTP_URL"], email_message(notification, message))
    if notification.channel == "sms":
        send_sms(notification, message)
    elif notification.channel in ("wecom", "dingtalk", "feishu", "webhook"):
        send_bot(notification, message)
    elif notification.channel == "email":
        dev_outbox(notification, message)
    return None


def dev_outbox(notification: Notification, message: Message) -> None:
    """Keep the message in the development outbox page (never in production)."""
    if not current_app.config["DEV_OUTBOX"]:
        raise ChannelError(f"{notification.channel} is not configured for this workspace")
    db.session.add(DevMessage(tenant_id=current_tenant().id, channel=notification.channel,
                              recipient=notification.recipient, subject=message.subject, body=message.text))


def email_message(notification: Notification, message: Message) -> EmailMessage:
    """The email of a notification: the tenant's sender name and reply-to, text and HTML parts."""
    sender = get_setting("email", {}) or {}
    _name, address = parseaddr(current_app.config["MAIL_FROM"])
    mail = EmailMessage()
    mail["From"] = formataddr((sender.get("sender_name") or current_tenant().name, address))
    mail["To"] = notification.recipient
    mail["Subject"] = message.subject
    if sender.get("reply_to"):
        mail["Reply-To"] = sender["reply_to"]
    if notification.payload.get("unsubscribe"):
        mail["List-Unsubscribe"] = f"<{notification.payload['unsubscribe']}>"
    # The same id on every attempt: should a message ever go twice (see smtp.py), mail stores drop the copy.
    mail["Message-ID"] = f"<{notification.idempotency_key.replace(':', '.')}.t{current_tenant().id}@crm>"
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    return mail


def send_sms(notification: Notification, message: Message) -> None:
    config = channel_settings.sms_config()
    if config is None:
        return dev_outbox(notification, message)
    sms.provider(config).send(notification.recipient, message.text, notification)


def send_bot(notification: Notification, message: Message) -> None:
    config = channel_settings.bot_config(notification.channel)
    if config is None:
        return dev_outbox(notification, message)
    bots.post(notification.channel, config, message, notification)


# --- the test button of the messaging settings ---------------------------------------------------------------

def send_test(channel: str, member, phone: str = "") -> str:
    """Send a test message right away through the channel's real adapter with the saved settings; returns
    what happened. Raises Invalid (nothing to send with) or ChannelError (the service refused)."""
    workspace = current_tenant().name
    message = messages.render_text("{{ subject }}", "{{ text }}", {
        "subject": _("Test message from %(workspace)s", workspace=workspace),
        "text": _("This is a test message from the CRM of %(workspace)s. If you can read it, messages "
                  "reach you here.", workspace=workspace)})
    note = Notification(channel=channel, kind="test", recipient="", idempotency_key=f"test:{uuid.uuid4().hex}",
                        payload={"workspace": workspace}, language="en")
    if channel == "email":
        note.recipient = member.email
        if not current_app.config["SMTP_URL"]:
            dev_outbox(note, message)
            return _("No SMTP server is configured: the test email to %(email)s is in the development outbox.",
                     email=member.email)
        try:
            smtp.send(current_app.config["SMTP_URL"], email_message(note, message))
        except (smtplib.SMTPException, OSError) as error:
            raise ChannelError(f"the mail server refused: {error}") from error
        return _("Test email sent to %(email)s.", email=member.email)
    if channel == "sms":
        config = channel_settings.sms_config()
        if config is None:
            raise Invalid({"phone": _("Set up and save an SMS provider first.")})
        if not (phone or "").strip():
            raise Invalid({"phone": _("Enter the mobile number to send the test to.")})
        note.recipient = validation.phone(phone, phone_region())
        message_id = sms.provider(config).send(note.recipient, message.text, note)
        return _("Test SMS sent to %(phone)s (provider's message id: %(id)s).", phone=note.recipient,
                 id=message_id or "—")
    if channel in BOT_CHANNELS:
        config = channel_settings.bot_config(channel)
        if config is None:
            raise Invalid({"url": _("Save the bot's webhook URL first.")})
        bots.post(channel, config, message, note)
        return _("Test message posted.")
    raise Invalid({"channel": _("Choose a channel to test.")})
