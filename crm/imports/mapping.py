"""What a file's columns can be mapped to, the options an import takes, and select values read by label."""
from dataclasses import dataclass

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm import validation
from crm.customers.forms import CHANNEL_LABELS, FIELD_LABELS, KIND_LABELS
from crm.customers.models import LEVELS, SENSITIVE, STAGE_LABELS
from crm.errors import Invalid
from crm.fields.definitions import fields
from crm.fields.models import CustomField
from crm.imports.kinds import KINDS
from crm.imports.kinds import MATCH_ON as LINKED_MATCH_ON
from crm.names import in_language

# The built-in fields a column can fill, in the order the mapping page offers them.
BUILTIN = ("name", "kind", "phone", "email", "company", "title", "country", "region", "city", "district", "postcode",
           "street", "source", "level", "stage", "owner", "notes", "preferred_channel", "tags", "created_at", "external_id") + SENSITIVE
EXTRA_LABELS = {"owner": FIELD_LABELS["owner_id"], "tags": _l("Tags"), "created_at": _l("Created"),
                "external_id": _l("External ID")}
BUILTIN_KINDS = {"kind": "select", "level": "select", "stage": "select", "preferred_channel": "select",
                 "owner": "member", "tags": "tags", "created_at": "datetime", "phone": "phone", "email": "email",
                 "notes": "long_text", "id_number": "sensitive", "bank_account": "sensitive"}
BUILTIN_CHOICES = {"kind": KIND_LABELS, "stage": STAGE_LABELS, "preferred_channel": CHANNEL_LABELS,
                   "level": {level: level for level in LEVELS}}

MATCH_ON = ("phone", "email", "name_company", "id_number", "external_id")
MODES = ("create", "update", "create_update")
DEFAULT_OPTIONS = {"match_on": "phone", "mode": "create_update", "duplicates": "merge", "unknown_values": "error",
                   "owner_missing": "error", "default_owner_id": None, "into_pool": False}


@dataclass(frozen=True)
class Field:
    """A field a column can be mapped to: its key, its label for the reader and in both languages (for
    guessing from a header), and its kind."""

    key: str
    label: str
    labels: dict
    kind: str


def _both(label) -> dict:
    labels = {}
    for language, locale in (("en", "en"), ("zh", "zh_Hans_CN")):
        with force_locale(locale):
            labels[language] = str(label)
    return labels


def fields_for_mapping(kind: str = "customers") -> list[Field]:
    """Every built-in field and every live custom field of customers, labelled in the reader's language; for a
    linked kind (crm/imports/kinds.py), the customer's keys and that kind's fields."""
    if kind in KINDS:
        offered = [Field(key, str(label), _both(label), "text") for key, label in KINDS[kind].fields.items()]
        return offered + _custom_fields(KINDS[kind].entity) if KINDS[kind].entity else offered
    offered = [Field(key, str(_builtin_label(key)), _both(_builtin_label(key)), BUILTIN_KINDS.get(key, "text"))
               for key in BUILTIN]
    return offered + _custom_fields("customer")


def _custom_fields(entity: str) -> list[Field]:
    """The entity's live custom fields (a deal's or order's never sensitive: only customers keep such values)."""
    return [Field(f"custom_{f.key}", f.label(), {"en": in_language(f.label_en, f.label_zh, "en"),
                                                 "zh": in_language(f.label_en, f.label_zh, "zh")}, f.type)
            for f in fields(entity) if entity == "customer" or not f.sensitive]


def _builtin_label(key: str):
    return EXTRA_LABELS.get(key) or FIELD_LABELS[key]


def field_label(key: str, kind: str = "customers") -> str:
    """A mapped field's name, for reasons given per row."""
    if key.startswith("custom_") and (kind not in KINDS or KINDS[kind].entity):
        entity = KINDS[kind].entity if kind in KINDS else "customer"
        field = next((f for f in fields(entity) if f.key == key.removeprefix("custom_")), None)
        return field.label() if field is not None else key
    if kind in KINDS:
        return str(KINDS[kind].fields.get(key, key))
    return str(_builtin_label(key)) if key in BUILTIN else key


def clean_mapping(mapping: dict, columns: int | None = None, kind: str = "customers") -> dict[str, str]:
    """{column index: field key} with known keys only, each field at most once; Invalid when none maps a name
    or a field is chosen twice."""
    known = {f.key for f in fields_for_mapping(kind)}
    cleaned, seen = {}, set()
    for index, key in mapping.items():
        key = "street" if key == "address" and kind not in KINDS else key  # the free-text address of old
        column = validation.record_id(int(index) + 1 if str(index).isdecimal() else None)
        if not key or column is None or (columns is not None and column > columns):
            continue
        if key not in known:
            raise Invalid({"mapping": _("Choose one of the listed values.")})
        if key in seen:
            raise Invalid({"mapping": _("Each field can be filled from one column only: %(field)s.",
                                        field=field_label(key, kind))})
        seen.add(key)
        cleaned[str(column - 1)] = key
    if not cleaned:
        raise Invalid({"mapping": _("Choose a field for at least one column.")})
    return cleaned


def clean_options(options: dict, mapping: dict, owner_ids: set[int], kind: str = "customers") -> dict:
    """The import's options, each checked; the match column must be mapped. A linked kind's rows only add
    records (mode create), so it takes only the match key and what to do with an unknown owner."""
    errors, cleaned = {}, dict(DEFAULT_OPTIONS)
    cleaned["match_on"] = validation.collect(errors, validation.choice, options.get("match_on"), "match_on",
                                             LINKED_MATCH_ON if kind in KINDS else MATCH_ON, default="phone")
    if kind in KINDS:
        options = {**options, "mode": "create", "duplicates": "merge", "unknown_values": "error", "into_pool": ""}
    cleaned["mode"] = validation.collect(errors, validation.choice, options.get("mode"), "mode", MODES,
                                         default="create_update")
    for name, allowed in (("duplicates", ("merge", "skip")), ("unknown_values", ("error", "create")),
                          ("owner_missing", ("error", "default"))):
        cleaned[name] = validation.collect(errors, validation.choice, options.get(name), name, allowed,
                                           default=allowed[0])
    cleaned["into_pool"] = options.get("into_pool") in (True, "on", "true", "1")
    cleaned["default_owner_id"] = validation.record_id(options.get("default_owner_id"))
    if cleaned["owner_missing"] == "default" and cleaned["default_owner_id"] not in owner_ids:
        errors["default_owner_id"] = _("Choose an active member.")
    needed = {"name_company": "name"}.get(cleaned["match_on"], cleaned["match_on"])
    if cleaned["match_on"] and needed not in mapping.values():
        errors["match_on"] = _("Map a column to %(field)s to match on it.", field=field_label(needed, kind))
    if errors:
        raise Invalid(errors)
    return cleaned


def choice_names(key: str) -> dict[str, str]:
    """A built-in select's values by what a file may say: the stored key or either language's label."""
    return label_names(BUILTIN_CHOICES[key])


def label_names(labels: dict) -> dict[str, str]:
    """Stored values by what a file may say for them: the value itself or its label in either language."""
    names = {}
    for value, label in labels.items():
        names[value.lower()] = value
        for text in _both(label).values():
            names[text.strip().lower()] = value
    return names


def option_names(field: CustomField) -> dict[str, str]:
    """A custom select's option keys by what a file may say: the key or the English or Chinese name."""
    names = {}
    for option in field.options:
        for text in (option["key"], option.get("en"), option.get("zh")):
            if text:
                names[text.strip().lower()] = option["key"]
    return names
