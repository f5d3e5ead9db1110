"""A workspace's standing (its plan and what its state means now), the limits that plan sets, and the changes the
operator and Stripe's webhooks (crm/billing/stripe_sync.py) make to the stored state.

Stored state is what was said (by sign-up, the operator, Stripe); `standing()` reads what it means at this moment,
so a trial or a grace period ends on time without a job: a trial past its end without a payment is the free plan
(decision: the workspace keeps working within the free plan's limits rather than turning read-only), `past_due`
turns read-only when its grace ends, `unpaid` (Stripe stopped retrying) at once, `canceled` at the end of the paid
period. Without STRIPE_SECRET_KEY billing is off (self-hosted): every workspace is on SELF_HOSTED_PLAN and never
read-only for want of a payment."""
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, g, request
from flask_babel import format_date, format_decimal
from flask_babel import gettext as _
from sqlalchemy import select

from crm.billing.models import Plan, Subscription
from crm.errors import PlanLimit
from crm.extensions import db, utcnow
from tenants.binding import current_tenant


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Standing:
    """What a workspace may do right now."""

    plan: Plan
    status: str  # trialing | active | past_due | unpaid | canceled, or trial_ended (on the free plan since)
    trial_ends_at: datetime | None = None
    period_ends_at: datetime | None = None
    grace_ends_at: datetime | None = None
    read_only: bool = False
    billing_on: bool = False


def billing_on() -> bool:
    return bool(current_app.config["STRIPE_SECRET_KEY"])


def plan_by_key(key: str) -> Plan:
    plan = db.session.scalar(select(Plan).where(Plan.key == key))
    if plan is None:
        raise LookupError(f"no plan {key!r} in public.plans")
    return plan


def plans() -> list[Plan]:
    return list(db.session.scalars(select(Plan).where(Plan.active).order_by(Plan.position, Plan.id)))


def start_subscription(tenant_id: int) -> Subscription:
    """A new workspace tries the public plan that offers a trial, without a card; with none, it is on the free plan."""
    trial = db.session.scalar(select(Plan).where(Plan.active, Plan.public, Plan.trial_days.is_not(None))
                              .order_by(Plan.position, Plan.id).limit(1))
    if trial is None:
        subscription = Subscription(tenant_id=tenant_id, plan=plan_by_key(current_app.config["FREE_PLAN"]),
                                    status="active")
    else:
        subscription = Subscription(tenant_id=tenant_id, plan=trial, status="trialing",
                                    trial_ends_at=utcnow() + timedelta(days=trial.trial_days))
    db.session.add(subscription)
    db.session.flush()
    return subscription


def standing(tenant_id: int | None = None) -> Standing:
    """The bound workspace's (or `tenant_id`'s) standing, read once per request or job step."""
    tenant_id = tenant_id or current_tenant().id
    known = g.setdefault("billing_standing", {})
    if tenant_id not in known:
        known[tenant_id] = _standing(tenant_id, utcnow())
    return known[tenant_id]


def forget_standing() -> None:
    g.pop("billing_standing", None)


def _standing(tenant_id: int, now: datetime) -> Standing:
    if not billing_on():
        return Standing(plan=plan_by_key(current_app.config["SELF_HOSTED_PLAN"]), status="active")
    subscription = db.session.get(Subscription, tenant_id)
    dates = {"trial_ends_at": subscription.trial_ends_at, "period_ends_at": subscription.period_ends_at,
             "grace_ends_at": subscription.grace_ends_at, "billing_on": True}
    status = subscription.status
    if status == "trialing" and subscription.trial_ends_at and subscription.trial_ends_at <= now:
        return Standing(plan=plan_by_key(current_app.config["FREE_PLAN"]), status="trial_ended", **dates)
    read_only = (status == "unpaid"  # Stripe gave up retrying: read-only until paid
                 or (status == "past_due" and subscription.grace_ends_at is not None
                     and subscription.grace_ends_at <= now)
                 or (status == "canceled" and (subscription.period_ends_at is None
                                               or subscription.period_ends_at <= now)))
    return Standing(plan=subscription.plan, status=status, read_only=read_only, **dates)


# What the banner and every refused write say.

def banner(standing_: Standing) -> str | None:
    """The sentence above every page when the workspace's billing needs attention; None when it does not."""
    if not standing_.billing_on:
        return None
    if standing_.read_only and standing_.status in ("past_due", "unpaid"):
        return _("This workspace is read-only: its payment failed and the grace period ended. Pay on the billing "
                 "page to make changes again; nothing was deleted.")
    if standing_.read_only:
        return _("This workspace is read-only: its subscription was cancelled. Subscribe again on the billing page "
                 "to make changes; nothing was deleted.")
    if standing_.status == "past_due" and standing_.grace_ends_at:
        return _("The last payment failed. Update the card on the billing page before %(day)s, or the workspace "
                 "becomes read-only.", day=format_date(standing_.grace_ends_at))
    if standing_.status == "canceled" and standing_.period_ends_at:
        return _("The subscription is cancelled: the workspace becomes read-only on %(day)s.",
                 day=format_date(standing_.period_ends_at))
    return None


