"""Deal pages: the kanban board, the list, the deal form and page, moves, and Settings > Pipelines."""
from flask import flash, g, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm import registry
from crm.attachments.service import card as files_card
from crm.settings import workspace_currency
from crm.followups import service as activities
from crm.followups.models import METHOD_LABELS
from crm.audit import service as audit
from crm.contacts import service as contacts
from crm.customers import chooser
from crm.customers.queries import customer_name
from crm.extensions import db, utcnow
from crm.fields import definitions as fields
from crm.fields.values import initial_values, read_form
from crm.members.access import members_in_reach, require
from crm.members.service import member_name
from crm.deals import deal_queries, deals, stages
from crm.deals.forms import (
    AUDIT_LABELS,
    FIELD_LABELS,
    KIND_LABELS,
    PIPELINE_AUDIT_LABELS,
    STAGE_AUDIT_LABELS,
    DealForm,
)
from crm.tags import service as tags
from crm.timeline import service as timeline
from crm.validation import record_id
from crm.web import check_form, fragment_of, is_htmx, local_path, on_invalid, refused, render, saved, see_other
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("deals", __name__, "/deals")
registry.plug(
    bp, registry.MenuEntry("deals.index", _l("Deals"), order=40, permission=("deals", "view"),
                           current=("deals.*",)),
    registry.SettingsTab("deals.settings", _l("Pipelines"), order=50, permission=("settings", "view"),
                         current=("deals.settings",)),
    registry.CustomerPanel("deals/_customer_panel.html", order=30, permission=("deals", "view"),
                           load=lambda member, customer: {
                               "deals": deal_queries.deals_for_customer(member, customer.id)}),
    registry.AuditEntity("deal", _l("Deal"), fields=AUDIT_LABELS,
                         values={"stage_id": stages.stage_name, "status": KIND_LABELS, "owner_id": member_name,
                                 "customer_id": customer_name, "contact_id": contacts.contact_name}),
    registry.AuditEntity("pipeline", _l("Pipeline"), fields=PIPELINE_AUDIT_LABELS),
    registry.AuditEntity("stage", _l("Stage"), fields=STAGE_AUDIT_LABELS, values={"kind": KIND_LABELS}),
    registry.SavedList("deals", "deals.list", read=lambda args: deal_queries.DealQuery.from_args(args).args(),
                       filters="#deal-filters"))


@bp.app_context_processor
def helpers():
    """Template helpers for deal pages and the customer page's deal list."""
    return {"deal_kind_labels": KIND_LABELS, "deal_field_labels": FIELD_LABELS}


def _next_url(default: str) -> str:
    """Where to go after a write: a page of this workspace named by the request, else `default`."""
    wanted = local_path(request.values.get("next"))
    return wanted if wanted and wanted.startswith(f"/{g.tenant.slug}/") else default


# The board and the list

@bp.get("/")
@require("deals", "view")
def index():
    """The kanban board of one pipeline; the filter form swaps only the board."""
    query = deal_queries.DealQuery.from_args(request.args)
    pipeline = stages.board_pipeline(query.pipeline_id)
    query.pipeline_id = pipeline.id
    columns = deal_queries.board(g.member, pipeline, query)
    return render("deals/index.html", block=_swapped("board"), pipeline=pipeline, query=query,
                  columns=columns, stages=[c.stage for c in columns], can_move=g.member.can("deals", "edit"),
                  **_filter_choices("board"))


def _swapped(block: str) -> str | None:
    """`block` when htmx asked to swap only that element (the filter form does); else the whole page."""
    return block if is_htmx() and request.headers.get("HX-Target") == block else None


def _filter_choices(block: str) -> dict:
    """What the filter form offers; a swap of the results alone does not need them."""
    whole_page = _swapped(block) is None
    return {"pipelines": stages.pipelines() if whole_page else [],
            "members": members_in_reach(g.member, "deals", "view") if whole_page else [],
            "tags": tags.all_tags() if whole_page else []}


