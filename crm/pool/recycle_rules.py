"""The recycle rules (the pool page's Recycle rules): listed, validated, saved, switched on and off, deleted."""
from flask_babel import gettext as _
from sqlalchemy import func, select

from crm import validation
from crm.audit.service import record
from crm.customers.models import LEVELS, Tag
from crm.errors import Invalid, NotFound
from crm.extensions import db
from crm.pool.models import KINDS, RecycleRule
from crm.validation import record_id


def rules() -> list[RecycleRule]:
    return list(db.session.scalars(select(RecycleRule).order_by(RecycleRule.active.desc(), RecycleRule.id)))


def get_rule(rule_id: int) -> RecycleRule:
    rule = db.session.get(RecycleRule, rule_id)
    if rule is None:
        raise NotFound()
    return rule


def clean_rule(data: dict, rule: RecycleRule | None = None) -> dict:
    """Validate a rule's fields; every problem reported at its field at once."""
    cleaned, errors = {}, {}
    checks = {
        "name": lambda: _rule_name(data.get("name"), rule),
        "kind": lambda: validation.choice(data.get("kind"), "kind", KINDS),
        "days": lambda: validation.whole_number(data.get("days"), "days", 1, 3650),
        "levels": lambda: [validation.choice(level, "levels", LEVELS)
                           for level in dict.fromkeys(data.get("levels") or [])],
        "tag_ids": lambda: _tags(data.get("tag_ids") or []),
    }
    for name, check in checks.items():
        try:
            cleaned[name] = check()
        except Invalid as error:
            errors.update(error.errors)
    try:
        cleaned["warn_days_before"] = _warn_days(data.get("warn_days_before"), cleaned.get("days"))
    except Invalid as error:
        errors.update(error.errors)
    if errors:
        raise Invalid(errors)
    cleaned["notify_manager"], cleaned["active"] = bool(data.get("notify_manager")), bool(data.get("active"))
    return cleaned


def _warn_days(raw, days: int | None) -> int:
    warn = validation.whole_number(raw, "warn_days_before", 0, 3649)
    if days is not None and warn >= days:
        raise Invalid({"warn_days_before": _("Warn fewer days ahead than the rule's %(days)d days.", days=days)})
    return warn


def _rule_name(raw, rule: RecycleRule | None) -> str:
    name = validation.text(raw, "name", 80, required=_("Enter a name of 1 to 80 characters."))
    same = select(RecycleRule.id).where(func.lower(RecycleRule.name) == name.lower())
    if rule is not None:
        same = same.where(RecycleRule.id != rule.id)
    if db.session.scalar(same) is not None:
        raise Invalid({"name": _("A rule with this name exists.")})
    return name


def _tags(raw) -> list[int]:
    ids = sorted({record_id(value) or -1 for value in raw})
    known = set(db.session.scalars(select(Tag.id).where(Tag.id.in_(ids)))) if ids else set()
    if set(ids) - known:
        raise Invalid({"tag_ids": _("Choose one of the listed values.")})
    return ids


def save_rule(rule: RecycleRule | None, data: dict) -> RecycleRule:
    """Create a rule (rule None) or change one; audited."""
    cleaned = clean_rule(data, rule)
    created = rule is None
    rule = rule or RecycleRule()
    for name, value in cleaned.items():
        setattr(rule, name, value)
    db.session.add(rule)
    db.session.flush()
    record("create" if created else "update", "settings", rule.id, summary=_("Recycle rule %(name)s", name=rule.name))
    return rule


def set_rule_active(rule: RecycleRule, active: bool) -> None:
    rule.active = active
    record("update", "settings", rule.id, summary=_("Recycle rule %(name)s", name=rule.name),
           changes={"active": [not active, active]})


def delete_rule(rule: RecycleRule) -> None:
    record("delete", "settings", rule.id, summary=_("Recycle rule %(name)s", name=rule.name))
    db.session.delete(rule)
