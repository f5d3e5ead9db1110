"""The deal form: what a person types; the service validates it (choices, scope and money included)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField

FIELD_LABELS = {"title": _l("Title"), "customer_id": _l("Customer"), "stage_id": _l("Stage"),
                "amount": _l("Amount"), "currency": _l("Currency"), "expected_close": _l("Expected close"),
                "owner_id": _l("Owner"), "probability": _l("Probability (%)"), "source": _l("Source"),
                "notes": _l("Notes"), "lost_reason": _l("Lost reason"), "contact_id": _l("Contact")}
KIND_LABELS = {"open": _l("Open"), "won": _l("Won"), "lost": _l("Lost")}
# The audit log's names: the form's fields and those changed elsewhere ("stage": a board move before ids were kept).
AUDIT_LABELS = {**FIELD_LABELS, "status": _l("Status"), "stage": _l("Stage")}
PIPELINE_AUDIT_LABELS = {"name_en": _l("Name (English)"), "name_zh": _l("Name (Chinese)"), "active": _l("In use")}
STAGE_AUDIT_LABELS = {"name_en": _l("Name (English)"), "name_zh": _l("Name (Chinese)"), "probability": _l("Probability"),
                      "kind": _l("Kind"), "active": _l("In use")}


class DealForm(FlaskForm):
    title = StringField(FIELD_LABELS["title"])
    customer_id = StringField(FIELD_LABELS["customer_id"])  # rendered as the customer chooser
    contact_id = StringField(FIELD_LABELS["contact_id"])  # one of the customer's contacts (crm/contacts)
    stage_id = SelectField(FIELD_LABELS["stage_id"], choices=[], validate_choice=False)
    amount = StringField(FIELD_LABELS["amount"], render_kw={"inputmode": "decimal"})
    currency = StringField(FIELD_LABELS["currency"], render_kw={"maxlength": 3, "autocapitalize": "characters"})
    expected_close = StringField(FIELD_LABELS["expected_close"], render_kw={"type": "date"})
    owner_id = SelectField(FIELD_LABELS["owner_id"], choices=[], validate_choice=False)
    probability = StringField(FIELD_LABELS["probability"], render_kw={"inputmode": "numeric"})
    source = StringField(FIELD_LABELS["source"])
    notes = TextAreaField(FIELD_LABELS["notes"])
    lost_reason = StringField(FIELD_LABELS["lost_reason"])

    def set_choices(self, grouped_stages, owners) -> None:
        """Stages grouped by pipeline (an optgroup each), owners as given."""
        self.stage_id.choices = {p.name: [(str(s.id), f"{s.name} · {s.probability}%") for s in group] for p, group in grouped_stages}
        self.owner_id.choices = [(str(m.id), m.name) for m in owners]

    def data_for_service(self) -> dict:
        """The submitted fields (a field left out of the post is left out here too, not blanked)."""
        return {name: field.raw_data[0] if field.raw_data else None for name, field in self._fields.items()
                if name != "csrf_token" and field.raw_data}
