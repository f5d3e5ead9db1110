"""Custom fields: definitions an admin shapes, and the validation, storage and filtering of their values."""
import re
import secrets
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from urllib.parse import urlparse

from flask_babel import gettext as _
from sqlalchemy import Numeric, func, or_, select

from crm import crypto, validation
from crm.audit.service import diff, record
from crm.errors import Invalid, NotFound
from crm.extensions import db, utcnow
from crm.fields.models import ENTITIES, RECORD_TABLES, SENSITIVE_ENTITIES, TYPES, CustomField
from crm.members.models import Setting
from crm.settings import phone_region
from tenants.binding import current_tenant

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
BUILTIN_CONFIGURABLE = ("phone", "email", "company", "title", "address", "source", "level", "notes")
RANGE_TYPES = ("number", "money", "date", "datetime")
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
    label_en = validation.collect(errors, validation.text, form.get("label_en"), "label_en", 80,
                                  required=_("Enter a label of 1 to 80 characters.")) or ""
    field_type = form.get("type", "")
    if field_type not in TYPES:
        errors["type"] = _("Choose one of the listed values.")
    created = field is None
    if created:
        key = form.get("key", "").strip().lower() or _key_from(label_en)
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
    before = {"type": field.type, "label": field.label_en, "required": field.required}
    field.type, field.label_en = field_type, label_en
    field.label_zh = validation.clipped(form.get("label_zh"), 80)
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
    after = {"type": field.type, "label": field.label_en, "required": field.required}
    record("create" if created else "update", "field", field.id, summary=_summary(field),
           changes=diff(before, after) if not created else {})
    return field


def _summary(field: CustomField) -> str:
    """The field's name in the audit log; fields of deals and orders say whose they are."""
    return field.label_en if field.entity == "customer" else f"{field.label_en} ({field.entity})"


def _key_from(label: str) -> str:
    key = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:30]
    return key if KEY_PATTERN.match(key or "") else f"field_{secrets.token_hex(3)}"


def _next_position(entity: str) -> int:
    return (db.session.scalar(select(func.max(CustomField.position)).where(CustomField.entity == entity)) or 0) + 1


def _options(field: CustomField | None, form) -> list[dict]:
    """Existing options keep their keys (renamed, reordered or retired); new lines become new options."""
    kept = []
    for option in (field.options if field is not None and field.options else []):
        key = option["key"]
        english = validation.clipped(form.get(f"option_{key}_en", option["en"]), 80) or option["en"]
        chinese = validation.clipped(form.get(f"option_{key}_zh", option.get("zh")), 80)
        kept.append({"key": key, "en": english, "zh": chinese,
                     "retired": form.get(f"option_{key}_retired") == "on",
                     "order": _int(form.get(f"option_{key}_order"), len(kept))})
    kept.sort(key=lambda o: o.pop("order"))
    taken = {o["key"] for o in kept}
    for line in form.get("new_options", "").splitlines():
        english, _sep, chinese = (validation.clipped(part, 80) for part in line.partition("|"))
        if not english:
            continue
        key = _key_from(english) or f"o{len(taken)}"
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
    probe = CustomField(key=field.key, type=new_type, options=options, label_en=field.label_en)
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


# Values

def clean_value(field: CustomField, raw):
    """The stored form of one value (None when empty); Invalid with a message at the field otherwise."""
    name = f"custom_{field.key}"
    if field.type == "multiselect":
        chosen = [v for v in (raw if isinstance(raw, list) else [raw]) if v]
        allowed = {o["key"] for o in field.options}
        if any(v not in allowed for v in chosen):
            raise Invalid({name: _("Choose one of the listed values.")})
        return chosen or None
    if field.type == "checkbox":
        return raw in ("on", "true", "1", True)
    value = (raw or "").strip() if isinstance(raw, str) else raw
    if value in ("", None):
        return None
    return _parse(field, value, name)


