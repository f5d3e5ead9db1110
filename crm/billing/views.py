"""Settings > Billing: the plan, its state and dates, a bar per limit; the banner above every page while billing
needs attention; and the one place that refuses every write of a read-only workspace."""
from flask_babel import lazy_gettext as _l

from crm import registry
from crm.billing import service, usage
from crm.members.access import require
from crm.web import render
from tenants.resolver import member_bound, tenant_blueprint

bp = tenant_blueprint("billing", __name__, "/settings/billing")


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
    return render("billing/index.html", standing=standing, bars=bars, held_sms=usage.sms_held(),
                  banner=service.banner(standing), megabytes=service.megabytes)
