"""The Workspace tab's form and the place fields sign-up shares with it; the service checks every value."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, StringField

from crm.workspace_settings import places
from crm.workspace_settings.logo import MAX_BYTES

FIELD_LABELS = {"company": _l("Company name"), "logo": _l("Logo"), "language": _l("Default language"),
                "phone_region": _l("Country (for phone numbers)"), "currency": _l("Currency"),
                "timezone": _l("Time zone"), "week_start": _l("Week starts on")}


class PlacesForm(FlaskForm):
    """Language, country, currency and time zone: asked at sign-up, changed on the Workspace tab."""

    language = SelectField(FIELD_LABELS["language"], choices=list(places.LANGUAGE_LABELS.items()),
                           validate_choice=False)
    phone_region = SelectField(FIELD_LABELS["phone_region"], choices=[], validate_choice=False)
    currency = SelectField(FIELD_LABELS["currency"], choices=[], validate_choice=False)
    timezone = SelectField(FIELD_LABELS["timezone"], choices=[], validate_choice=False)

    def set_choices(self) -> "PlacesForm":
        """The lists, named in the reader's language; a stored value no longer offered stays selectable."""
        self.phone_region.choices = list(places.regions())
        self.currency.choices = list(places.currencies())
        self.timezone.choices = list(places.time_zones())
        if self.timezone.data and self.timezone.data not in self.timezone.choices:
            self.timezone.choices.append(self.timezone.data)
        return self

    def places(self) -> dict:
        return {name: getattr(self, name).data for name in ("language", "phone_region", "currency", "timezone")}


class WorkspaceForm(PlacesForm):
    company = StringField(FIELD_LABELS["company"], render_kw={"maxlength": 120})
    logo = FileField(FIELD_LABELS["logo"], render_kw={"accept": "image/png,image/jpeg,image/gif,image/webp"})
    remove_logo = BooleanField(_l("Remove the logo"))
    week_start = SelectField(FIELD_LABELS["week_start"], choices=list(places.WEEK_START_LABELS.items()),
                             validate_choice=False)

    def data_for_service(self) -> dict:
        return {"company": self.company.data, "week_start": self.week_start.data, **self.places()}

    def upload(self) -> bytes | None:
        """The chosen logo file's bytes (at most one byte past what is accepted, so a huge file is not read whole);
        None when no file was chosen."""
        file = self.logo.data
        return file.read(MAX_BYTES + 1) if file and file.filename else None
