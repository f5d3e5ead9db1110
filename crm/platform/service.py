"""The operator console's rules: tenants with their plan, state and usage counts (never their data), and the
operator's actions on them, each written to `public.operator_actions` in the same transaction."""
from flask_babel import gettext as _
from sqlalchemy import asc, desc, func, or_, select

from crm.accounts.models import Account
from crm.billing import service as billing
from crm.billing.models import BillingEvent, Plan, Subscription, TenantUsage
from crm.billing.sms import release_held_sms
from crm.errors import Invalid, NotFound
from crm.extensions import db
from crm.jobs import enqueue_after_commit
from crm.platform.models import OperatorAction
from crm.validation import whole_number
from tenants.models import Tenant
from tenants.service import set_status

SORTS = {"created": Tenant.created_at, "name": Tenant.name, "slug": Tenant.slug, "plan": Plan.key,
         "status": Subscription.status, "seats": TenantUsage.seats, "customers": TenantUsage.customers,
         "storage": TenantUsage.storage_bytes, "sms": TenantUsage.sms_this_month,
         "activity": TenantUsage.last_activity_at}
PAGE = 100
MAX_TRIAL_DAYS = 365


def tenants(search: str = "", sort: str = "created", descending: bool = True) -> list[tuple]:
    """(tenant, subscription, its standing, usage counts or None) for the tenants whose name or slug holds
    `search`, sorted by a column of SORTS; the first PAGE."""
    column = SORTS.get(sort, Tenant.created_at)
    order = desc(column).nulls_last() if descending else asc(column).nulls_last()
    stmt = (select(Tenant, Subscription, TenantUsage)
            .join(Subscription, Subscription.tenant_id == Tenant.id)
            .join(Plan, Plan.id == Subscription.plan_id)
            .outerjoin(TenantUsage, TenantUsage.tenant_id == Tenant.id)
            .order_by(order, Tenant.id).limit(PAGE))
    if search.strip():
        stmt = stmt.where(or_(Tenant.name.icontains(search.strip(), autoescape=True),
                              Tenant.slug.icontains(search.strip(), autoescape=True)))
    return [(tenant, subscription, billing.standing(tenant.id), used)
            for tenant, subscription, used in db.session.execute(stmt).tuples()]


def get_tenant(tenant_id: int) -> Tenant:
    tenant = db.session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound()
    return tenant


def usage_of(tenant_id: int) -> TenantUsage | None:
    return db.session.get(TenantUsage, tenant_id)


def actions(tenant_id: int, limit: int = 50) -> list[OperatorAction]:
    return list(db.session.scalars(select(OperatorAction).where(OperatorAction.tenant_id == tenant_id)
                                   .order_by(OperatorAction.id.desc()).limit(limit)))


def billing_events(tenant_id: int, limit: int = 20) -> list[BillingEvent]:
    """The newest events of the platform's Stripe account about the tenant (known once handled)."""
    return list(db.session.scalars(select(BillingEvent).where(BillingEvent.tenant_id == tenant_id)
                                   .order_by(BillingEvent.id.desc()).limit(limit)))


def suspend(operator: Account, tenant: Tenant, ip: str | None) -> None:
    _set_status(operator, tenant, "suspended", ip)


def restore(operator: Account, tenant: Tenant, ip: str | None) -> None:
    _set_status(operator, tenant, "active", ip)


def _set_status(operator: Account, tenant: Tenant, status: str, ip: str | None) -> None:
    before = tenant.status
    set_status(tenant, status)
    _audit(operator, tenant.id, "suspend" if status == "suspended" else "restore", {"status": [before, status]}, ip)


def extend_trial(operator: Account, tenant: Tenant, raw_days, ip: str | None) -> None:
    days = whole_number(raw_days, "days", 1, MAX_TRIAL_DAYS)
    _audit(operator, tenant.id, "extend_trial", billing.extend_trial(tenant.id, days), ip)


def change_plan(operator: Account, tenant: Tenant, plan_key: str, ip: str | None) -> None:
    """Put the tenant on a plan by hand; SMS its old plan held are handed over again (the new one may allow them)."""
    plan = db.session.scalar(select(Plan).where(Plan.key == (plan_key or ""), Plan.active))
    if plan is None:
        raise Invalid({"plan": _("Choose a plan.")})
    _audit(operator, tenant.id, "change_plan", billing.change_plan(tenant.id, plan), ip)
    enqueue_after_commit(release_held_sms, tenant.id, queue_name="notify")


def grant_operator(email: str) -> Account:
    """Make an account an operator (the CLI); audited as its own act."""
    account = db.session.scalar(select(Account).where(func.lower(Account.email) == email.strip().lower()))
    if account is None:
        raise NotFound()
    if not account.is_operator:
        account.is_operator = True
        _audit(account, None, "grant_operator", {"is_operator": [False, True]}, ip=None)
    return account


def _audit(operator: Account, tenant_id: int | None, action: str, changes: dict, ip: str | None) -> None:
    db.session.add(OperatorAction(account_id=operator.id, operator_email=operator.email, tenant_id=tenant_id,
                                  action=action, changes=changes, ip=ip))
    db.session.flush()

