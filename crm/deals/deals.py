"""Deal rules: the deal form's validation, and creating, editing, moving, closing and deleting deals."""
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import update

from crm import validation
from crm.audit.service import audited, record
from crm.customers import chooser
from crm.contacts import service as contacts
from crm.errors import Invalid
from crm.extensions import db, utcnow
from crm.fields import record_values
from crm.followups.models import Activity
from crm.fields.values import audit_state
from crm.members.access import in_reach
from crm.members.models import Member
from crm.settings import workspace_currency
from crm.deals.deal_queries import EARLIEST, LATEST
from crm.deals.models import Deal, DealStageChange, Stage
from crm.deals.stages import find_stage, get_pipeline, stages
from crm.timeline import service as timeline
from crm.webhooks import events as webhooks

AUDITED = ("title", "customer_id", "stage_id", "amount", "currency", "expected_close", "owner_id", "probability",
           "source", "notes", "status", "lost_reason", "contact_id")


def _clean_field(viewer: Member, name: str, value, deal: Deal | None):
    if name == "title":
        return validation.text(value, name, 200, required=True)
    if name in ("source", "notes", "lost_reason"):
        return validation.text(value, name, {"source": 60, "notes": 5000, "lost_reason": 250}[name])
    if name == "customer_id":
        customer = chooser.chosen(viewer, value)
        if customer is None:
            raise Invalid({name: _("Choose a customer.")})
        return customer.id
    if name == "stage_id":
        return _form_stage(value, deal)
    if name == "amount":
        return validation.money(value, name) or Decimal("0.00")
    if name == "currency":
        return validation.currency(value, name, default=workspace_currency())
    if name == "expected_close":
        return validation.day(value, name, EARLIEST, LATEST)
    if name == "owner_id":
        return validation.owner(value)
    if name == "probability":
        return validation.percent(value, name)
    return None


EDITABLE = ("title", "customer_id", "stage_id", "amount", "currency", "expected_close", "owner_id", "probability",
            "source", "notes", "lost_reason")


def clean(viewer: Member, data: dict, deal: Deal | None = None) -> dict:
    """Validate the deal form; every problem is reported at once, at its field."""
    cleaned, errors = {}, {}
    names = EDITABLE if deal is None else [name for name in EDITABLE if name in data]
    for name in names:
        cleaned[name] = validation.collect(errors, _clean_field, viewer, name, data.get(name), deal)
    if deal is None or "contact_id" in data:  # one of the customer's contacts, once the customer is known
        customer_id = cleaned.get("customer_id") or (deal.customer_id if deal is not None else None)
        cleaned["contact_id"] = validation.collect(errors, contacts.chosen, customer_id, data.get("contact_id"))
    if errors:
        raise Invalid(errors)
    return cleaned


def _form_stage(value, deal: Deal | None) -> Stage:
    stage = find_stage(value)
    if stage is None or not stage.active or not get_pipeline(stage.pipeline_id).active:
        raise Invalid({"stage_id": _("Choose a stage.")})
    if deal is not None and stage.pipeline_id != deal.pipeline_id:
        raise Invalid({"stage_id": _("Choose a stage of this deal's pipeline.")})
    return stage


def _check_owner(viewer: Member, owner_id: int | None, action: str) -> None:
    """A role without "all" scope gives deals only to members it reaches (itself, its team)."""
    if viewer.role.scope("deals", action) == "all":
        return
    if not in_reach(viewer, "deals", action, owner_id):
        raise Invalid({"owner_id": _("You can only give deals to members of your own team.")})


def _set_probability(deal: Deal, typed: int | None, stage: Stage) -> None:
    """Empty follows the stage; a typed number other than the stage's is kept through later moves."""
    deal.probability_set = typed is not None and typed != stage.probability
    deal.probability = typed if deal.probability_set else stage.probability


