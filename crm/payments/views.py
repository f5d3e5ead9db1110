"""Order payments: Settings > Payments (the workspace's Stripe account), refunds from the order page, the end
customer's Pay (`/o/<token>/pay`, no account) and the workspace's Stripe webhook endpoint
(`/stripe/<token>/webhook`)."""
from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm import public_links, registry
from crm.extensions import csrf, db
from crm.members.access import require
from crm.orders import queries as orders
from crm.orders import status_link
from crm.payments import forms, service, settings, state, stripe_api, webhooks
from crm.security.events import security_event
from crm.web import is_htmx, on_invalid, refused, render, saved
from tenants.binding import tenant_bound
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("payments", __name__)
registry.plug(bp, registry.SettingsTab("payments.settings_page", _l("Payments"), order=75,
                                       permission=("settings", "view"), current=("payments.*",)))
# The end customer pays an order through its signed status link: no account, no tenant slug in the address.
public = Blueprint("order_payment", __name__, url_prefix="/o")
# Stripe posts the workspace's events here; signed by Stripe, not by a browser, so no CSRF token and no session.
stripe_webhooks = Blueprint("stripe_webhooks", __name__, url_prefix="/stripe")


@bp.app_context_processor
def labels():
    """Payment labels for every template (the order page and the public pages show them too)."""
    return {"payment_state_labels": forms.STATE_LABELS, "payment_kind_labels": forms.KIND_LABELS,
            "payment_method_labels": forms.METHOD_LABELS}


@bp.get("/settings/payments")
@require("settings", "view")
def settings_page():
    """The Stripe account the workspace's customers pay into, and its webhook endpoint."""
    return _settings_page(forms.StripeForm(formdata=None))


@bp.post("/settings/payments")
@require("settings", "edit")
def save():
    """Save the restricted key and the webhook signing secret (empty fields keep the saved ones)."""
    form = forms.StripeForm()
    on_invalid(lambda error: _settings_page(error.apply_to(form)))
    settings.save(form.data)
    return saved(_("Payment settings saved.") if not form.remove.data else _("Stripe is disconnected."),
                 "payments.settings_page")


@bp.post("/settings/payments/test")
@require("settings", "edit")
def test_connection():
    """Ask Stripe with the saved key; the answer shows beside the button."""
    worked, message = settings.test_connection()
    return render("payments/settings.html", block="test_result", **_settings_context(
        forms.StripeForm(formdata=None), result={"ok": worked, "message": message}))


@bp.post("/orders/<id:order_id>/refund")
@require("orders", "edit")
def refund(order_id: int):
    """Give back (part of) a payment through Stripe, with a reason; refused amounts come back at their field."""
    order = orders.get_order(g.member, order_id, "edit", lock=True)
    on_invalid(lambda error: render("payments/_order_card.html", order=order, refund_errors=error.errors,
                                    typed=request.form, **service.order_card(order)) if is_htmx()
               else refused(error, url_for("orders.show", order_id=order_id)))
    made = service.refund(g.member, order, request.form)
    return saved(_("Refund made through Stripe.") if made else
                 _("Stripe is making the refund; it shows here once Stripe confirms it."), "orders.show",
                 order_id=order_id)


def _settings_context(form, result=None) -> dict:
    return {"form": form, "masks": settings.masks(), "set_up": settings.is_set_up(), "result": result,
            "endpoint_url": webhooks.endpoint_url(), "events": webhooks.EVENTS, "waiting": webhooks.waiting(),
            "can_edit": g.member.can("settings", "edit")}


def _settings_page(form):
    return render("payments/settings.html", **_settings_context(form))


@public.route("/<token>/pay", methods=["GET", "POST"], endpoint="pay")
def pay(token: str):
    """GET: what is left to pay and a Pay button; POST: a Stripe Checkout page for it (303 there)."""
    link = status_link.read_link(token)
    if link is None:
        abort(404)
    tenant, order_id, signature = link
    back = url_for("order_status.show", token=token)
    with tenant_bound(tenant):
        order = status_link.linked_order(tenant, order_id, signature)
        if order is None:
            abort(404)
        if not state.can_pay(order):
            return redirect(back, 303)
        if request.method == "POST":
            try:
                return redirect(service.start_checkout(order), 303)
            except service.PaymentUnavailable:
                db.session.rollback()
                return _pay_page(tenant, order, token, failed=True, status=503)
        return _pay_page(tenant, order, token)


def _pay_page(tenant, order, token: str, failed: bool = False, status: int = 200):
    return state.allow_checkout(public_links.private_answer(render_template(
        "payments/pay.html", tenant_name=tenant.name, order=order, balance=state.balance(order), token=token,
        failed=failed), status))


@stripe_webhooks.post("/<token>/webhook")
@csrf.exempt
def receive(token: str):
    """One event from the workspace's Stripe account: 200 once it is stored; 400 (and a security event) when its
    signature is missing, wrong or stale."""
    tenant = webhooks.tenant_of(token)
    if tenant is None:
        abort(404)
    with tenant_bound(tenant):
        try:
            webhooks.receive(request.get_data(), request.headers.get("Stripe-Signature"))
        except stripe_api.Refused as refusal:
            security_event("stripe_webhook_refused", reason=str(refusal))
            return {"error": "signature"}, 400
    return {"received": True}