@bp.get("/stages/<id:stage_id>/cards")
@require("deals", "view")
@fragment_of("deals.index")
def cards(stage_id: int):
    """More cards of one column, loaded as the column scrolls."""
    stage = stages.get_stage(stage_id)
    query = deal_queries.DealQuery.from_args(request.args)
    column = deal_queries.column(g.member, stage, query, after=query.after)
    return render("deals/_cards.html", column=column, stages=stages.stages(stage.pipeline_id), query=query,
                  can_move=g.member.can("deals", "edit"))


@bp.get("/list", endpoint="list")
@require("deals", "view")
def deal_list():
    """The same deals as a table; filters and sorting swap the rows, scrolling appends them."""
    query = deal_queries.DealQuery.from_args(request.args)
    more = bool(query.after) and is_htmx()
    rows, next_cursor = deal_queries.list_deals(g.member, query)
    return render("deals/list.html", block="more_rows" if more else _swapped("results"), rows=rows,
                  next_cursor=next_cursor, query=query, **_filter_choices("results"))


# Moving deals

@bp.post("/<id:deal_id>/move")
@require("deals", "edit")
def move(deal_id: int):
    """Move a deal to another stage: a drag on the board, the card's "Move to…" or the deal page."""
    deal = deal_queries.get_deal(g.member, deal_id, "edit")
    title, from_stage_id, to_stage_id = deal.title, deal.stage_id, request.form.get("stage_id")
    on_invalid(lambda error: _after_move(" ".join(error.errors.values()), from_stage_id, to_stage_id, failed=True))
    deals.move_deal_to_stage(g.member, deal, to_stage_id, request.form.get("lost_reason"))
    db.session.commit()
    message = _("%(deal)s moved to %(stage)s.", deal=title, stage=deal.stage.name)
    return _after_move(message, from_stage_id, deal.stage_id)


def _after_move(message: str, from_stage_id: int, to_stage_id, failed: bool = False):
    """On the board, the message and both columns re-drawn (a refused card goes back); else a redirect."""
    if not is_htmx() or request.headers.get("HX-Boosted"):
        flash(message, "error" if failed else "message")
        return see_other(_next_url(url_for("deals.index")))
    query = deal_queries.DealQuery.from_args(request.form)
    from_stage = stages.get_stage(from_stage_id)
    shown = [s for s in stages.stages(from_stage.pipeline_id) if s.id in (from_stage_id, record_id(to_stage_id))]
    columns = [deal_queries.column(g.member, stage, query) for stage in shown]
    return render("deals/_moved.html", message=message, failed=failed, columns=columns, query=query,
                  stages=stages.stages(from_stage.pipeline_id), can_move=True), 422 if failed else 200


@bp.get("/<id:deal_id>/lose")
@require("deals", "edit")
def lose_form(deal_id: int):
    """Ask why the deal was lost (a modal) before moving it to a lost stage."""
    deal = deal_queries.get_deal(g.member, deal_id, "edit")
    return _lose_page(deal, "", None)


def _lose_page(deal, reason: str, error: str | None):
    return render("deals/lose.html", block="form", deal=deal, reason=reason, error=error,
                  stage_id=record_id(request.values.get("stage_id")),
                  next=_next_url(url_for("deals.show", deal_id=deal.id)))


@bp.post("/<id:deal_id>/lose")
@require("deals", "edit")
def lose(deal_id: int):
    """Mark the deal lost with its reason."""
    deal = deal_queries.get_deal(g.member, deal_id, "edit")
    reason = request.form.get("lost_reason", "")
    on_invalid(lambda error: _lose_page(deal, reason, " ".join(error.errors.values())))
    deals.mark_lost(g.member, deal, reason, request.form.get("stage_id"))
    db.session.commit()
    flash(_("Deal %(deal)s lost.", deal=deal.title))
    return see_other(_next_url(url_for("deals.show", deal_id=deal.id)))


