"""Ticket forms and labels: what a person types; the service validates and normalises it."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField

KIND_LABELS = {"complaint": _l("Complaint"), "inquiry": _l("Inquiry"), "repair": _l("Repair"), "other": _l("Other")}
PRIORITY_LABELS = {"urgent": _l("Urgent"), "high": _l("High"), "normal": _l("Normal"), "low": _l("Low")}
STATUS_LABELS = {"open": _l("Open"), "pending": _l("Pending"), "resolved": _l("Resolved"), "closed": _l("Closed")}
# What the button that makes the move says, by (from, to).
MOVE_LABELS = {("pending", "open"): _l("Back to open"), ("resolved", "open"): _l("Reopen"),
               ("open", "pending"): _l("Set pending"), ("open", "resolved"): _l("Resolve"),
               ("pending", "resolved"): _l("Resolve"), ("resolved", "closed"): _l("Close")}
# What the customer picks on the satisfaction page (crm/tickets/survey.py), best first.
RATING_LABELS = {"5": _l("5 · Very satisfied"), "4": _l("4 · Satisfied"), "3": _l("3 · Neutral"),
                 "2": _l("2 · Dissatisfied"), "1": _l("1 · Very dissatisfied")}
FIELD_LABELS = {"customer_id": _l("Customer"), "subject": _l("Subject"), "description": _l("Description"),
                "kind": _l("Type"), "priority": _l("Priority"), "owner_id": _l("Assignee"), "due_at": _l("Due"),
                "order_id": _l("Order number"), "contact_id": _l("Contact"), "status": _l("Status"), "satisfaction": _l("Satisfaction"),
                "satisfaction_comment": _l("Customer's comment")}


class TicketForm(FlaskForm):
    customer_id = HiddenField(FIELD_LABELS["customer_id"])
    subject = StringField(FIELD_LABELS["subject"])
    description = TextAreaField(FIELD_LABELS["description"])
    kind = SelectField(FIELD_LABELS["kind"], choices=list(KIND_LABELS.items()), default="inquiry",
                       validate_choice=False)
    priority = SelectField(FIELD_LABELS["priority"], choices=list(PRIORITY_LABELS.items()), default="normal",
                           validate_choice=False)
    owner_id = SelectField(FIELD_LABELS["owner_id"], choices=[], validate_choice=False)
    due_at = StringField(FIELD_LABELS["due_at"], render_kw={"type": "datetime-local"})
    order_number = StringField(FIELD_LABELS["order_id"])  # SO-000123, picked with the order chooser
    contact_id = StringField(FIELD_LABELS["contact_id"])  # one of the customer's contacts (crm/contacts)

    def set_assignees(self, members, allow_none: bool) -> None:
        none = [("", _l("Unassigned"))] if allow_none else []
        self.owner_id.choices = none + [(str(m.id), m.name) for m in members]

    def for_editing(self) -> None:
        """Editing a ticket: its customer stays, and assigning has buttons of its own."""
        del self.customer_id
        del self.owner_id

    def data_for_service(self) -> dict:
        """The submitted fields (a field left out of the post is left out here too, not blanked)."""
        return {name: field.data for name, field in self._fields.items()
                if name != "csrf_token" and field.raw_data}


class CommentForm(FlaskForm):
    body = TextAreaField(_l("Comment"))
    audience = SelectField(_l("Who sees it"), default="internal", validate_choice=False,
                           choices=[("internal", _l("Internal note")), ("customer", _l("Reply to the customer"))])