MAX_MONEY = Decimal("9999999999999.99")  # stored as text, compared as numeric: more room than Numeric(14, 2)


def _parse(field: CustomField, value, name: str):
    kind = field.type
    if kind in ("text", "long_text"):
        return validation.text(value, name, 500 if kind == "text" else 5000)
    if kind == "number":
        return _number(value, name)
    if kind == "money":
        return str(validation.money(value, name, maximum=MAX_MONEY, negative=True))
    if kind == "date":
        return validation.day(value, name).isoformat()
    if kind == "datetime":
        return validation.wall_clock(value, name).isoformat(timespec="minutes")
    if kind == "select":  # a retired option is not offered any more, but a value already stored stays valid
        return validation.choice(value, name, {o["key"] for o in field.options})
    if kind == "email":
        return validation.normalise_email(value, name)
    if kind == "phone":
        return validation.phone(value, phone_region(), name)
    if kind == "url":
        return _url(value, name)
    raise Invalid({name: _("Choose one of the listed values.")})


def _number(value, name: str) -> int | float:
    try:
        number = Decimal(str(value).replace(",", ""))
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or abs(number) >= Decimal("1e15"):
        raise Invalid({name: _("Enter a number, e.g. 12 or 3.5.")})
    return int(number) if number == number.to_integral_value() else float(number)


def _url(value, name: str) -> str:
    value = validation.text(value, name, 500)
    url = urlparse(value)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise Invalid({name: _("Enter a web address starting with http:// or https://.")})
    return value


def read_form(definitions: list[CustomField], form, for_update: bool) -> dict:
    """The raw custom values a form sent, by key (only the fields the form carried, when updating)."""
    raw = {}
    for field in definitions:
        name = f"custom_{field.key}"
        if field.type == "multiselect":
            if name in form or f"{name}__present" in form:
                raw[field.key] = form.getlist(name)
        elif field.type == "checkbox":
            if f"{name}__present" in form or not for_update:
                raw[field.key] = form.get(name, "")
        elif name in form:
            raw[field.key] = form.get(name)
    return raw


def apply_values(item, raw: dict, creating: bool, entity: str = "customer") -> dict:
    """Validate and store custom values on a record of `entity` (a customer, deal or order: anything with a
    `custom` JSONB); returns {key: [before, after]} for the audit log. Nothing is stored unless all are valid."""
    definitions = {f.key: f for f in fields(entity)}
    errors, changes = {}, {}
    encrypted = entity in SENSITIVE_ENTITIES
    custom = dict(item.custom or {})
    secure = dict(item.custom_sensitive or {}) if encrypted else {}
    for key, field in definitions.items():
        if field.sensitive and not encrypted:
            continue  # save_field never makes one; nowhere to keep it
        if key not in raw:
            if creating and field.default:
                raw[key] = field.default
            elif not (creating and field.required):
                continue
        try:
            value = clean_value(field, raw.get(key))
        except Invalid as error:
            errors.update(error.errors)
            continue
        if field.required and value in (None, [], False) and not (field.sensitive and secure.get(key)):
            errors[f"custom_{key}"] = _("This field is required.")
            continue
        if field.sensitive:
            if value not in (None, ""):
                secure[key] = crypto.encrypt(str(value), _context(key))
                changes[key] = ["••••", "••••"]
            continue
        if custom.get(key) != value:
            changes[key] = [custom.get(key), value]
            if value is None:
                custom.pop(key, None)
            else:
                custom[key] = value
    if errors:
        raise Invalid(errors)
    item.custom = custom
    if encrypted:
        item.custom_sensitive = secure
    return changes


def checked_values(item, raw: dict, creating: bool, entity: str) -> tuple[dict, dict]:
    """Validate custom values for a deal or order (`item`, None when new) without touching it: the `custom`
    dict to store and {key: [before, after]} for the audit log; Invalid with messages at the fields."""
    if entity in SENSITIVE_ENTITIES:
        raise ValueError(f"{entity} values may be encrypted: use apply_values")
    probe = SimpleNamespace(custom=dict(item.custom or {}) if item is not None else {})
    changes = apply_values(probe, dict(raw or {}), creating, entity)
    return probe.custom, changes


