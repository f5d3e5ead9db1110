"""Reminders of planned follow-ups: outbox messages to the assignee, written with the plan itself."""
from datetime import timedelta

from flask_babel import force_locale, format_datetime
from sqlalchemy import select

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
    return source_of(activity.id)


def source_of(activity_id: int) -> str:
    return f"activity:{activity_id}"


def destinations(member: Member) -> list[tuple[str, str]]:
    """(channel, recipient) for each way the member wants reminders: in-app always, then their choices."""
    wanted = [("inapp", str(member.id))]
    if not member.is_person:  # an integration (crm/api/tokens.py) reads no email and has no phone
        return wanted
    for channel in member.notify_channels or []:
        if channel == "email":
            wanted.append(("email", member.email))
        elif channel == "sms" and member.phone:
            wanted.append(("sms", member.phone))
        elif channel in BOTS:
            wanted.append((channel, member.name))  # the workspace's group bot; the name says whose it is
    return wanted


def locale_of(member: Member) -> str:
    account = db.session.get(Account, member.account_id) if member.account_id is not None else None
    return "zh_Hans_CN" if account is not None and account.language.startswith("zh") else "en"


def schedule(activity: Activity) -> None:
    """(Re)plan the reminders of a follow-up: pending ones are replaced; none when it has no reminder."""
    outbox.cancel(source(activity))
    if activity.remind_minutes is None or activity.done_at is not None or activity.due_at is None:
        return
    if activity.due_at <= utcnow():
        return  # planned in the past: nothing left to remind of
    member = db.session.get(Member, activity.owner_id)
    customer = db.session.get(Customer, activity.customer_id) if activity.customer_id else None
    for message in _messages(activity, member, locale_of(member), customer.name if customer else ""):
        outbox.schedule(**message)


def schedule_many(activity_ids) -> int:
    """The reminders `schedule()` would plan for each of these new follow-ups (an import's), by the same rules,
    written at once: the plans, their owners and customers read in three queries, the messages in one insert.
    `activity_ids` is a list or a select of ids. Returns how many messages were planned."""
    planned = db.session.execute(
        select(Activity, Customer.name).outerjoin(Customer, Customer.id == Activity.customer_id)
        .where(Activity.id.in_(activity_ids), Activity.remind_minutes.is_not(None), Activity.done_at.is_(None),
               Activity.due_at > utcnow())).all()
    members = {m.id: m for m in db.session.scalars(select(Member).where(
        Member.id.in_({activity.owner_id for activity, _name in planned})))}
    locales = {member_id: locale_of(member) for member_id, member in members.items()}
    messages = []
    for activity, customer_name in planned:
        member = members[activity.owner_id]
        for message in _messages(activity, member, locales[member.id], customer_name or ""):
            message["idempotency_key"] = message.pop("key")
            messages.append(message)
    return outbox.schedule_many(messages)


def _messages(activity: Activity, member: Member, locale: str, customer_name: str) -> list[dict]:
    """The reminder of a plan on each of its owner's channels, as `outbox.schedule()`'s arguments."""
    remind_at = activity.due_at - timedelta(minutes=activity.remind_minutes)
    payload = _payload(activity, locale, customer_name)
    return [{"channel": channel, "kind": "reminder", "recipient": recipient, "member_id": member.id,
             "key": f"reminder:{activity.id}:{channel}:{int(remind_at.timestamp())}", "due_at": remind_at,
             "payload": payload, "language": locale[:2], "source": source(activity)}
            for channel, recipient in destinations(member)]


def cancel(activity: Activity) -> None:
    outbox.cancel(source(activity))


def cancel_many(activity_ids: list[int]) -> int:
    """`cancel()` for many follow-ups at once (an import undone)."""
    return outbox.cancel_many([source_of(activity_id) for activity_id in activity_ids])


def _payload(activity: Activity, locale: str, customer_name: str) -> dict:
    link = absolute_url("followups.index")
    with force_locale(locale):
        return {"method": str(METHOD_LABELS.get(activity.method, activity.method)),
                "customer": customer_name, "due": format_datetime(activity.due_at, "short"),
                "summary": activity.summary, "link": link}