@bp.post("/<id:deal_id>/win")
@require("deals", "edit")
def win(deal_id: int):
    """Mark the deal won."""
    deal = deal_queries.get_deal(g.member, deal_id, "edit")
    on_invalid(lambda error: refused(error, _next_url(url_for("deals.show", deal_id=deal_id))))
    deals.mark_won(g.member, deal)
    db.session.commit()
    flash(_("Deal %(deal)s won.", deal=deal.title))
    return see_other(_next_url(url_for("deals.show", deal_id=deal.id)))


# One deal

@bp.get("/<id:deal_id>")
@require("deals", "view")
def show(deal_id: int):
    """The deal: its fields, where it is on the stage path, its stage history and timeline."""
    deal = deal_queries.get_deal(g.member, deal_id)
    return render("deals/show.html", deal=deal, path=stages.stages(deal.pipeline_id),
                  history=deal_queries.stage_history(deal.id), events=timeline.events(deal_id=deal.id)[0],
                  can_edit=deal_queries.allowed(g.member, deal.id, "edit"),
                  can_delete=deal_queries.allowed(g.member, deal.id, "delete"),
                  follow_ups=activities.open_for(g.member, deal_id=deal.id), now=utcnow(),
                  method_labels=METHOD_LABELS, custom_fields=fields.fields("deal"),
                  changes=audit.history("deal", deal.id), contact=contacts.contact_of(deal),
                  **files_card(g.member, "deal", deal))


@bp.get("/new")
@require("deals", "create")
def new():
    """The empty form in a modal; ?customer_id, ?pipeline_id or ?stage_id pre-fill it."""
    form = _form()
    stage = deal_queries.first_stage(record_id(request.args.get("pipeline_id")))
    form.stage_id.data = str(record_id(request.args.get("stage_id")) or (stage.id if stage else ""))
    form.customer_id.data = record_id(request.args.get("customer_id"))
    form.owner_id.data, form.currency.data = str(g.member.id), workspace_currency()
    return _form_page(form, None)


@bp.post("/")
@require("deals", "create")
def create():
    """Create a deal; errors come back beside their fields (custom ones too) with what was typed kept."""
    form = _form()
    custom = read_form(fields.fields("deal"), request.form, for_update=False)
    on_invalid(lambda error: _form_page(form, None, custom, error.split_custom(form)))
    check_form(form)
    deal = deals.create_deal(g.member, form.data_for_service(), custom=custom)
    db.session.commit()
    flash(_("Deal %(deal)s added.", deal=deal.title))
    return see_other(_next_url(url_for("deals.show", deal_id=deal.id)))


@bp.get("/<id:deal_id>/edit")
@require("deals", "edit")
def edit(deal_id: int):
    """The deal form, filled in, in a modal."""
    deal = deal_queries.get_deal(g.member, deal_id, "edit")
    form = _form(deal, obj=deal)
    form.stage_id.data, form.owner_id.data = str(deal.stage_id), str(deal.owner_id or "")
    form.probability.data = deal.probability if deal.probability_set else ""
    return _form_page(form, deal)


@bp.post("/<id:deal_id>")
@require("deals", "edit")
def update(deal_id: int):
    """Save the modal form."""
    deal = deal_queries.get_deal(g.member, deal_id, "edit")
    form = _form(deal)
    custom = read_form(fields.fields("deal"), request.form, for_update=True)
    on_invalid(lambda error: _form_page(form, deal, {**(deal.custom or {}), **custom}, error.split_custom(form)))
    check_form(form)
    deals.update_deal(g.member, deal, form.data_for_service(), custom=custom)
    db.session.commit()
    flash(_("Changes saved."))
    return see_other(_next_url(url_for("deals.show", deal_id=deal_id)))


@bp.post("/<id:deal_id>/delete")
@require("deals", "delete")
def delete(deal_id: int):
    """Delete a deal, its stage history and its timeline events."""
    deal = deal_queries.get_deal(g.member, deal_id, "delete")
    deals.delete_deal(deal)
    return saved(_("Deal %(deal)s deleted.", deal=deal.title), "deals.index")


