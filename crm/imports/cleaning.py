"""One file row cleaned into what will be saved: the customer form's rules per cell, labels read in either
language, owners by email or name, tags split. A row either cleans fully or carries its reasons.

Each cell goes through the same cleaners as the customer form (crm/validation.py, writes._clean_field), which
refuse by raising Invalid: an exception per bad cell is slow, but bad cells are few in a real file."""
import re
from collections.abc import Callable
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from crm import crypto, validation
from crm.customers import addresses, sensitive
from crm.customers.models import SENSITIVE, Tag
from crm.customers.writes import TEXT_LIMITS
from crm.errors import Invalid
from crm.extensions import db
from crm.fields import definitions, record_values
from crm.fields.definitions import _key_from
from crm.fields.models import CustomField
from crm.fields.values import clean_value
from crm.imports import mapping as fields
from crm.members.models import Member
from crm.settings import phone_region, workspace_zone

SPLIT = re.compile(r"\s*[,，、;；]\s*")  # tags and multi-select values in one cell
TAG_LIMIT = 40
MATCH_SEPARATOR = "\x1f"  # between name and company in the name+company match key
MEMO_LIMIT = 50_000  # cells remembered per import (tags and select values repeat: a file has few of each)


class RowCleaner:
    """Cleans the rows of one import; what every row needs (members, tags, options) is read once."""

    def __init__(self, viewer: Member, mapping: dict, options: dict):
        self.viewer, self.options = viewer, options
        self.columns = sorted((int(index), key) for index, key in mapping.items())
        self.region, self.zone = phone_region(), workspace_zone()
        self.may_enter_sensitive = viewer.can("sensitive", "edit")
        self.notes: set[str] = set()
        self.custom = {f"custom_{f.key}": f for f in definitions.fields("customer")}
        self.choices = {key: fields.choice_names(key) for key in fields.BUILTIN_CHOICES}
        self.option_keys = {key: fields.option_names(f) for key, f in self.custom.items()
                            if f.type in ("select", "multiselect")}
        self.new_options: dict[str, dict[str, str]] = {}  # field key -> {label: new option key}
        self.probes: dict[str, CustomField] = {}  # fields as if this import's new options were there
        self.tags = {name.lower(): tag_id for tag_id, name in db.session.execute(select(Tag.id, Tag.name))}
        self.members = members_by_name_and_email()
        # Columns whose cleaned value depends on the cell's text alone: each text is cleaned once.
        self.memo_keys = {"tags"} | {key for key, f in self.custom.items()
                                     if f.type in ("select", "multiselect", "checkbox") and not f.sensitive}
        self.memo: dict[tuple[str, str], dict] = {}

    def clean(self, cells: list[str]) -> tuple[dict, str | None, str | None]:
        """(data to save, match key, reason): the reason is set when the row cannot be saved."""
        data, errors = {}, {}
        for index, key in self.columns:
            raw = cells[index].strip() if index < len(cells) else ""
            if raw and key in self.memo_keys:
                self._remembered(key, raw, data, errors)
            elif raw:
                validation.collect(errors, self._cell, key, raw, data)
        if not errors and any(name in data for name in addresses.PARTS):
            # The parts checked together, as the form checks them: a province from the list, its city ...
            data.update(validation.collect(errors, addresses.clean,
                                           {name: data[name] for name in addresses.PARTS if name in data},
                                           self.region) or {})
        if errors:
            return {}, None, "; ".join(f"{fields.field_label(_field_key(name))}: {message}"
                                       for name, message in errors.items())
        return data, self.match_key(data), None

    def match_key(self, data: dict) -> str | None:
        return match_key(self.options["match_on"], data)

    def _remembered(self, key: str, raw: str, data: dict, errors: dict) -> None:
        """A tags or select cell cleaned as the same text was before (refusals are not remembered)."""
        part = self.memo.get((key, raw))
        if part is None:
            part = {}
            validation.collect(errors, self._cell, key, raw, part)
            if key in errors:
                return
            if len(self.memo) < MEMO_LIMIT:
                self.memo[key, raw] = part
        for name, value in part.items():
            if name == "custom":
                data.setdefault("custom", {}).update(value)
            else:
                data[name] = value

    def _cell(self, key: str, raw: str, data: dict) -> None:
        if key in self.custom:
            self._custom(key, raw, data)
        elif key in fields.BUILTIN_CHOICES:
            data[key] = self._choice(key, raw)
        elif key == "owner":
            data["owner_id"] = self._owner(raw)
        elif key == "tags":
            self._tags(raw, data)
        elif key == "created_at":
            data["created_at"] = moment(raw, key, self.zone)
        elif key == "external_id":
            data[key] = validation.text(raw, key, 100)
        elif key in SENSITIVE:
            self._sensitive(key, raw, data)
        elif key == "phone":
            data[key] = validation.phone(raw, self.region)  # the region read once, not per cell
        elif key == "email":
            data[key] = validation.normalise_email(raw)
        elif key == "country":  # a code or a name, read with the other address parts (clean)
            data[key] = raw
        elif key in TEXT_LIMITS:  # a missing name is refused in SQL, for new customers only
            data[key] = validation.text(raw, key, TEXT_LIMITS[key])

    def _choice(self, key: str, raw: str) -> str:
        value = self.choices[key].get(raw.lower())
        if value is None:
            raise Invalid({key: _("Choose one of the listed values.")})
        return value

    def _owner(self, raw: str) -> int:
        return owner_id_of(raw, self.members, self.options)

    def _tags(self, raw: str, data: dict) -> None:
        names = [name for name in SPLIT.split(raw) if name]
        for name in names:
            validation.text(name, "tags", TAG_LIMIT)
        data["tag_ids"] = sorted({self.tags[n.lower()] for n in names if n.lower() in self.tags})
        new = sorted({n for n in names if n.lower() not in self.tags}, key=str.lower)
        if new:
            data["new_tags"] = new

    def _sensitive(self, key: str, raw: str, data: dict) -> None:
        if not self.may_enter_sensitive:
            self.notes.add(_("Your role may not enter ID numbers or bank accounts: those columns were ignored."))
            return
        value = sensitive.sensitive_value(key, raw)
        context = sensitive._context(key)
        data[f"{key}_enc"] = crypto.encrypt(value, context)
        data[f"{key}_idx"] = crypto.blind_index(value, context)

    def _custom(self, key: str, raw: str, data: dict) -> None:
        field = self.custom[key]
        if field.sensitive and not self.may_enter_sensitive:
            self.notes.add(_("Your role may not enter sensitive values: those columns were ignored."))
            return
        raw = form_value(field, raw, lambda label: self._option(key, label))  # may add a probe: a new option
        value = clean_value(self.probes.get(key, field), raw)
        if value in (None, [], ""):
            return
        if field.sensitive:
            data.setdefault("custom_sensitive", {})[field.key] = crypto.encrypt(
                str(value), record_values.custom_context(field.key))
        else:
            data.setdefault("custom", {})[field.key] = value

    def _option(self, key: str, label: str) -> str:
        """An option's key from its key or either name; a new option's key when the import may create it."""
        found = self.option_keys[key].get(label.lower())
        if found is not None:
            return found
        if self.options["unknown_values"] != "create":
            raise Invalid({key: _("Choose one of the listed values.")})
        if len(label) > 80:
            raise Invalid({key: _("Use at most %(n)d characters.", n=80)})
        new = self.new_options.setdefault(key, {})
        if label not in new:
            taken = {o["key"] for o in self.custom[key].options} | set(new.values())
            option_key = _key_from(label)
            while option_key in taken:
                option_key = f"{option_key}_{len(taken)}"
            new[label] = option_key
            self.probes[key] = _with_new_options(self.custom[key], new)
        self.option_keys[key][label.lower()] = new[label]
        return new[label]


