"""Accounts: sign-up, sign-in, passwords (reset, change), language; sessions are in sessions.py."""
from functools import cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from crm import validation
from crm.accounts import sessions
from crm.accounts.models import Account
from crm.billing.service import start_subscription
from crm.errors import Invalid
from crm.extensions import db
from crm.jobs import refill_spares_after_commit
from crm.members.service import add_first_admin
from crm.security.events import security_event
from crm.settings import put_settings_in
from crm.workspace_settings.service import clean_places
from tenants.models import Membership, Tenant
from tenants.provisioning import provision_tenant
from tenants.service import slug_taken
from tenants.slugs import slug_problem, suggest_slug

RESET_MAX_AGE = 3600
MIN_PASSWORD = 8


@cache
def _hasher(profile: str) -> tuple[PasswordHasher, str]:
    """argon2id with the named cost profile, and a hash to verify against when the email is unknown (so both
    answers take the same time)."""
    hasher = PasswordHasher.from_parameters(getattr(profiles, profile))
    return hasher, hasher.hash("not a real password")


def hasher() -> PasswordHasher:
    """The password hasher at the configured cost (`ARGON2_PROFILE`; the test suite uses the cheapest)."""
    return _hasher(current_app.config["ARGON2_PROFILE"])[0]


def _unknown_email_hash() -> str:
    return _hasher(current_app.config["ARGON2_PROFILE"])[1]


def hash_password(password: str) -> str:
    return hasher().hash(password)


def find_account(email: str) -> Account | None:
    email = validation.clipped(email, 254).lower()  # what sign-in typed: a NUL must not reach the query
    return db.session.scalar(select(Account).where(Account.email == email)) if email else None


def slug_message(slug: str) -> str | None:
    """Why a workspace address cannot be used, in the user's language; None when it is free."""
    problem = slug_problem(slug)
    if problem == "format":
        return _("Use 3-40 lower-case letters, digits and dashes, starting and ending with a letter or digit.")
    if problem == "reserved":
        return _("This address is reserved. Please choose another.")
    if slug_taken(slug):
        return _("This address is taken. Please choose another.")
    return None


def suggested_slug(company: str) -> str:
    """The address suggested for a company (tenants/slugs.py), numbered (-2, -3 ...) past addresses taken."""
    stem = suggest_slug(company)
    candidates = [stem, *(f"{stem[:37].rstrip('-')}-{n}" for n in range(2, 10))]
    return next((slug for slug in candidates if not slug_taken(slug)), stem)


def sign_up(company: str, slug: str, name: str, email: str, password: str, language: str,
            places: dict | None = None) -> tuple[Account, Tenant]:
    """Create a company's workspace with its first admin; an existing account must give its password. `places`:
    the workspace's language, country, currency and time zone (else the defaults)."""
    errors = {}
    if message := slug_message(slug):
        errors["slug"] = message
    settings = clean_places(places, errors) if places is not None else None
    company = validation.collect(errors, validation.text, company, "company", 120, required=True)
    name = validation.collect(errors, validation.text, name, "name", 120, required=True)
    email = validation.normalise_email(email, required=True)
    account = find_account(email)
    if account is not None and not password_matches(account, password):
        errors["email"] = _("This email already has an account. Enter its password to add a workspace to it.")
    if errors:
        raise Invalid(errors)
    if account is None:
        check_password_strength(password)
        account = create_account(email, name, password, language)
    return account, create_workspace(company, slug, account, settings)


def create_workspace(company: str, slug: str, admin: Account, settings: dict | None = None) -> Tenant:
    """A new tenant with `admin` as its first member and `settings` over the default ones, in the current
    transaction; the spare schema it may have taken is replaced after commit."""
    tenant = provision_tenant(company, slug)
    add_first_admin(tenant.schema, admin)
    if settings:
        put_settings_in(tenant.schema, settings)
    db.session.add(Membership(account_id=admin.id, tenant_id=tenant.id))
    start_subscription(tenant.id)
    refill_spares_after_commit()
    return tenant


def create_account(email: str, name: str, password: str, language: str) -> Account:
    account = Account(email=email, name=name.strip()[:120], password_hash=hash_password(password), language=language)
    db.session.add(account)
    db.session.flush()
    return account


def check_password_strength(password: str, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid({field: _("Use at least %(n)d characters.", n=MIN_PASSWORD)})


def password_matches(account: Account, password: str) -> bool:
    try:
        return hasher().verify(account.password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def authenticate(email: str, password: str) -> Account | None:
    """The account for these credentials, or None; unknown emails cost the same time as wrong passwords."""
    account = find_account(email)
    if account is None:
        password_matches(Account(password_hash=_unknown_email_hash()), password)
        return None
    if not password_matches(account, password):
        return None
    if hasher().check_needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    return account


def workspaces_of(account: Account) -> list[Tenant]:
    """The tenants this account belongs to, by name."""
    stmt = (select(Tenant).join(Membership, Membership.tenant_id == Tenant.id)
            .where(Membership.account_id == account.id).order_by(Tenant.name))
    return list(db.session.scalars(stmt))


def _reset_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="password-reset")


def reset_token(account: Account) -> str:
    """A signed token that works once: it carries a fingerprint of the current password hash."""
    return _reset_serializer().dumps({"a": account.id, "h": account.password_hash[-12:]})


def account_for_reset(token: str) -> Account | None:
    try:
        data = _reset_serializer().loads(token, max_age=RESET_MAX_AGE)
    except (BadSignature, SignatureExpired):
        return None
    account = db.session.get(Account, data.get("a"))
    if account is None or account.password_hash[-12:] != data.get("h"):
        return None
    return account


def request_password_reset(email: str, reset_url) -> None:
    """Email a reset link if the account exists; the caller answers the same either way."""
    from crm.notify.email import queue_email

    account = find_account(email)
    if account is None:
        return
    link = reset_url(reset_token(account))
    body = _("Hello %(name)s,\n\nOpen this link within an hour to choose a new password:\n%(link)s\n\n"
             "If you did not ask for it, ignore this email.", name=account.name, link=link)
    queue_email(account.email, _("Reset your CRM password"), body)


def reset_password(account: Account, password: str) -> None:
    """A new password from an emailed link: every session of the account ends (the reset signs in anew)."""
    check_password_strength(password)
    account.password_hash = hash_password(password)
    sessions.end_all_sessions(account)


def change_password(account: Account, current: str, new: str) -> None:
    """A new password, given the current one: every other session of the account ends, this one stays."""
    if not password_matches(account, current):
        security_event("password_change_refused")  # a wrong current password: someone else at an open session?
        raise Invalid({"current_password": _("This is not your current password.")})
    check_password_strength(new, "new_password")
    account.password_hash = hash_password(new)
    sessions.end_other_sessions(account)


def set_language(account: Account | None, language: str) -> None:
    if account is not None:
        account.language = language
