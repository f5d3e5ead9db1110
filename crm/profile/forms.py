"""Names on the profile page and in the audit log."""
from flask_babel import lazy_gettext as _l

CHANNEL_LABELS = {"email": _l("Email"), "sms": _l("SMS"), "wecom": _l("WeCom group bot"),
                  "dingtalk": _l("DingTalk group bot"), "feishu": _l("Feishu group bot"), "webhook": _l("Webhook")}
FIELD_LABELS = {"name": _l("Name"), "phone": _l("Mobile number"), "notify_channels": _l("Reminders by")}


def channel_names(stored: str) -> str:
    """The audit log's value of `notify_channels` ("email,sms") in the reader's language."""
    return ", ".join(str(CHANNEL_LABELS.get(channel, channel)) for channel in stored.split(",") if channel)
