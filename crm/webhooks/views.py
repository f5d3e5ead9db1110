"""Settings > Integrations: webhook subscriptions, each with its secret (shown once), state and delivery log."""
from flask import g, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm import registry
from crm.extensions import db
from crm.members.access import require
from crm.web import on_invalid, on_invalid_go_to, render, saved
from crm.webhooks import service
from crm.webhooks.events import EVENTS
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("webhooks", __name__, "/settings/integrations")
registry.plug(
    bp, registry.SettingsTab("webhooks.index", _l("Integrations"), order=85, permission=("settings", "view"),
                             current=("webhooks.*",)),
    registry.AuditEntity("webhook", _l("Webhook"), fields={"url": _l("Address"), "events": _l("Events"),
                                                           "enabled": _l("Enabled"), "secret": _l("Secret")},
                         link=("webhooks.show", "subscription_id")))


def _index(new=None, errors: dict | None = None):
    return render("webhooks/index.html", subscriptions=service.subscriptions(), events=EVENTS, new=new,
                  errors=errors or {}, typed=request.form if errors else None)


def _show(subscription, secret: str | None = None, errors: dict | None = None):
    return render("webhooks/show.html", subscription=subscription, secret=secret, events=EVENTS,
                  attempts=service.attempts(subscription), waiting=service.waiting(subscription),
                  errors=errors or {}, typed=request.form if errors else None)


@bp.get("/")
@require("settings", "view")
def index():
    """The workspace's webhook subscriptions and a form for a new one."""
    return _index()


@bp.post("/")
@require("settings", "edit")
def create():
    """Add a subscription and show its secret this once."""
    on_invalid(lambda error: _index(errors=error.errors))
    new = service.create_subscription(g.member, request.form.get("url"), request.form.getlist("events"))
    db.session.commit()
    return _index(new=new)


@bp.get("/<id:subscription_id>")
@require("settings", "view")
def show(subscription_id: int):
    """One subscription: its address and events, its state, and the delivery log with replay."""
    return _show(service.get_subscription(subscription_id))


@bp.post("/<id:subscription_id>")
@require("settings", "edit")
def update(subscription_id: int):
    """Change the address or the events."""
    subscription = service.get_subscription(subscription_id, lock=True)
    on_invalid(lambda error: _show(service.get_subscription(subscription_id), errors=error.errors))
    service.update_subscription(subscription, request.form.get("url"), request.form.getlist("events"))
    return saved(_("Subscription saved."), "webhooks.show", subscription_id=subscription_id)


@bp.post("/<id:subscription_id>/secret")
@require("settings", "edit")
def roll_secret(subscription_id: int):
    """Make a new secret, show it this once; the old one stops at once."""
    subscription = service.get_subscription(subscription_id, lock=True)
    secret = service.roll_secret(subscription)
    db.session.commit()
    return _show(subscription, secret=secret)


@bp.post("/<id:subscription_id>/enable")
@require("settings", "edit")
def enable(subscription_id: int):
    """Switch it on again; the events it held go out now."""
    service.enable(service.get_subscription(subscription_id, lock=True))
    return saved(_("Subscription enabled."), "webhooks.show", subscription_id=subscription_id)


@bp.post("/<id:subscription_id>/disable")
@require("settings", "edit")
def disable(subscription_id: int):
    """Switch it off: no new events; waiting ones are held."""
    service.disable(service.get_subscription(subscription_id, lock=True))
    return saved(_("Subscription disabled."), "webhooks.show", subscription_id=subscription_id)


@bp.post("/<id:subscription_id>/delete")
@require("settings", "edit")
def delete(subscription_id: int):
    """Delete it with its log."""
    service.delete_subscription(service.get_subscription(subscription_id, lock=True))
    return saved(_("Subscription deleted."), "webhooks.index")


@bp.post("/<id:subscription_id>/deliveries/<id:delivery_id>/replay")
@require("settings", "edit")
def replay(subscription_id: int, delivery_id: int):
    """Send one event again now."""
    on_invalid_go_to("webhooks.show", subscription_id=subscription_id)
    service.replay(service.get_subscription(subscription_id), delivery_id)
    return saved(_("The event will be sent again."), "webhooks.show", subscription_id=subscription_id)