def _enter_stage(deal: Deal, stage: Stage, reason: str | None) -> None:
    """Put the deal in `stage`, keeping status, close time and lost reason in step with the stage's kind."""
    if stage.kind == "lost":
        reason = validation.text(reason, "lost_reason", 250, required=_("Say why the deal was lost."))
    if stage.kind != "open" and (deal.status != stage.kind or deal.closed_at is None):
        deal.closed_at = utcnow()
    elif stage.kind == "open":
        deal.closed_at = None
    deal.stage, deal.stage_id, deal.pipeline_id, deal.status = stage, stage.id, stage.pipeline_id, stage.kind
    deal.lost_reason = reason if stage.kind == "lost" else None
    if not deal.probability_set:
        deal.probability = stage.probability


def _link(deal: Deal) -> tuple:
    return ("deals.show", {"deal_id": deal.id})


def _clean_with_custom(viewer: Member, data: dict, custom: dict | None, deal: Deal | None) -> tuple[dict, dict, dict]:
    """The deal's own fields and its custom fields validated together, so the form shows every problem at once:
    (cleaned fields, the `custom` dict to store, custom changes for the audit log). Nothing is changed yet."""
    errors = {}
    cleaned = validation.collect(errors, clean, viewer, data, deal)
    checked = validation.collect(errors, record_values.checked_values, deal, custom or {}, creating=deal is None,
                                 entity="deal")
    if errors:
        raise Invalid(errors)
    return (cleaned, *checked)


def create_deal(viewer: Member, data: dict, custom: dict | None = None) -> Deal:
    """A new deal, owned by the viewer unless another owner (within reach) is chosen.

    `custom` holds the raw custom field values by key (crm.fields.values.read_form); required ones must be there."""
    cleaned, values, custom_changes = _clean_with_custom(viewer, data, custom, None)
    stage = cleaned.pop("stage_id")
    typed, reason = cleaned.pop("probability"), cleaned.pop("lost_reason")
    cleaned["owner_id"] = cleaned.get("owner_id") or viewer.id
    _check_owner(viewer, cleaned["owner_id"], "create")
    deal = Deal(**cleaned, status="open", custom=values)
    _set_probability(deal, typed, stage)
    _enter_stage(deal, stage, reason)
    db.session.add(deal)
    db.session.flush()
    db.session.add(DealStageChange(deal_id=deal.id, from_stage_id=None, to_stage_id=stage.id, actor_id=viewer.id))
    timeline.log("deal_created", customer_id=deal.customer_id, deal_id=deal.id, link=_link(deal), actor=viewer,
                 deal=deal.title, stage=stage.names)
    record("create", "deal", deal.id, summary=deal.title,
           changes={f"custom.{key}": change for key, change in custom_changes.items()})
    webhooks.emit("deal.created", deal)
    return deal


def update_deal(viewer: Member, deal: Deal, data: dict, custom: dict | None = None) -> Deal:
    """Save the deal form; a stage change is a move (history and timeline), and all is audited.

    `custom` holds the raw custom field values the form carried (crm.fields.values.read_form); others stay as they are."""
    with audited(deal, entity="deal", fields=AUDITED, state=audit_state, summary=lambda d: d.title) as change:
        cleaned, values, _changes = _clean_with_custom(viewer, data, custom, deal)
        if values != (deal.custom or {}):
            deal.custom = values
        stage, reason = cleaned.pop("stage_id", deal.stage), cleaned.pop("lost_reason", deal.lost_reason)
        typed = cleaned.pop("probability", deal.probability if deal.probability_set else None)
        if "owner_id" in cleaned and cleaned["owner_id"] != deal.owner_id:
            _check_owner(viewer, cleaned["owner_id"], "edit")
        for name, value in cleaned.items():
            setattr(deal, name, value)
        _set_probability(deal, typed, stage)
        if stage.id != deal.stage_id:
            _move(viewer, deal, stage, reason)
        elif deal.status == "lost":
            _enter_stage(deal, stage, reason)
    if change:
        deal.updated_at = utcnow()
    db.session.flush()
    return deal


