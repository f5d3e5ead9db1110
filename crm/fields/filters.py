"""Filters on the customer list by custom fields: read from the query string, turned into SQL on the JSONB
column."""
from decimal import Decimal

from sqlalchemy import Numeric, or_

from crm.errors import Invalid
from crm.fields.models import CustomField
from crm.fields.values import clean_value

RANGE_TYPES = ("number", "money", "date", "datetime")


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
