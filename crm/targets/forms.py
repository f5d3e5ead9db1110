"""The inline form of one member's or team's targets for a month; the service checks every value."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField

from crm.targets.models import MEASURES

FIELD_LABELS = {"won_amount": _l("Won deal amount"), "order_revenue": _l("Order revenue"),
                "new_customers": _l("New customers"), "follow_ups": _l("Follow-ups done")}


class TargetForm(FlaskForm):
    month = HiddenField()
    subject = HiddenField()
    won_amount = StringField(FIELD_LABELS["won_amount"])
    order_revenue = StringField(FIELD_LABELS["order_revenue"])
    new_customers = StringField(FIELD_LABELS["new_customers"])
    follow_ups = StringField(FIELD_LABELS["follow_ups"])

    def data_for_service(self) -> dict:
        return {measure: getattr(self, measure).data for measure in MEASURES}

    def show(self, line) -> "TargetForm":
        """Fill the inputs with the targets in force for `line`, as the service stored them."""
        for measure in MEASURES:
            value = line.goal(measure)
            getattr(self, measure).data = "" if value is None else str(value)
        return self
