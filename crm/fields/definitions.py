"""Custom field definitions (Settings > Fields): create, change (a type change must fit every stored value),
archive, restore, order; and the built-in fields each tenant makes required or hidden."""
import re
import secrets

from flask_babel import gettext as _
from sqlalchemy import func, select

from crm import names, validation
from crm.audit.service import diff, record
from crm.errors import Invalid, NotFound
from crm.extensions import db, utcnow
from crm.fields.models import ENTITIES, RECORD_TABLES, SENSITIVE_ENTITIES, TYPES, CustomField
from crm.fields.values import clean_value
from crm.members.models import Setting

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
BUILTIN_CONFIGURABLE = ("phone", "email", "company", "title", "address", "source", "level", "notes")
LISTED_ENTITIES = ("customer",)  # record kinds whose list has custom columns and filters (in_list, filterable)


# Definitions

def fields(entity: str = "customer", include_archived: bool = False) -> list[CustomField]:
    stmt = select(CustomField).where(CustomField.entity == entity).order_by(CustomField.position, CustomField.id)
    if not include_archived:
        stmt = stmt.where(CustomField.archived_at.is_(None))
    return list(db.session.scalars(stmt))


def get_field(field_id: int) -> CustomField:
    field = db.session.get(CustomField, field_id)
    if field is None:
        raise NotFound()
    return field


def save_field(field: CustomField | None, form, entity: str = "customer") -> CustomField:
    """Create or change a definition from the admin form; a type change must fit every stored value.

    A new field belongs to `entity` (customer, deal or order); an existing one keeps its own. Only customers
    have sensitive (encrypted) fields, and only their list shows custom columns and filters."""
    errors = {}
    if field is None and entity not in ENTITIES:
        raise Invalid({"entity": _("Choose one of the listed values.")})
    labels = validation.collect(errors, names.clean, form, "label_en", "label_zh", 80) or {}
    field_type = form.get("type", "")
    if field_type not in TYPES:
        errors["type"] = _("Choose one of the listed values.")
    created = field is None
    if created:
        key = form.get("key", "").strip().lower() or _key_from(labels.get("label_en") or labels.get("label_zh"))
        if not KEY_PATTERN.match(key):
            errors["key"] = _("Use a lower-case letter, then letters, digits or underscores (40 at most).")
        elif db.session.scalar(select(CustomField.id).where(CustomField.entity == entity,
                                                            CustomField.key == key)):
            errors["key"] = _("A field with this key exists.")
        field = CustomField(entity=entity, key=key, position=_next_position(entity))
    options = _options(field, form)
    if field_type in ("select", "multiselect") and not [o for o in options if not o.get("retired")]:
        errors["options"] = _("Add at least one option.")
    if errors:
        raise Invalid(errors)
    if not created and field_type != field.type:
        _check_type_change(field, field_type, options)
    before = _audited(field)
    field.type, field.label_en, field.label_zh = field_type, labels["label_en"], labels["label_zh"]
    field.help_en = validation.clipped(form.get("help_en"), 200)
    field.help_zh = validation.clipped(form.get("help_zh"), 200)
    listed = field.entity in LISTED_ENTITIES
    field.required, field.in_list = form.get("required") == "on", listed and form.get("in_list") == "on"
    field.filterable, field.options = listed and form.get("filterable") == "on", options
    if created:  # fixed once values exist: they are stored differently
        field.sensitive = field.entity in SENSITIVE_ENTITIES and form.get("sensitive") == "on"
    field.default = validation.clipped(form.get("default"), 200)
    if field.default:
        try:
            clean_value(field, field.default)
        except Invalid:
            raise Invalid({"default": _("The default must be a valid value for this field.")})
    db.session.add(field)
    db.session.flush()
    after = _audited(field)
    record("create" if created else "update", "field", field.id, summary=_summary(field),
           changes=diff(before, after) if not created else {})
    return field


def _audited(field: CustomField) -> dict:
    return {"type": field.type, "label_en": field.label_en, "label_zh": field.label_zh, "required": field.required}


def _summary(field: CustomField) -> str:
    """The field's name in the audit log; fields of deals and orders say whose they are."""
    return field.label() if field.entity == "customer" else f"{field.label()} ({field.entity})"


def _key_from(label: str | None) -> str:
    """A key made from a label: its words (Chinese spelt in pinyin) joined by underscores."""
    key = re.sub(r"[^a-z0-9]+", "_", names.ascii_words(label).lower()).strip("_")[:30]
    return key if KEY_PATTERN.match(key or "") else f"field_{secrets.token_hex(3)}"


