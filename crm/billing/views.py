"""Settings > Billing: the plan, its state and dates, a bar per limit, invoices, Choose a plan (Stripe Checkout)
and Manage billing (the Billing Portal); the banner above every page while billing needs attention; the one place
that refuses every write of a read-only workspace; and the platform Stripe account's webhook endpoint."""
from flask import Blueprint, make_response, redirect, request
from flask_babel import lazy_gettext as _l

from crm import registry
from crm.billing import service, stripe_sync, usage
from crm.extensions import csrf, db
from crm.members.access import require
from crm.payments.stripe_api import Refused
from crm.security.events import security_event
from crm.security.headers import csp_with_form_action
from crm.web import fragment_of, on_invalid_go_to, open_when_read_only, poll, render
from tenants.binding import current_tenant
from tenants.resolver import member_bound, tenant_blueprint

bp = tenant_blueprint("billing", __name__, "/settings/billing")
# Stripe posts the platform account's events here: signed by Stripe, not by a browser, so no CSRF token, no session.
stripe_webhook = Blueprint("billing_webhook", __name__, url_prefix="/billing")


def _banner(_member) -> dict | None:
    """Without billing (self-hosted) there is nothing to say, and nothing is read."""
    if not service.billing_on():
        return None
    message = service.banner(service.standing())
    return {"message": message} if message else None


registry.plug(
    bp, registry.SettingsTab("billing.index", _l("Billing"), order=120, permission=("billing", "view"),
                             current=("billing.*",)),
    registry.Notice("billing/_banner.html", load=_banner))


@member_bound.connect
def refuse_writes_when_read_only(tenant, member) -> None:
    """Every write to a read-only workspace's pages is refused here, before any view runs, so a new route is
    covered without knowing of billing. A POST that changes no business data says so with `@open_when_read_only`."""
    service.refuse_write_if_read_only()


@bp.get("/")
@require("billing", "view")
def index():
    """The plan, its state and dates, and how much of each limit is used."""
    standing = service.standing()
    used = usage.usage()
    bars = [(limit, used[limit], standing.plan.limit(limit)) for limit in ("seats", "customers", "storage_bytes",
                                                                          "sms_per_month")]
    page = make_response(render(
        "billing/index.html", standing=standing, bars=bars, held_sms=usage.sms_held(), banner=service.banner(standing),
        megabytes=service.megabytes, **_plan_context()))
    # Its forms lead on to Stripe's Checkout and Billing Portal pages (Chrome checks form-action on the redirect).
    page.headers["Content-Security-Policy"] = csp_with_form_action(stripe_sync.hosted_origins())
    return page


def _plan_context() -> dict:
    if not service.billing_on():
        return {"waiting": False, "plans": [], "subscribed": False, "invoices": []}
    return {"waiting": request.args.get("checkout") == "done" and stripe_sync.waiting_for_stripe(),
            "plans": stripe_sync.paid_plans(), "subscribed": stripe_sync.has_live_subscription(),
            "invoices": stripe_sync.invoices(current_tenant().id)}


@bp.get("/plan")
@require("billing", "view")
@fragment_of("billing.index")
@poll
def plan():
    """The plan card alone: back from Checkout, the page asks for it until Stripe's word has been applied."""
    return render("billing/index.html", block="plan", standing=service.standing(), banner=None, **_plan_context())


# Paying is how a read-only workspace becomes writable again, so these two stay open while it is read-only.
# Decision: the `billing` permission (admin-only, view being its one action) is what subscribing needs.

@bp.post("/checkout")
@require("billing", "view")
@open_when_read_only
def checkout():
    """Stripe Checkout for the chosen plan and interval (303 there); the plan follows Stripe's webhook."""
    on_invalid_go_to("billing.index")
    return redirect(stripe_sync.start_checkout(request.form.get("plan", ""), request.form.get("interval", "")), 303)


@bp.post("/portal")
@require("billing", "view")
@open_when_read_only
def portal():
    """Stripe's Billing Portal for the workspace's card, invoices, plan and cancelling (303 there)."""
    on_invalid_go_to("billing.index")
    return redirect(stripe_sync.portal_url(), 303)


@stripe_webhook.post("/stripe-webhook")
@csrf.exempt
def receive():
    """One event from the platform's Stripe account: 200 once stored; 400 (and a security event) when its signature
    is missing, wrong or stale; 404 while billing is off."""
    if not service.billing_on():
        return {"error": "billing is off"}, 404
    try:
        stripe_sync.receive(request.get_data(), request.headers.get("Stripe-Signature"))
    except Refused as refusal:
        security_event("stripe_webhook_refused", reason=str(refusal), account="platform")
        return {"error": "signature"}, 400
    db.session.commit()
    return {"received": True}
