"""Signed public links: pages anyone holding the link may open without signing in (the order status page
`/o/<token>`, the unsubscribe page `/u/<token>`, a closed ticket's satisfaction page `/s/<token>`, a member's
calendar feed `/cal/<token>.ics`, an order's payment `/o/<token>/pay`, a workspace's Stripe webhook
`/stripe/<token>/webhook`).

A token is `<id>.<id>....<signature>`: record ids in clear, the tenant's first so the page can find the
tenant before binding it, then an HMAC-SHA256 under the app's SECRET_KEY (43 URL-safe characters) of
`<purpose>:<ids joined by dots>[.<nonce>]`. The purpose separates the links: a token made for one purpose
never verifies for another. A link that can be replaced or revoked also signs a nonce stored on its record
(orders.link_nonce), so a new nonce ends the old link. Signatures are compared in constant time. Links already
sent in emails and SMS use exactly this format, so changing it would break them."""
import base64
import hashlib
import hmac
import re

from flask import current_app, make_response

from crm.validation import record_id
from tenants.resolver import TenantRef, tenant_by_id

PURPOSE = re.compile(r"[a-z][a-z-]*")
SIGNATURE = r"[A-Za-z0-9_-]{43}"


def _signature(purpose: str, ids: tuple[int, ...], nonce: str) -> str:
    if not PURPOSE.fullmatch(purpose):  # no ":" or ".", so one purpose's message is never another's
        raise ValueError(f"bad link purpose {purpose!r}")
    key = current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else key
    message = f"{purpose}:" + ".".join([*map(str, ids), *([nonce] if nonce else [])])
    mac = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def make_token(purpose: str, *ids: int, nonce: str = "") -> str:
    """The token of a link for `purpose` naming these record ids (tenant first)."""
    return ".".join(map(str, ids)) + "." + _signature(purpose, ids, nonce)


def parse_token(token: str, count: int) -> tuple[tuple[int, ...], str] | None:
    """(ids, signature) of a well-formed token with `count` ids, else None; nothing is verified yet."""
    match = re.fullmatch(r"\.".join([r"([1-9]\d{0,9})"] * count + [f"({SIGNATURE})"]), token or "")
    if not match:
        return None
    ids = tuple(record_id(part) for part in match.groups()[:-1])
    return (ids, match[count + 1]) if None not in ids else None


def is_signed(purpose: str, ids: tuple[int, ...], signature: str, nonce: str = "") -> bool:
    """Whether `signature` was made for `purpose`, these ids and nonce."""
    return hmac.compare_digest(_signature(purpose, ids, nonce), signature)


def read_token(purpose: str, token: str, count: int) -> tuple[int, ...] | None:
    """The ids of a token signed for `purpose` without a nonce, else None."""
    parsed = parse_token(token, count)
    if parsed is None or not is_signed(purpose, *parsed):
        return None
    return parsed[0]


def tenant_link(token: str) -> tuple[TenantRef, int, str] | None:
    """(active tenant, record id, signature) of a well-formed `<tenant id>.<record id>.<signature>` token, else
    None; the caller checks the signature against the record's nonce once the tenant is bound."""
    parsed = parse_token(token, 2)
    if parsed is None:
        return None
    (tenant_id, record), signature = parsed
    tenant = tenant_by_id(tenant_id)
    return (tenant, record, signature) if tenant is not None and tenant.active else None


def private_answer(body, status: int = 200):
    """A public link's page: kept by no cache and indexed by no search engine (the link is the only key)."""
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