def _form(deal=None, **kwargs) -> DealForm:
    """The deal form with its stage and owner choices (the deal's own pipeline when editing)."""
    form = DealForm(**kwargs)
    owners = members_in_reach(g.member, "deals", "edit" if deal else "create")
    if deal is not None and deal.owner is not None and deal.owner not in owners:
        owners.append(deal.owner)
    form.set_choices(deal_queries.stage_choices(deal.pipeline_id if deal else None), owners)
    return form


def _form_page(form: DealForm, deal, custom_values: dict | None = None, custom_errors: dict | None = None):
    """The deal form (a modal for htmx): the deal's own fields, then this workspace's custom fields for deals."""
    stage = stages.find_stage(form.stage_id.data)
    definitions = fields.fields("deal")
    if custom_values is None:
        custom_values = initial_values(definitions, deal)
    return render("deals/form.html", block="form", form=form, deal=deal,
                  chosen=chooser.chosen(g.member, form.customer_id.data),
                  contacts=contacts.choices(record_id(form.customer_id.data)),
                  custom_fields=definitions, custom_values=custom_values, custom_errors=custom_errors or {},
                  asks_reason=bool(form.lost_reason.errors or (deal and deal.status == "lost")
                                   or (stage and stage.kind == "lost")),
                  next=_next_url(""))


# Settings > Pipelines

@bp.get("/pipelines")
@require("settings", "view")
def settings():
    """Pipelines and their stages, for admins to add, rename, reorder and retire."""
    return _settings_page()


def _settings_page(errors: dict | None = None, failed: str = ""):
    rows = [(p, stages.stages(p.id, include_retired=True), stages.stage_deal_counts(p.id))
            for p in stages.pipelines(active_only=False)]
    return render("deals/settings.html", rows=rows, errors=errors or {}, failed=failed,
                  typed=request.form)


def _settings_write(failed: str, action, message: str):
    """Run one settings change: saved and back to the page, or the page again with the errors at the form."""
    on_invalid(lambda error: _settings_page(error.errors, failed))
    action()
    return saved(message, "deals.settings")


@bp.post("/pipelines")
@require("settings", "edit")
def create_pipeline():
    """Add a pipeline (it starts with the default stages)."""
    return _settings_write("new-pipeline", lambda: stages.create_pipeline(request.form), _("Pipeline added."))


@bp.post("/pipelines/<id:pipeline_id>")
@require("settings", "edit")
def update_pipeline(pipeline_id: int):
    """Rename a pipeline, or hide it from the board."""
    pipeline = stages.get_pipeline(pipeline_id)
    return _settings_write(f"pipeline-{pipeline_id}", lambda: stages.update_pipeline(pipeline, request.form),
                           _("Pipeline saved."))


@bp.post("/pipelines/<id:pipeline_id>/stages")
@require("settings", "edit")
def add_stage(pipeline_id: int):
    """Add a stage to a pipeline."""
    pipeline = stages.get_pipeline(pipeline_id)
    return _settings_write(f"new-stage-{pipeline_id}", lambda: stages.add_stage(pipeline, request.form),
                           _("Stage added."))


@bp.post("/stages/<id:stage_id>")
@require("settings", "edit")
def update_stage(stage_id: int):
    """Rename a stage, or change its probability or kind."""
    stage = stages.get_stage(stage_id)
    return _settings_write(f"stage-{stage_id}", lambda: stages.update_stage(stage, request.form), _("Stage saved."))


@bp.post("/stages/<id:stage_id>/move")
@require("settings", "edit")
def move_stage(stage_id: int):
    """Move a stage up or down the pipeline."""
    stage = stages.get_stage(stage_id)
    step = -1 if request.form.get("direction") == "up" else 1
    return _settings_write(f"stage-{stage_id}", lambda: stages.move_stage(stage, step), _("Stage moved."))


@bp.post("/stages/<id:stage_id>/retire")
@require("settings", "edit")
def retire_stage(stage_id: int):
    """Retire a stage, first moving its deals to the stage chosen."""
    stage = stages.get_stage(stage_id)
    return _settings_write(f"retire-{stage_id}",
                           lambda: stages.retire_stage(g.member, stage, request.form.get("to_stage_id")),
                           _("Stage %(stage)s retired.", stage=stage.name))
