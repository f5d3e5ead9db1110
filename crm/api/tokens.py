"""Personal API tokens: made on the member's profile and shown once, kept as a SHA-256 hash, named, expiring,
revocable; `authenticate` turns an `Authorization: Bearer` secret back into its tenant, token and member.

A token reads `crm_<tenant id>_<secret>`: the tenant comes from the token itself (no slug in API URLs), in clear
like the tenant id of a signed public link, so finding it needs no table in `public`; the secret (256 random
bits) is what is checked, by its hash, inside that tenant's schema. A hash without salt or stretching is enough
for a random secret of that size (it is not a password anyone chose), and lets the lookup use an index.

An admin's **integration token** acts as a member of its own (`kind` "integration"): the role the admin picked, no
account (nobody signs in as it), no seat; the audit log names it. Revoking the token switches that member off.
One token per integration: a new secret is a new integration."""
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from crm import validation
from crm.api.models import ApiToken
from crm.audit.service import record
from crm.errors import Invalid, NotFound
from crm.extensions import db, utcnow
from crm.members.models import Member, Role

PREFIX = "crm_"
TOKEN = re.compile(r"crm_([1-9][0-9]{0,9})_([A-Za-z0-9_-]{43})")
LIFETIMES = {"30": _l("30 days"), "90": _l("90 days"), "365": _l("A year")}
SEEN_EVERY = timedelta(minutes=1)  # last-used time and address are written at most this often


@dataclass
class NewToken:
    token: ApiToken
    secret: str  # the whole token, shown once and never again


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(member: Member, tenant_id: int, name, lifetime) -> NewToken:
    """A new token of `member`, named and expiring after `lifetime` days (one of LIFETIMES); audited."""
    errors = {}
    name = validation.collect(errors, validation.text, name, "name", 80, required=_("Name the token."))
    days = validation.collect(errors, validation.choice, lifetime, "lifetime", LIFETIMES)
    if errors:
        raise Invalid(errors)
    return _issue(member, tenant_id, name, int(days))


def _issue(member: Member, tenant_id: int, name: str, days: int) -> NewToken:
    secret = f"{PREFIX}{tenant_id}_{secrets.token_urlsafe(32)}"
    token = ApiToken(member_id=member.id, name=name, token_hash=_hash(secret), hint=secret[-4:],
                     expires_at=utcnow() + timedelta(days=days))
    db.session.add(token)
    db.session.flush()
    record("create", "api_token", token.id, summary=name)
    return NewToken(token, secret)


def create_integration(tenant_id: int, name, role_id, lifetime) -> NewToken:
    """An integration: a member of its own with the chosen role (no account, no seat) and its token; audited."""
    errors = {}
    name = validation.collect(errors, validation.text, name, "name", 80, required=_("Name the integration."))
    days = validation.collect(errors, validation.choice, lifetime, "lifetime", LIFETIMES)
    role = db.session.get(Role, validation.record_id(role_id)) if validation.record_id(role_id) else None
    if role is None:
        errors["role_id"] = _("Choose a role.")
    if errors:
        raise Invalid(errors)
    member = Member(kind="integration", account_id=None, role_id=role.id, name=name, email="", active=True)
    db.session.add(member)
    db.session.flush()
    record("create", "integration", member.id, summary=name, changes={"role": [None, role.name]})
    return _issue(member, tenant_id, name, int(days))


def integrations() -> list[ApiToken]:
    """Every integration's token, newest first (revoked and expired ones too), its member and role loaded."""
    return list(db.session.scalars(select(ApiToken).join(Member, Member.id == ApiToken.member_id)
                                   .where(Member.kind == "integration").order_by(ApiToken.id.desc())))


def revoke_integration(token_id: int) -> ApiToken:
    """End an integration at once: its token is revoked and its member switched off; audited."""
    token = db.session.scalar(select(ApiToken).join(Member, Member.id == ApiToken.member_id)
                              .where(ApiToken.id == token_id, Member.kind == "integration"))
    if token is None:
        raise NotFound()
    if token.revoked_at is None:
        token.revoked_at, token.member.active = utcnow(), False
        record("delete", "integration", token.member.id, summary=token.name)
    return token


def tokens_of(member: Member) -> list[ApiToken]:
    """The member's tokens, newest first (revoked and expired ones too, so the list says what happened)."""
    return list(db.session.scalars(select(ApiToken).where(ApiToken.member_id == member.id)
                                   .order_by(ApiToken.id.desc())))


def revoke(member: Member, token_id: int) -> ApiToken:
    """End one of the member's own tokens at once; audited."""
    token = db.session.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.member_id == member.id))
    if token is None:
        raise NotFound()
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record("delete", "api_token", token.id, summary=token.name)
    return token


def tenant_of(secret: str) -> int | None:
    """The tenant id a well-formed token names, else None (nothing is looked up for garbage)."""
    match = TOKEN.fullmatch(secret or "")
    return int(match.group(1)) if match else None


def authenticate(secret: str, ip: str | None) -> ApiToken | None:
    """The live token with this secret in the bound tenant, its member active; notes when and where it was used."""
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(secret)))
    now = utcnow()
    if token is None or not token.usable(now) or not token.member.active:
        return None
    if token.last_used_at is None or now - token.last_used_at > SEEN_EVERY or token.last_used_ip != ip:
        token.last_used_at, token.last_used_ip = now, ip
    return token
