"""Marketing opt-out: the signed unsubscribe link in every campaign message, and what it does.

The link is `/u/<tenant id>.<customer id>.<signature>` (crm/public_links.py, purpose "unsubscribe"), or for a
contact written to on the customer's behalf `/u/<tenant id>.<customer id>.<contact id>.<signature>`, so nobody
can make a link for another customer, contact or tenant, and a changed character is a 404.
Opening the link shows a confirmation page (mail scanners that follow links unsubscribe nobody); the button
posts and sets `marketing_opt_out_at` on the customer or the contact. From then on no campaign reaches them:
campaigns leave them out when queueing, and the send job refuses a campaign message to them (the check this module
gives crm/notify/rules.py)."""
from contextlib import nullcontext

from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from crm import public_links, registry
from crm.audit.service import record
from crm.contacts.models import Contact
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

def token_for(tenant_id: int, customer_id: int, contact_id: int | None = None) -> str:
    ids = (tenant_id, customer_id) if contact_id is None else (tenant_id, customer_id, contact_id)
    return public_links.make_token(PURPOSE, *ids)


def read_token(token: str) -> tuple[int, int] | tuple[int, int, int] | None:
    """(tenant id, customer id[, contact id]) of a token whose signature is right, else None."""
    return public_links.read_token(PURPOSE, token, 2) or public_links.read_token(PURPOSE, token, 3)


def unsubscribe_url(tenant_id: int, customer_id: int, language: str = "en", contact_id: int | None = None) -> str:
    """The absolute link for a message (built without a request: jobs call this); a contact's own with
    `contact_id`."""
    other = {"lang": language} if language in LANGUAGES and language != "en" else {}
    return absolute_url("unsubscribe.show", token=token_for(tenant_id, customer_id, contact_id), **other)


# ---- what the link does ------------------------------------------------------------------------------------

@rules.refuses_customers
def deleted_or_opted_out(customer_id: int, marketing: bool, contact_id: int | None = None) -> str | None:
    """The outbox's question about a customer (and the contact written to on its behalf): gone, or opted out of
    marketing messages?"""
    customer = db.session.get(Customer, customer_id)
    if customer is None or customer.deleted_at is not None:
        return "customer deleted"
    if marketing and customer.marketing_opt_out_at is not None:
        return "opted out"
    if contact_id is not None:
        contact = db.session.get(Contact, contact_id)
        if contact is None or contact.customer_id != customer_id:
            return "contact removed"
        if marketing and contact.marketing_opt_out_at is not None:
            return "opted out"
    return None


def opt_out(person: Customer | Contact, how: str = "link") -> bool:
    """Stop marketing messages to the customer or contact (audited); False when they had already opted out."""
    if person.marketing_opt_out_at is not None:
        return False
    person.marketing_opt_out_at = utcnow()
    record("update", "contact" if isinstance(person, Contact) else "customer", person.id, summary=person.name,
           changes={"marketing_opt_out": [None, f"unsubscribed ({how})"]})
    return True


# ---- the public pages ----------------------------------------------------------------------------------------

def _page(tenant: TenantRef, token: str, done: bool, language: str):
    with force_locale(language) if language else nullcontext():
        html = render_template("customers/unsubscribe.html", tenant_name=tenant.name, done=done,
                               action=url_for("unsubscribe.confirm", token=token, lang=language or None))
    return public_links.private_answer(html)


def _resolve(token: str):
    """The tenant and (customer id, contact id or None) of a good token; 404 for anything else (tampered,
    unknown, purged). A suspended workspace's customers may still unsubscribe."""
    parts = read_token(token)
    tenant = tenant_by_id(parts[0]) if parts else None
    if tenant is None:
        abort(404)
    return tenant, (parts[1], parts[2] if len(parts) == 3 else None)


def _person(ids: tuple[int, int | None], lock: bool = False) -> Customer | Contact:
    """The customer, or its contact, a link names; 404 when gone (or the contact is no longer the customer's)."""
    customer_id, contact_id = ids
    model, wanted = (Customer, customer_id) if contact_id is None else (Contact, contact_id)
    stmt = select(model).where(model.id == wanted)
    person = db.session.scalar(stmt.with_for_update(of=model) if lock else stmt)
    if person is None or (contact_id is not None and person.customer_id != customer_id):
        abort(404)
    return person


def _language() -> str:
    language = request.args.get("lang", "")
    return language if language in LANGUAGES else ""


@public.get("/<token>", endpoint="show")
def show(token: str):
    """Ask before unsubscribing (link checkers in mail systems only GET)."""
    tenant, ids = _resolve(token)
    with tenant_bound(tenant):
        done = _person(ids).marketing_opt_out_at is not None
    return _page(tenant, token, done, _language())


@public.post("/<token>", endpoint="confirm")
def confirm(token: str):
    """Unsubscribe: no more campaign messages from this workspace."""
    tenant, ids = _resolve(token)
    with tenant_bound(tenant):
        opt_out(_person(ids, lock=True))
    return _page(tenant, token, True, _language())
