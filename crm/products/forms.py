"""The product form: what a person types; the service validates and normalises it."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField

FIELD_LABELS = {"name": _l("Name"), "sku": _l("SKU"), "unit": _l("Unit"), "price": _l("Price")}


class ProductForm(FlaskForm):
    name = StringField(FIELD_LABELS["name"])
    sku = StringField(FIELD_LABELS["sku"])
    unit = StringField(FIELD_LABELS["unit"], render_kw={"placeholder": _l("e.g. pcs, kg, box")})
    price = StringField(FIELD_LABELS["price"], render_kw={"inputmode": "decimal"})

    def data_for_service(self) -> dict:
        return {name: field.data for name, field in self._fields.items() if name != "csrf_token"}