def _target_stage(deal: Deal, stage_id) -> Stage:
    """The stage a deal is moved to, or why it may not go there."""
    stage = find_stage(stage_id)
    if stage is None:
        raise Invalid({"stage_id": _("Choose a stage.")})
    if stage.pipeline_id != deal.pipeline_id:
        raise Invalid({"stage_id": _("A deal can only move between stages of its own pipeline.")})
    if not stage.active:
        raise Invalid({"stage_id": _("The stage %(stage)s is retired; choose another one.", stage=stage.name)})
    return stage


def _move(viewer: Member, deal: Deal, stage: Stage, reason: str | None) -> None:
    old = deal.stage
    _enter_stage(deal, stage, reason)
    deal.updated_at = utcnow()
    db.session.add(DealStageChange(deal_id=deal.id, from_stage_id=old.id, to_stage_id=stage.id, actor_id=viewer.id))
    where = {"customer_id": deal.customer_id, "deal_id": deal.id, "link": _link(deal), "actor": viewer}
    webhooks.emit("deal.stage_changed", deal)
    if stage.kind in ("won", "lost"):
        webhooks.emit(f"deal.{stage.kind}", deal)
    if stage.kind == "won":
        timeline.log("deal_won", **where, deal=deal.title)
    elif stage.kind == "lost":
        timeline.log("deal_lost", **where, deal=deal.title, reason=deal.lost_reason)
    else:
        timeline.log("deal_stage", **where, deal=deal.title, **{"from": old.names, "to": stage.names})


def move_deal_to_stage(viewer: Member, deal: Deal, stage_id, reason: str | None = None) -> Deal:
    """Move a deal to another active stage of its pipeline; a lost stage needs a reason."""
    stage = _target_stage(deal, stage_id)
    if stage.id == deal.stage_id:
        return deal
    old = deal.stage
    _move(viewer, deal, stage, reason)
    record("update", "deal", deal.id, summary=deal.title, changes={"stage_id": [old.id, stage.id]})
    db.session.flush()
    return deal


def _closing_stage(deal: Deal, kind: str, stage_id=None) -> Stage:
    if stage_id:
        stage = _target_stage(deal, stage_id)
        if stage.kind == kind:
            return stage
    stage = next((s for s in stages(deal.pipeline_id) if s.kind == kind), None)
    if stage is None:
        raise Invalid({"stage_id": _("This pipeline has no stage for that.")})
    return stage


def mark_won(viewer: Member, deal: Deal) -> Deal:
    """Move the deal to its pipeline's won stage."""
    return move_deal_to_stage(viewer, deal, _closing_stage(deal, "won").id)


def mark_lost(viewer: Member, deal: Deal, reason: str | None, stage_id=None) -> Deal:
    """Move the deal to a lost stage (the one given, else the pipeline's first) with its reason."""
    reason = validation.text(reason, "lost_reason", 250, required=_("Say why the deal was lost."))
    stage = _closing_stage(deal, "lost", stage_id)
    if stage.id == deal.stage_id:
        deal.lost_reason = reason
        return deal
    return move_deal_to_stage(viewer, deal, stage.id, reason)


def delete_deal(deal: Deal) -> None:
    """Delete a deal with its stage history and its timeline events; its follow-ups stay, about its customer."""
    timeline.forget_deal(deal.id)
    db.session.execute(update(Activity).where(Activity.deal_id == deal.id).values(deal_id=None)
                       .execution_options(synchronize_session=False))
    # The owner it had: GET /api/v1/deletions shows the deletion to whoever could see the deal (crm/audit/deletions.py).
    record("delete", "deal", deal.id, summary=deal.title, changes={"owner_id": [deal.owner_id, None]})
    db.session.delete(deal)
    db.session.flush()