def refuse_write_if_read_only() -> None:
    """A request that may write (any method but GET, HEAD, OPTIONS) to a read-only workspace is refused with the
    banner's words, unless its view is `@open_when_read_only`. Called for pages (billing's `member_bound`
    receiver) and the API (its authentication), before any view: a new route is covered without a line of its own."""
    if not billing_on() or request.method in SAFE_METHODS:
        return
    if getattr(current_app.view_functions.get(request.endpoint), "open_when_read_only", False):
        return
    current = standing()
    if current.read_only:
        raise PlanLimit(banner(current))


# Limits, checked where they are crossed.

def require_feature(feature: str) -> None:
    if not standing().plan.includes(feature):
        raise PlanLimit({"campaigns": _("Campaigns are not included in your plan."),
                         "api": _("The API is not included in your plan.")}[feature])


def room_for(limit: str, used: Callable[[], int]) -> int | None:
    """How many more the plan allows beyond what `used()` counts (never below 0); None when unlimited (and then
    nothing is counted)."""
    allowed = standing().plan.limit(limit)
    return None if allowed is None else max(0, allowed - used())


def check_room(limit: str, used: Callable[[], int], adding: int = 1) -> None:
    """Refuse adding `adding` (members, customers, bytes) when it would pass the plan's limit."""
    room = room_for(limit, used)
    if room is not None and adding > room:
        raise PlanLimit(limit_message(limit))


def limit_message(limit: str) -> str:
    allowed = standing().plan.limit(limit)
    if limit == "seats":
        return _("Your plan's limit of %(n)d seats is reached (members and pending invitations). Upgrade your plan "
                 "to invite more.", n=allowed)
    if limit == "customers":
        return _("Your plan's limit of %(n)d customers is reached. Upgrade your plan to add more.", n=allowed)
    if limit == "storage_bytes":
        return _("This upload would pass your plan's file storage of %(size)s. Upgrade your plan or delete files.",
                 size=megabytes(allowed))
    return _("held: over the plan's SMS credits")


def megabytes(size: int) -> str:
    return _("%(n)s MB", n=format_decimal(round(size / 2 ** 20, 1)))


# Changes to the stored state by the operator console (Stripe's state is written by stripe_sync.apply).

def subscription_of(tenant_id: int) -> Subscription:
    """The tenant's stored subscription, locked for the change (its plan row is not: other tenants share it)."""
    return db.session.scalars(select(Subscription).where(Subscription.tenant_id == tenant_id)
                              .with_for_update(of=Subscription)).one()


def change_plan(tenant_id: int, plan: Plan) -> dict:
    """Put the tenant on `plan`, active; returns the change for the audit."""
    subscription = subscription_of(tenant_id)
    before = (subscription.plan.key, subscription.status)
    subscription.plan, subscription.status, subscription.updated_at = plan, "active", utcnow()
    subscription.trial_ends_at = subscription.grace_ends_at = None
    db.session.flush()
    forget_standing()
    return {"plan": [before[0], plan.key], "status": [before[1], "active"]}


def extend_trial(tenant_id: int, days: int) -> dict:
    """A trial `days` longer than it is (from now when it has ended or never was)."""
    subscription = subscription_of(tenant_id)
    before = subscription.trial_ends_at
    start = max(before or utcnow(), utcnow())
    subscription.trial_ends_at, subscription.status, subscription.updated_at = (
        start + timedelta(days=days), "trialing", utcnow())
    db.session.flush()
    forget_standing()
    return {"trial_ends_at": [before.isoformat() if before else None, subscription.trial_ends_at.isoformat()]}


def mark_past_due(tenant_id: int, since: datetime | None = None) -> None:
    """A payment failed: GRACE_DAYS of grace from `since`, then read-only."""
    subscription = subscription_of(tenant_id)
    since = since or utcnow()
    subscription.status, subscription.updated_at = "past_due", utcnow()
    subscription.grace_ends_at = since + timedelta(days=current_app.config["BILLING_GRACE_DAYS"])
    db.session.flush()
    forget_standing()


def mark_active(tenant_id: int, period_ends_at: datetime | None = None) -> None:
    """Paid: writable again at once."""
    subscription = subscription_of(tenant_id)
    subscription.status, subscription.grace_ends_at, subscription.updated_at = "active", None, utcnow()
    subscription.period_ends_at = period_ends_at or subscription.period_ends_at
    db.session.flush()
    forget_standing()


def mark_canceled(tenant_id: int, period_ends_at: datetime) -> None:
    """Cancelled: writable until the paid period ends, read-only after."""
    subscription = subscription_of(tenant_id)
    subscription.status, subscription.period_ends_at, subscription.updated_at = "canceled", period_ends_at, utcnow()
    db.session.flush()
    forget_standing()

