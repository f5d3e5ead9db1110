"""Pool forms: what a person types; the service validates (choices and ranges included)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField

from crm.customers.models import LEVELS

KIND_LABELS = {"no_follow_up": _l("No follow-up"), "no_won_deal": _l("No won deal")}


class ReleaseForm(FlaskForm):
    reason = TextAreaField(_l("Why does the customer go back to the pool?"))


class RuleForm(FlaskForm):
    name = StringField(_l("Name"))
    kind = SelectField(_l("Returns to the pool when there is"), choices=list(KIND_LABELS.items()),
                       validate_choice=False)
    days = StringField(_l("for this many days"), default="30")
    warn_days_before = StringField(_l("Warn the owner this many days before"), default="3")
    levels = SelectMultipleField(_l("Only customers of these levels"), choices=[(level, level) for level in LEVELS],
                                 validate_choice=False)
    tag_ids = SelectMultipleField(_l("Only customers with any of these tags"), choices=[], validate_choice=False)
    notify_manager = BooleanField(_l("Warn the owner's team manager too"))
    active = BooleanField(_l("Active"), default=True)

    def set_tags(self, tags) -> None:
        self.tag_ids.choices = [(str(tag.id), tag.name) for tag in tags]

    def data_for_service(self) -> dict:
        return {name: field.data for name, field in self._fields.items() if name != "csrf_token"}
