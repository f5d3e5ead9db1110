"""Reminders of planned follow-ups: outbox messages to the assignee, written with the plan itself."""
from datetime import timedelta

from flask_babel import force_locale, format_datetime

from crm.accounts.models import Account
from crm.followups.models import METHOD_LABELS
from crm.followups.models import Activity
from crm.customers.models import Customer
from crm.extensions import db, utcnow
from crm.members.models import Member
from crm.notify import outbox
from crm.web import absolute_url

BOTS = ("wecom", "dingtalk", "feishu", "webhook")


def source(activity: Activity) -> str:
    return f"activity:{activity.id}"


def destinations(member: Member) -> list[tuple[str, str]]:
    """(channel, recipient) for each way the member wants reminders: in-app always, then their choices."""
    wanted = [("inapp", str(member.id))]
    for channel in member.notify_channels or []:
        if channel == "email":
            wanted.append(("email", member.email))
        elif channel == "sms" and member.phone:
            wanted.append(("sms", member.phone))
        elif channel in BOTS:
            wanted.append((channel, member.name))  # the workspace's group bot; the name says whose it is
    return wanted


def locale_of(member: Member) -> str:
    account = db.session.get(Account, member.account_id)
    return "zh_Hans_CN" if account is not None and account.language.startswith("zh") else "en"


def schedule(activity: Activity) -> None:
    """(Re)plan the reminders of a follow-up: pending ones are replaced; none when it has no reminder."""
    outbox.cancel(source(activity))
    if activity.remind_minutes is None or activity.done_at is not None or activity.due_at is None:
        return
    if activity.due_at <= utcnow():
        return  # planned in the past: nothing left to remind of
    member = db.session.get(Member, activity.owner_id)
    remind_at = activity.due_at - timedelta(minutes=activity.remind_minutes)
    locale = locale_of(member)
    payload = _payload(activity, locale)
    for channel, recipient in destinations(member):
        outbox.schedule(channel=channel, kind="reminder", recipient=recipient, member_id=member.id,
                        key=f"reminder:{activity.id}:{channel}:{int(remind_at.timestamp())}", due_at=remind_at,
                        payload=payload, language=locale[:2], source=source(activity))


def cancel(activity: Activity) -> None:
    outbox.cancel(source(activity))


def _payload(activity: Activity, locale: str) -> dict:
    customer = db.session.get(Customer, activity.customer_id) if activity.customer_id else None
    link = absolute_url("followups.index")
    with force_locale(locale):
        return {"method": str(METHOD_LABELS.get(activity.method, activity.method)),
                "customer": customer.name if customer else "", "due": format_datetime(activity.due_at, "short"),
                "summary": activity.summary, "link": link}
