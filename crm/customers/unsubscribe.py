"""Marketing opt-out: the signed unsubscribe link in every campaign message, and what it does.

The link is `/u/<tenant id>.<customer id>.<signature>` (crm/public_links.py, purpose "unsubscribe"), so nobody
can make a link for another customer or tenant, and a changed character is a 404.
Opening the link shows a confirmation page (mail scanners that follow links unsubscribe nobody); the button
posts and sets `customers.marketing_opt_out_at`. From then on no campaign reaches the customer: campaigns
leave them out when queueing, and the send job refuses a campaign message to them (the check this module gives
crm/notify/rules.py)."""
from contextlib import nullcontext

from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from crm import public_links, registry
from crm.audit.service import record
from crm.customers.models import Customer
from crm.extensions import db, utcnow
from crm.notify import rules
from crm.web import absolute_url
from tenants.binding import tenant_bound
from tenants.resolver import TenantRef, tenant_by_id

public = Blueprint("unsubscribe", __name__, url_prefix="/u")
registry.plug(public, registry.AuditEntity("customer", fields={"marketing_opt_out": _l("Campaign messages")}))

PURPOSE = "unsubscribe"
LANGUAGES = ("en", "zh")


# ---- the token and the link ------------------------------------------------------------------------------

def token_for(tenant_id: int, customer_id: int) -> str:
    return public_links.make_token(PURPOSE, tenant_id, customer_id)


def read_token(token: str) -> tuple[int, int] | None:
    """(tenant id, customer id) of a token whose signature is right, else None."""
    return public_links.read_token(PURPOSE, token, 2)


def unsubscribe_url(tenant_id: int, customer_id: int, language: str = "en") -> str:
    """The absolute link for a message (built without a request: jobs call this)."""
    other = {"lang": language} if language in LANGUAGES and language != "en" else {}
    return absolute_url("unsubscribe.show", token=token_for(tenant_id, customer_id), **other)


# ---- what the link does ------------------------------------------------------------------------------------

@rules.refuses_customers
def deleted_or_opted_out(customer_id: int, marketing: bool) -> str | None:
    """The outbox's question about a customer: gone, or opted out of marketing messages?"""
    customer = db.session.get(Customer, customer_id)
    if customer is None or customer.deleted_at is not None:
        return "customer deleted"
    if marketing and customer.marketing_opt_out_at is not None:
        return "opted out"
    return None


def opt_out(customer: Customer, how: str = "link") -> bool:
    """Stop marketing messages to the customer (audited); False when they had already opted out."""
    if customer.marketing_opt_out_at is not None:
        return False
    customer.marketing_opt_out_at = utcnow()
    record("update", "customer", customer.id, summary=customer.name,
           changes={"marketing_opt_out": [None, f"unsubscribed ({how})"]})
    return True


# ---- the public pages ----------------------------------------------------------------------------------------

def _page(tenant: TenantRef, token: str, done: bool, language: str):
    with force_locale(language) if language else nullcontext():
        html = render_template("customers/unsubscribe.html", tenant_name=tenant.name, done=done,
                               action=url_for("unsubscribe.confirm", token=token, lang=language or None))
    return public_links.private_answer(html)


def _resolve(token: str):
    """The tenant and customer id of a good token; 404 for anything else (tampered, unknown, purged). A
    suspended workspace's customers may still unsubscribe."""
    parts = read_token(token)
    tenant = tenant_by_id(parts[0]) if parts else None
    if tenant is None:
        abort(404)
    return tenant, parts[1]


def _language() -> str:
    language = request.args.get("lang", "")
    return language if language in LANGUAGES else ""


@public.get("/<token>", endpoint="show")
def show(token: str):
    """Ask before unsubscribing (link checkers in mail systems only GET)."""
    tenant, customer_id = _resolve(token)
    with tenant_bound(tenant):
        customer = db.session.get(Customer, customer_id)
        if customer is None:
            abort(404)
        done = customer.marketing_opt_out_at is not None
    return _page(tenant, token, done, _language())


@public.post("/<token>", endpoint="confirm")
def confirm(token: str):
    """Unsubscribe: no more campaign messages from this workspace."""
    tenant, customer_id = _resolve(token)
    with tenant_bound(tenant):
        customer = db.session.scalar(select(Customer).where(Customer.id == customer_id).with_for_update(of=Customer))
        if customer is None:
            abort(404)
        opt_out(customer)
    return _page(tenant, token, True, _language())
