"""Campaigns: the list, the form with its audience (the customer list's filters, counted live), the page with
progress polled while sending, send, cancel and delete."""
from flask import g, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm import registry
from crm.billing.service import require_feature
from crm.campaigns import progress as campaign_progress
from crm.campaigns import service
from crm.campaigns.audience import audience_args, audience_member, audience_query, count_audience, describe_audience
from crm.campaigns.forms import CHANNEL_LABELS, LANGUAGE_LABELS, RECIPIENT_LABELS, STATUS_LABELS, CampaignForm
from crm.campaigns.sending import resume_if_stalled
from crm.errors import Invalid
from crm.fields import definitions as fields
from crm.members.access import members_in_reach, require
from crm.tags import service as tags
from crm.validation import local_input, record_id
from crm.web import check_form, fragment_of, is_htmx, on_invalid, on_invalid_go_to, refused, render, saved
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("campaigns", __name__, "/campaigns")
# Campaigns are a feature of some plans: every campaign page says so when the workspace's plan lacks it.
bp.before_request(lambda: require_feature("campaigns"))
registry.plug(bp, registry.MenuEntry("campaigns.index", _l("Campaigns"), order=60, permission=("campaigns", "view"),
                                     current=("campaigns.*",), more=True))


@bp.app_context_processor
def labels():
    return {"campaign_status_labels": STATUS_LABELS, "campaign_channel_labels": CHANNEL_LABELS,
            "campaign_language_labels": LANGUAGE_LABELS, "campaign_recipient_labels": RECIPIENT_LABELS}


@bp.get("/")
@require("campaigns", "view")
def index():
    """The campaigns the member may see, newest first; scrolling appends the next ones."""
    after = request.args.get("after", "")
    rows, next_cursor = service.list_campaigns(g.member, after)
    return render("campaigns/index.html", block="more_rows" if after and is_htmx() else None, rows=rows,
                  next_cursor=next_cursor, counts=campaign_progress.progress_of(rows))


@bp.get("/new")
@require("campaigns", "create")
def new():
    """The empty form; the customer list's filter arguments in the query string preset the audience."""
    form = CampaignForm(formdata=None)
    form.language.data = "zh" if get_locale().language == "zh" else "en"
    return _form_page(form, None, audience_args(request.args))


@bp.post("/")
@require("campaigns", "create")
def create():
    """Save a draft, or send (now, or at the chosen time)."""
    form = CampaignForm()
    audience = audience_args(request.form)
    on_invalid(lambda error: _form_page(error.apply_to(form), None, audience))
    check_form(form)
    sending = request.form.get("action") == "send"
    campaign = service.create_campaign(g.member, form.data_for_service(), audience, send=sending)
    return saved(_sent_message(campaign) if sending else _("Campaign saved as a draft."), "campaigns.show",
                 campaign_id=campaign.id)


@bp.get("/audience")
@require("campaigns", "view")
@fragment_of("campaigns.new")
def audience():
    """"N customers match": the form's filters counted as they change (htmx)."""
    campaign_id = record_id(request.args.get("campaign"))
    campaign = service.get_campaign(g.member, campaign_id, "edit") if campaign_id else None
    member = audience_member(g.member, campaign)
    count = count_audience(member, audience_args(request.args))
    return render("campaigns/_audience_count.html", count=count)


@bp.get("/<id:campaign_id>")
@require("campaigns", "view")
def show(campaign_id: int):
    """The campaign: its message, audience, and progress (polled while sending)."""
    campaign = service.get_campaign(g.member, campaign_id)
    matching = None
    if campaign.status in ("draft", "scheduled"):
        matching = count_audience(campaign.owner, campaign.audience)
    return render("campaigns/show.html", campaign=campaign, matching=matching,
                  audience_parts=describe_audience(campaign.audience),
                  failures=campaign_progress.recent_failures(campaign), **_progress(campaign))


@bp.get("/<id:campaign_id>/progress")
@require("campaigns", "view")
@fragment_of("campaigns.show")
def progress(campaign_id: int):
    """The progress card alone, for polling."""
    campaign = service.get_campaign(g.member, campaign_id)
    return render("campaigns/show.html", block="progress", campaign=campaign, **_progress(campaign))


def _progress(campaign) -> dict:
    resume_if_stalled(campaign)
    counts = campaign_progress.progress(campaign)
    return {"counts": counts, "live": campaign_progress.is_live(campaign, counts)}


@bp.get("/<id:campaign_id>/edit")
@require("campaigns", "edit")
def edit(campaign_id: int):
    campaign = service.get_campaign(g.member, campaign_id, "edit")
    if campaign.status not in ("draft", "scheduled"):
        return refused(Invalid({"status": _("This campaign has been sent; it can no longer be changed.")}),
                       url_for("campaigns.show", campaign_id=campaign.id))
    form = CampaignForm(formdata=None, obj=campaign)
    form.send_at.data = local_input(campaign.send_at)
    return _form_page(form, campaign, campaign.audience)


@bp.post("/<id:campaign_id>")
@require("campaigns", "edit")
def update(campaign_id: int):
    """Save the form: back to a draft, or send."""
    campaign = service.get_campaign(g.member, campaign_id, "edit", lock=True)
    form = CampaignForm()
    audience = audience_args(request.form)
    on_invalid(lambda error: _form_page(error.apply_to(form), campaign, audience))
    check_form(form)
    sending = request.form.get("action") == "send"
    service.update_campaign(campaign, form.data_for_service(), audience, send=sending)
    return saved(_sent_message(campaign) if sending else _("Campaign saved as a draft."), "campaigns.show",
                 campaign_id=campaign_id)


@bp.post("/<id:campaign_id>/send")
@require("campaigns", "edit")
def send(campaign_id: int):
    """Send a draft now."""
    campaign = service.get_campaign(g.member, campaign_id, "edit", lock=True)
    on_invalid_go_to("campaigns.show", campaign_id=campaign_id)
    service.start(campaign)
    return saved(_sent_message(campaign), "campaigns.show", campaign_id=campaign_id)


@bp.post("/<id:campaign_id>/cancel")
@require("campaigns", "edit")
def cancel(campaign_id: int):
    """Stop sending: no more batches, and the messages not sent yet are cancelled."""
    campaign = service.get_campaign(g.member, campaign_id, "edit", lock=True)
    on_invalid_go_to("campaigns.show", campaign_id=campaign_id)
    cancelled = service.cancel(campaign)
    return saved(_("Campaign cancelled; %(n)d messages not sent.", n=cancelled), "campaigns.show",
                 campaign_id=campaign_id)


@bp.post("/<id:campaign_id>/delete")
@require("campaigns", "delete")
def delete(campaign_id: int):
    campaign = service.get_campaign(g.member, campaign_id, "delete", lock=True)
    name = campaign.name
    on_invalid_go_to("campaigns.show", campaign_id=campaign_id)
    service.delete_campaign(campaign)
    return saved(_("Campaign %(name)s deleted.", name=name), "campaigns.index")


def _sent_message(campaign) -> str:
    if campaign.status == "scheduled":
        return _("Campaign scheduled.")
    return _("Campaign is being sent.")


def _form_page(form, campaign, audience: dict):
    """The form: the message, when to send, and the audience with its live count."""
    definitions = fields.fields()
    member = audience_member(g.member, campaign)
    return render("campaigns/form.html", block="form", form=form, campaign=campaign,
                  query=audience_query(audience, definitions), tags=tags.all_tags(),
                  members=members_in_reach(g.member, "customers", "view"), custom_fields=definitions,
                  count=count_audience(member, audience))