def initial_values(definitions: list[CustomField], item) -> dict:
    """What a form shows at first: the record's stored values, or the defaults for a new record."""
    if item is not None:
        return dict(item.custom or {})
    return {f.key: f.default for f in definitions if f.default}


def audit_state(item) -> dict:
    """A record's custom values as `custom.<key>` entries, to compare before and after a change."""
    return {f"custom.{key}": value for key, value in (item.custom or {}).items()}


def _context(key: str) -> str:
    return f"{current_tenant().schema}:customers.custom.{key}"


def masked_custom(customer, key: str) -> str:
    token = (customer.custom_sensitive or {}).get(key)
    return crypto.mask(crypto.decrypt(token, _context(key))) if token else ""


def reveal_custom(customer, key: str) -> str:
    token = (customer.custom_sensitive or {}).get(key)
    if not token:
        raise NotFound()
    return crypto.decrypt(token, _context(key))


def display(field: CustomField, value, language: str) -> str:
    """A stored value as people read it."""
    if value in (None, "", []):
        return ""
    if field.type == "select":
        return field.option_label(value, language)
    if field.type == "multiselect":
        return ", ".join(field.option_label(v, language) for v in value)
    if field.type == "checkbox":
        return _("Yes") if value else _("No")
    if field.type == "datetime":
        return value.replace("T", " ")
    return str(value)


# Filters on the customer list

def filter_args(args, definitions: list[CustomField]) -> dict:
    """{key: (type, "any", [values]) | (type, "range", low, high) | (type, "is", value)} for the
    filterable fields asked for; malformed values are ignored."""
    wanted = {}
    for field in definitions:
        if not field.filterable or field.sensitive:
            continue
        name = f"cf_{field.key}"
        if field.type in ("select", "multiselect"):
            chosen = [v for v in args.getlist(name) if v in {o["key"] for o in field.options}][:20]
            if chosen:
                wanted[field.key] = (field.type, "any", chosen)
        elif field.type in RANGE_TYPES:
            low, high = _bound(field, args.get(f"{name}_min")), _bound(field, args.get(f"{name}_max"))
            if low is not None or high is not None:
                wanted[field.key] = (field.type, "range", low, high)
        elif field.type == "checkbox":
            if args.get(name) in ("yes", "no"):
                wanted[field.key] = (field.type, "is", args.get(name) == "yes")
        elif args.get(name, "").strip():
            try:
                value = clean_value(field, args.get(name)[:200])
            except Invalid:
                continue
            wanted[field.key] = (field.type, "is", value)
    return wanted


def _bound(field: CustomField, raw):
    if not raw:
        return None
    try:
        value = clean_value(field, raw[:40])
    except Invalid:
        return None
    return Decimal(str(value)) if field.type in ("number", "money") else value


def conditions(wanted: dict, custom) -> list:
    """SQL conditions on the JSONB column `custom` for the filters: containment (GIN-indexed) for equality and
    any-of, casts for ranges."""
    result = []
    for key, (field_type, kind, *values) in wanted.items():
        if kind == "any":
            wrap = (lambda v: [v]) if field_type == "multiselect" else (lambda v: v)
            result.append(or_(*(custom.contains({key: wrap(v)}) for v in values[0])))
        elif kind == "is":
            result.append(custom.contains({key: values[0]}))
        else:
            low, high = values
            column = custom[key].astext
            if field_type in ("number", "money"):
                column = column.cast(Numeric)
            elif field_type == "datetime" and high is not None:
                high = high + ":59"
            result.append(custom.has_key(key))
            if low is not None:
                result.append(column >= low)
            if high is not None:
                result.append(column <= high)
    return result