def is_yes(raw: str) -> bool:
    """A yes/no cell (a checkbox, a contact's "primary"): yes in either language, else no."""
    return raw.strip().lower() in ("1", "true", "yes", "y", "on", "是", "✓", "x")


def form_value(field: CustomField, raw: str, option: Callable[[str], str]):
    """A custom field's cell as the record form sends it: a select's option (`option` finds its key by the key or
    either language's name), a multi-select's options split at commas, a checkbox's yes in either language."""
    if field.type == "select":
        return option(raw)
    if field.type == "multiselect":
        return [option(part) for part in SPLIT.split(raw) if part]
    if field.type == "checkbox":
        return "on" if is_yes(raw) else ""
    return raw


def match_key(match_on: str, data: dict) -> str | None:
    """The text a cleaned row is matched to customers by (applying.MATCH_COLUMNS says how customers give it)."""
    if match_on == "name_company":
        return f"{data['name'].lower()}{MATCH_SEPARATOR}{(data.get('company') or '').lower()}" \
            if data.get("name") else None
    if match_on == "id_number":
        return data.get("id_number_idx")
    return data.get(match_on)


def moment(raw: str, key: str, zone) -> str:
    """A date or a date and time, read in the workspace's time zone, as ISO text in UTC."""
    try:
        found = datetime.fromisoformat(raw.replace("/", "-"))
    except ValueError:
        raise Invalid({key: _("Enter a valid date.")}) from None
    if not validation.EARLIEST <= found.date() <= validation.LATEST:
        raise Invalid({key: _("Enter a valid date.")})
    if found.tzinfo is None:
        found = found.replace(tzinfo=zone)
    return found.isoformat()


def owner_id_of(raw: str, members: dict[str, int], options: dict) -> int:
    """The member a cell names by email or name; the default owner when the options say so, else Invalid."""
    owner_id = members.get(raw.lower())
    if owner_id is None:
        if options["owner_missing"] != "default":
            raise Invalid({"owner": _("No active member has this email or name.")})
        owner_id = options["default_owner_id"]
    return owner_id


def members_by_name_and_email() -> dict[str, int]:
    """Active members by lower-cased email and name (an email wins over someone else's same name)."""
    rows = db.session.execute(select(Member.id, Member.name, Member.email).where(Member.active)
                              .order_by(Member.id)).all()
    found = {}
    for member_id, name, _email in rows:
        found.setdefault(name.strip().lower(), member_id)
    found.update({email.strip().lower(): member_id for member_id, _name, email in rows if email})
    return found


def _with_new_options(field: CustomField, new: dict) -> CustomField:
    """The field as if the options this import creates were already there (for clean_value's check)."""
    options = list(field.options) + [{"key": k, "en": "", "zh": ""} for k in new.values()]
    return CustomField(key=field.key, type=field.type, options=options)


def _field_key(name: str) -> str:
    return "owner" if name == "owner_id" else name

