"""Settings > Workspace: the company's name and logo, and where it is (language, country for phone numbers,
currency, time zone, week start). Every change is one audit entry; sign-up writes the same places."""
from flask_babel import gettext as _

from crm import validation
from crm.audit.service import diff, record
from crm.errors import Invalid
from crm.members.models import DEFAULT_SETTINGS
from crm.settings import (get_setting, phone_region, put_setting, time_zone_name, workspace_currency,
                          workspace_language)
from crm.validation import collect
from crm.workspace_settings import logo as logos
from crm.workspace_settings import places
from tenants.binding import current_tenant
from tenants.service import rename_tenant

PLACES = ("language", "phone_region", "currency", "timezone")
LOGO, LOGO_PNG = "logo", "logo_png"  # settings: the logo's version (in its URL), and the PNG itself (base64)


def clean_places(data: dict, errors: dict) -> dict:
    """The language, country, currency and time zone a form sent, checked; each problem added to `errors`."""
    allowed = {"language": places.LANGUAGE_LABELS, "phone_region": places.region_codes(),
               "currency": places.currency_codes(), "timezone": places.time_zone_names()}
    return {key: collect(errors, validation.choice, data.get(key), key, allowed[key]) for key in PLACES}


def current() -> dict:
    """The bound workspace's settings as the Workspace tab shows them."""
    return {"company": current_tenant().name, "logo": get_setting(LOGO), "language": workspace_language(),
            "phone_region": phone_region(), "currency": workspace_currency(), "timezone": time_zone_name(),
            "week_start": get_setting("week_start") or DEFAULT_SETTINGS["week_start"]}


def logo_version() -> str | None:
    return get_setting(LOGO)


def logo_png() -> tuple[str, bytes] | None:
    """(version, PNG) of the workspace's logo; None when it has none."""
    version, data = get_setting(LOGO), get_setting(LOGO_PNG)
    return (version, logos.decoded(data)) if version and data else None


def update_workspace(data: dict, upload: bytes | None = None, remove_logo: bool = False) -> dict:
    """Save the Workspace tab: everything checked first (nothing is saved when one field is refused), then one
    audit entry of what changed. Returns {field: [before, after]}."""
    errors = {}
    company = collect(errors, validation.text, data.get("company"), "company", 120,
                      required=_("Enter the company's name."))
    after = {"company": company, **clean_places(data, errors),
             "week_start": collect(errors, validation.choice, data.get("week_start"), "week_start",
                                   places.WEEK_START_LABELS)}
    png = collect(errors, logos.small_png, upload) if upload is not None else None
    if errors:
        raise Invalid(errors)
    before = current()
    after[LOGO] = before[LOGO]
    if png or remove_logo:
        after[LOGO] = logos.version_of(png) if png else None
    changes = diff(before, after)
    _save(changes, png)
    if changes:
        record("update", "workspace", summary=company, changes=changes)
    return changes


def _save(changes: dict, png: bytes | None) -> None:
    for key, (_before, value) in changes.items():
        if key == "company":
            rename_tenant(current_tenant(), value)
        elif key == LOGO:
            put_setting(LOGO, value)
            put_setting(LOGO_PNG, logos.encoded(png) if png else None)
        else:
            put_setting(key, value)
