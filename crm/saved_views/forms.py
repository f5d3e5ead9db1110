"""The saved view form: a name, shared or not, the member's default or not; the service checks the rest."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField


class SavedViewForm(FlaskForm):
    name = StringField(_l("Name"), render_kw={"maxlength": 60, "autocomplete": "off"})
    shared = BooleanField(_l("Share with the workspace"))
    default = BooleanField(_l("Open the list with this view"))
    list = HiddenField()
    query = HiddenField()  # the list's arguments, as a query string

    def data_for_service(self) -> dict:
        return {"name": self.name.data, "shared": self.shared.data, "default": self.default.data}
