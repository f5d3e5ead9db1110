"""Follow-up forms: what a person types; the service validates and normalises it."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField

from crm.followups.models import DEFAULT_REMINDER, METHOD_LABELS

REMINDER_LABELS = {"": _l("No reminder"), "0": _l("At the time"), "15": _l("15 minutes before"),
                   "60": _l("1 hour before"), "1440": _l("1 day before")}


class FollowUpForm(FlaskForm):
    """Plan a follow-up (`mode` plan) or log an interaction that already happened (`mode` log)."""

    mode = HiddenField(default="plan")
    customer_id = HiddenField()
    deal_id = HiddenField()
    method = SelectField(_l("How"), choices=list(METHOD_LABELS.items()), validate_choice=False)
    summary = TextAreaField(_l("What"))
    due_at = StringField(_l("When"), render_kw={"type": "datetime-local"})
    remind_minutes = SelectField(_l("Reminder"), choices=list(REMINDER_LABELS.items()), default=str(DEFAULT_REMINDER),
                                 validate_choice=False)
    owner_id = SelectField(_l("Assigned to"), choices=[], validate_choice=False)
    contact_id = StringField(_l("Contact"))  # who is called or met: one of the customer's contacts (crm/contacts)
    outcome = TextAreaField(_l("Outcome"))

    def data_for_service(self) -> dict:
        return {name: field.data for name, field in self._fields.items() if name != "csrf_token"}


class DoneForm(FlaskForm):
    """Mark a follow-up done: the outcome, and optionally the next one."""

    outcome = TextAreaField(_l("Outcome"))
    next_due_at = StringField(_l("Next follow-up"), render_kw={"type": "datetime-local"})
    next_method = SelectField(_l("How"), choices=list(METHOD_LABELS.items()), validate_choice=False)
    next_summary = StringField(_l("What next"))

    def data_for_service(self) -> dict:
        return {name: field.data for name, field in self._fields.items() if name != "csrf_token"}
