"""The contact form: what a person types; the service validates and normalises it."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField

from crm.contacts.service import FIELD_LABELS, FIELDS


class ContactForm(FlaskForm):
    name = StringField(FIELD_LABELS["name"])
    title = StringField(FIELD_LABELS["title"], render_kw={"placeholder": _l("e.g. Purchasing manager")})
    mobile = StringField(FIELD_LABELS["mobile"], render_kw={"inputmode": "tel", "autocomplete": "off"})
    phone = StringField(FIELD_LABELS["phone"], render_kw={"inputmode": "tel", "autocomplete": "off"})
    email = StringField(FIELD_LABELS["email"], render_kw={"inputmode": "email", "autocomplete": "off"})
    wechat = StringField(FIELD_LABELS["wechat"])
    notes = TextAreaField(FIELD_LABELS["notes"], render_kw={"rows": 3})
    primary = BooleanField(_l("Primary contact"))
    no_marketing = BooleanField(_l("Send no campaigns to this person"))

    def data_for_service(self) -> dict:
        return {name: self[name].data for name in FIELDS}
