"""What members see of the outbox: their in-app messages, and (admins) what failed or waits."""
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from crm import validation
from crm.errors import Invalid
from crm.extensions import db, utcnow
from crm.members.models import Member
from crm.notify import channel_settings, messages, outbox
from crm.notify.models import BOT_CHANNELS, Notification
from crm.settings import put_setting

PAGE_SIZE = 50


def unread_count(member: Member) -> int:
    return db.session.scalar(select(func.count(Notification.id)).where(
        Notification.channel == "inapp", Notification.member_id == member.id, Notification.status == "sent",
        Notification.read_at.is_(None))) or 0


def inbox(member: Member, limit: int = PAGE_SIZE) -> list[tuple[Notification, messages.Message]]:
    """The member's in-app messages that have arrived, newest first, rendered."""
    rows = db.session.scalars(select(Notification).where(
        Notification.channel == "inapp", Notification.member_id == member.id, Notification.status == "sent")
        .order_by(Notification.id.desc()).limit(limit))
    return [(row, messages.render(row)) for row in rows]


def mark_read(member: Member) -> None:
    db.session.execute(update(Notification).where(
        Notification.channel == "inapp", Notification.member_id == member.id, Notification.read_at.is_(None))
        .values(read_at=utcnow()))


def outbox_rows(status: str | None, limit: int = PAGE_SIZE) -> list[Notification]:
    """The tenant's messages by status (failed ones first by default), newest first."""
    stmt = select(Notification).order_by(Notification.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(Notification.status == status)
    return list(db.session.scalars(stmt))


def counts() -> dict[str, int]:
    return dict(db.session.execute(select(Notification.status, func.count()).group_by(Notification.status)).all())


def retry(notification_id: int) -> Notification | None:
    """Send a failed message again now, with a fresh set of attempts."""
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.status != "failed":
        return None
    notification.status, notification.attempts, notification.due_at = "scheduled", 0, utcnow()
    outbox.reindex(notification)
    return notification


SAMPLES = {
    "reminder": {"method": "Call", "customer": "Wang Fang", "due": "2026-12-01 10:00", "summary": "Send the quote",
                 "link": "https://crm.example/acme/activities/"},
    "order_status": {"customer": "Wang Fang", "company": "Acme", "number": "SO-000042", "status": "shipped",
                     "link": "https://crm.example/o/…", "pay_link": "https://crm.example/o/…/pay"},
    "ticket_reply": {"customer": "Wang Fang", "company": "Acme", "number": "TK-000042", "subject": "Printer jams",
                     "body": "A technician comes tomorrow at 10.", "agent": "Li Lei"},
    "ticket_survey": {"customer": "Wang Fang", "company": "Acme", "number": "TK-000042", "subject": "Printer jams",
                      "link": "https://crm.example/s/…", "days": 30},
    "campaign": {"subject": "Winter offer", "body": "20% off until Friday.", "customer": "Wang Fang",
                 "unsubscribe": "https://crm.example/u/…"},
    "quiet_customers": {"count": 3, "days": 30, "customers": "Wang Fang, Li Lei, Zhao Min",
                        "link": "https://crm.example/acme/customers/"},
    "digest": {"overdue": 1, "today": 2, "items": "09:00 Call Wang Fang", "link": "https://crm.example/acme/activities/"},
    "invitation": {"inviter": "Wang Fang", "workspace": "Acme", "days": 7, "link": "https://crm.example/invite/…"},
    "import_done": {"file": "customers.csv", "created": 120, "updated": 30, "errors": 2,
                    "link": "https://crm.example/acme/customers/"},
    "summary": {"period": "Nov 23 – 29, 2026", "numbers": "New customers: 3 (before: 1)\nOpen tickets: 2",
                "link": "https://crm.example/acme/reports/"},
    "export_ready": {"list": "Customers", "rows": 120000, "format": "CSV", "hours": 24,
                     "link": "https://crm.example/acme/exports/file?t=…"},
    "workspace_export_ready": {"workspace": "Acme", "rows": 120000, "files": 350, "days": 7,
                               "link": "https://crm.example/acme/settings/data/export/download?t=…"},
    "webhook_disabled": {"url": "https://erp.example.com/crm-events", "failures": 50,
                         "link": "https://crm.example/acme/settings/integrations/1"},
}
LANGUAGES = ("en", "zh")


def templates() -> list[dict]:
    """Every message kind in both languages: the text in use and whether it is the tenant's own."""
    own = messages.own_templates()
    rows = []
    for kind in messages.VARIABLES:
        for language in LANGUAGES:
            subject, body = messages.template_for(kind, "any", language)
            rows.append({"kind": kind, "language": language, "subject": subject, "body": body,
                         "own": messages.template_key(kind, "any", language) in own,
                         "variables": messages.VARIABLES[kind]})
    return rows


def preview(kind: str, subject: str, body: str) -> messages.Message:
    """The template rendered with sample values; raises Invalid when it cannot be."""
    if kind not in messages.VARIABLES:
        raise Invalid({"body": _("Unknown message kind.")})
    errors = {}
    subject = validation.collect(errors, validation.text, subject, "subject", 200) or ""
    body = validation.collect(errors, validation.text, body, "body", 4000, required=True)
    if errors:
        raise Invalid(errors)
    try:
        return messages.render_text(subject, body, SAMPLES[kind])
    except messages.TemplateProblem as problem:
        raise Invalid({"body": _("This template cannot be used: %(problem)s", problem=str(problem))}) from None


def save_template(kind: str, language: str, subject: str, body: str) -> None:
    """The tenant's own wording of a message kind in a language (checked by rendering it first)."""
    if language not in LANGUAGES:
        raise Invalid({"body": _("Unknown language.")})
    preview(kind, subject, body)
    own = dict(messages.own_templates())
    own[messages.template_key(kind, "any", language)] = {"subject": subject.strip(), "body": body}
    put_setting(messages.TEMPLATES_SETTING, own)


def reset_template(kind: str, language: str) -> None:
    """Back to the built-in wording (in every channel)."""
    own = {key: value for key, value in messages.own_templates().items()
           if not (key.startswith(f"{kind}:") and key.endswith(f":{language}"))}
    put_setting(messages.TEMPLATES_SETTING, own)


def available_channels() -> list[str]:
    """The channels a member may pick for reminders: email, SMS, and the chat bots this workspace set up."""
    return ["email", "sms"] + [bot for bot in BOT_CHANNELS if channel_settings.bot_config(bot) is not None]