def _next_position(entity: str) -> int:
    return (db.session.scalar(select(func.max(CustomField.position)).where(CustomField.entity == entity)) or 0) + 1


def _options(field: CustomField | None, form) -> list[dict]:
    """Existing options keep their keys (renamed, reordered or retired); new lines become new options."""
    kept = []
    for option in (field.options if field is not None and field.options else []):
        key = option["key"]
        english = validation.clipped(form.get(f"option_{key}_en", option["en"]), 80)
        chinese = validation.clipped(form.get(f"option_{key}_zh", option.get("zh")), 80)
        if not (english or chinese):  # an option keeps a name: clearing both changes nothing
            english, chinese = option["en"], option.get("zh", "")
        kept.append({"key": key, "en": english, "zh": chinese,
                     "retired": form.get(f"option_{key}_retired") == "on",
                     "order": _int(form.get(f"option_{key}_order"), len(kept))})
    kept.sort(key=lambda o: o.pop("order"))
    taken = {o["key"] for o in kept}
    for line in form.get("new_options", "").splitlines():
        english, sep, chinese = (validation.clipped(part, 80) for part in line.partition("|"))
        if not sep and names.is_chinese(english):  # one Chinese name typed alone is the Chinese name
            english, chinese = "", english
        if not (english or chinese):
            continue
        key = _key_from(english or chinese)
        while key in taken:
            key = f"{key}_{secrets.token_hex(2)}"
        taken.add(key)
        kept.append({"key": key, "en": english, "zh": chinese, "retired": False})
    return kept


def _int(value, default: int) -> int:
    text = str(value or "").strip()
    return int(text) if text.lstrip("-").isdecimal() and len(text) < 10 else default


def _check_type_change(field: CustomField, new_type: str, options: list[dict]) -> None:
    """Refuse a type change when stored values would not fit, with a report of the first few."""
    if field.sensitive:
        raise Invalid({"type": _("The type of a sensitive field cannot change.")})
    probe = CustomField(key=field.key, type=new_type, options=options)
    misfits, count = [], 0
    table, name_column = _records_of(field.entity)
    rows = db.session.execute(select(table.c.id, name_column, table.c.custom[field.key])
                              .where(table.c.custom.has_key(field.key)))
    for record_id, name, value in rows:
        try:
            clean_value(probe, _as_input(value))
        except Invalid:
            count += 1
            if len(misfits) < 5:
                misfits.append(f"{name} (#{record_id}): {value}")
    if count:
        raise Invalid({"type": _("%(n)d stored values do not fit the new type, e.g. %(examples)s. Change them "
                                 "first.", n=count, examples="; ".join(misfits))})


def _records_of(entity: str):
    """The table whose `custom` column holds a kind's values, and the column that names a record."""
    table_name, name_column = RECORD_TABLES[entity]
    table = db.metadata.tables[f"tenant.{table_name}"]  # by name: fields sit below the features that use them
    return table, table.c[name_column]


def _as_input(value):
    """A stored value as a form would send it, to validate it against another type."""
    if isinstance(value, bool):
        return "on" if value else ""
    if isinstance(value, list):
        return value
    return "" if value is None else str(value)


def archive(field: CustomField) -> None:
    """Hide a field everywhere; its values stay stored and come back with it."""
    field.archived_at = utcnow()
    record("delete", "field", field.id, summary=_summary(field))


def restore(field: CustomField) -> None:
    field.archived_at = None
    record("restore", "field", field.id, summary=_summary(field))


def move(field: CustomField, step: int) -> None:
    """Swap the field with its neighbour above (-1) or below (+1) among the fields of its record kind."""
    ordered = fields(field.entity)
    index = next(i for i, f in enumerate(ordered) if f.id == field.id)
    other = index + step
    if 0 <= other < len(ordered):
        ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, each in enumerate(ordered, start=1):
        each.position = position


# Built-in fields made required or hidden per tenant

def builtin_rules() -> dict:
    row = db.session.get(Setting, "builtin_fields")
    return row.value if row is not None else {}


def save_builtin_rules(form) -> None:
    rules = {name: {"required": form.get(f"{name}_required") == "on", "hidden": form.get(f"{name}_hidden") == "on"}
             for name in BUILTIN_CONFIGURABLE}
    for rule in rules.values():
        if rule["hidden"]:
            rule["required"] = False  # a field nobody sees cannot be required
    row = db.session.get(Setting, "builtin_fields") or Setting(key="builtin_fields", value={})
    row.value = rules
    db.session.add(row)
    record("update", "settings", None, summary="builtin_fields")
