"""The customer form: what a person types; the service validates and normalises it (choices included)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField

from crm.customers.models import LEVELS, STAGE_LABELS

KIND_LABELS = {"person": _l("Person"), "company": _l("Company")}
CHANNEL_LABELS = {"sms": _l("SMS"), "email": _l("Email")}
FIELD_LABELS = {"name": _l("Name"), "kind": _l("Type"), "phone": _l("Phone"), "email": _l("Email"),
                "company": _l("Company"), "title": _l("Job title"), "level": _l("Level"),
                "stage": _l("Lifecycle stage"), "owner_id": _l("Owner"), "source": _l("Source"),
                # "address": the whole address block (Settings > Fields makes it required or hidden; audit
                # entries written before t0046 name the free-text address so).
                "address": _l("Address"), "street": _l("Street address"), "country": _l("Country"), "region": _l("Province or region"),
                "city": _l("City"), "district": _l("District"), "postcode": _l("Postcode"), "notes": _l("Notes"), "id_number": _l("ID number"),
                "bank_account": _l("Bank account"), "preferred_channel": _l("Order news by")}

AUDIT_LABELS = {**FIELD_LABELS, "tags": _l("Tags")}  # tags are changed beside the form
# The address's parts as China names them (the form's labels when the country is China).
CHINA_LABELS = {"region": _l("Province"), "city": _l("City"), "district": _l("District")}


class CustomerForm(FlaskForm):
    name = StringField(FIELD_LABELS["name"])
    kind = SelectField(FIELD_LABELS["kind"], choices=list(KIND_LABELS.items()), validate_choice=False)
    phone = StringField(FIELD_LABELS["phone"])
    email = StringField(FIELD_LABELS["email"])
    company = StringField(FIELD_LABELS["company"])
    title = StringField(FIELD_LABELS["title"])
    level = SelectField(FIELD_LABELS["level"], choices=[("", "—")] + [(level, level) for level in LEVELS],
                        validate_choice=False)
    stage = SelectField(FIELD_LABELS["stage"], choices=list(STAGE_LABELS.items()), validate_choice=False)
    owner_id = SelectField(FIELD_LABELS["owner_id"], choices=[], validate_choice=False)
    source = StringField(FIELD_LABELS["source"])
    # The address: cascading selects in China, typed elsewhere (templates/customers/_address.html).
    country = SelectField(FIELD_LABELS["country"], choices=[], validate_choice=False)
    region = StringField(FIELD_LABELS["region"])
    city = StringField(FIELD_LABELS["city"])
    district = StringField(FIELD_LABELS["district"])
    postcode = StringField(FIELD_LABELS["postcode"])
    street = StringField(FIELD_LABELS["street"])
    notes = TextAreaField(FIELD_LABELS["notes"])
    preferred_channel = SelectField(FIELD_LABELS["preferred_channel"], choices=list(CHANNEL_LABELS.items()),
                                    validate_choice=False)
    id_number = StringField(FIELD_LABELS["id_number"])
    bank_account = StringField(FIELD_LABELS["bank_account"])

    def set_countries(self, countries) -> None:
        self.country.choices = [("", "—")] + list(countries)

    def set_owners(self, members) -> None:
        self.owner_id.choices = [("", _l("No owner"))] + [(str(m.id), m.name) for m in members]

    def drop_sensitive(self) -> None:
        """For a role that may not change sensitive fields: not shown, not read."""
        del self.id_number
        del self.bank_account

    def data_for_service(self) -> dict:
        """The submitted fields (a field left out of the post is left out here too, not blanked)."""
        return {name: field.data for name, field in self._fields.items()
                if name != "csrf_token" and field.raw_data}
