"""The campaign form and labels: what a person types; the service validates and normalises it."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField

CHANNEL_LABELS = {"email": _l("Email"), "sms": _l("SMS")}
LANGUAGE_LABELS = {"en": "English", "zh": "中文"}
RECIPIENT_LABELS = {"customers": _l("Each customer"), "primary": _l("Each customer's primary contact"),
                    "contacts": _l("All of each customer's contacts")}
STATUS_LABELS = {"draft": _l("Draft"), "scheduled": _l("Scheduled"), "sending": _l("Sending"), "done": _l("Sent"),
                 "cancelled": _l("Cancelled")}


class CampaignForm(FlaskForm):
    name = StringField(_l("Name"), render_kw={"maxlength": 120})
    channel = SelectField(_l("Channel"), choices=list(CHANNEL_LABELS.items()), default="email",
                          validate_choice=False)
    language = SelectField(_l("Written in"), choices=list(LANGUAGE_LABELS.items()), default="en",
                           validate_choice=False)
    recipients = SelectField(_l("Send to"), choices=list(RECIPIENT_LABELS.items()), default="customers",
                             validate_choice=False)
    subject = StringField(_l("Subject"), render_kw={"maxlength": 200})
    body = TextAreaField(_l("Message"), render_kw={"rows": 8})
    send_at = StringField(_l("Send at"), render_kw={"type": "datetime-local"})

    def data_for_service(self) -> dict:
        return {name: field.data for name, field in self._fields.items() if name != "csrf_token"}
