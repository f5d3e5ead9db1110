"""A record's custom values (a customer, deal or order): validated together against the definitions and
stored, sensitive ones encrypted per tenant, masked and revealed."""
from types import SimpleNamespace

from flask_babel import gettext as _

from crm import crypto
from crm.errors import Invalid, NotFound
from crm.fields.definitions import fields
from crm.fields.models import SENSITIVE_ENTITIES
from crm.fields.values import clean_value, display
from tenants.binding import current_tenant


def apply_values(item, raw: dict, creating: bool, entity: str = "customer", definitions: dict | None = None) -> dict:
    """Validate and store custom values on a record of `entity` (a customer, deal or order: anything with a
    `custom` JSONB); returns {key: [before, after]} for the audit log. Nothing is stored unless all are valid.
    `definitions` ({key: field}) spares reading the entity's fields again (an import cleans many records)."""
    definitions = {f.key: f for f in fields(entity)} if definitions is None else definitions
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
                secure[key] = crypto.encrypt(str(value), custom_context(key))
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


def checked_values(item, raw: dict, creating: bool, entity: str,
                   definitions: dict | None = None) -> tuple[dict, dict]:
    """Validate custom values for a deal or order (`item`, None when new) without touching it: the `custom`
    dict to store and {key: [before, after]} for the audit log; Invalid with messages at the fields."""
    if entity in SENSITIVE_ENTITIES:
        raise ValueError(f"{entity} values may be encrypted: use apply_values")
    probe = SimpleNamespace(custom=dict(item.custom or {}) if item is not None else {})
    changes = apply_values(probe, dict(raw or {}), creating, entity, definitions)
    return probe.custom, changes


def custom_context(key: str) -> str:
    """Binds a sensitive custom value to its tenant and field (AES-GCM associated data)."""
    return f"{current_tenant().schema}:customers.custom.{key}"


def masked_custom(customer, key: str) -> str:
    token = (customer.custom_sensitive or {}).get(key)
    return crypto.mask(crypto.decrypt(token, custom_context(key))) if token else ""


def reveal_custom(customer, key: str) -> str:
    """A sensitive value in full, amounts and numbers written the way the rest of the page writes them."""
    token = (customer.custom_sensitive or {}).get(key)
    if not token:
        raise NotFound()
    value = crypto.decrypt(token, custom_context(key))
    field = next((f for f in fields("customer") if f.key == key), None)
    return display(field, value) if field is not None and field.type in ("money", "number") else value
