"""A member's own profile in a workspace: the name the others see there, the mobile number SMS reminders go to,
where reminders go besides the bell, and the summaries of key numbers they want (members who see reports).
(Language and password belong to the account: crm/accounts.)"""
from flask_babel import gettext as _

from crm import validation
from crm.audit.service import audited
from crm.errors import Invalid
from crm.extensions import db
from crm.members.models import Member
from crm.notify.service import available_channels
from crm.settings import phone_region
from crm.workspace import digest

AUDITED = ("name", "phone")


def update_profile(member: Member, form) -> None:
    """Save the member's name, mobile number (read in the workspace's phone region), reminder channels and chosen
    summaries, all or nothing; the change goes to the audit log."""
    errors: dict = {}
    name = validation.collect(errors, validation.text, form.get("name"), "name", 120, required=True)
    phone = validation.collect(errors, validation.phone, form.get("phone"), phone_region())
    chosen = form.getlist("channels")
    channels = [channel for channel in available_channels() if channel in chosen]
    if "sms" in channels and not phone and "phone" not in errors:
        errors["phone"] = _("Enter your mobile number to get reminders by SMS.")
    if errors:
        raise Invalid(errors)
    with audited(member, entity="member", fields=AUDITED, state=_channels, summary=lambda m: m.name):
        member.name, member.phone, member.notify_channels = name, phone, channels
    if member.can("reports", "view"):
        digest.set_wanted(member, form.getlist("summaries"))
    db.session.flush()


def _channels(member: Member) -> dict:
    return {"notify_channels": ",".join(member.notify_channels or [])}
