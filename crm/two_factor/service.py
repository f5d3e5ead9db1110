"""Two-step sign-in: TOTP (RFC 6238, 30-second steps, one step of clock drift either way), one-time recovery codes,
remembered devices, and the workspace setting that requires it.

The secret is stored encrypted (crm/crypto.py, bound to the account). Recovery codes are 50 random bits each, stored
as an HMAC-SHA256 under FIELD_INDEX_KEY (crm.crypto.blind_index), not argon2: guessing one is as hard as guessing 50
random bits, the key is not in the database, and a fast hash finds the code with one indexed query where argon2
would verify ten hashes (over a second) on every attempt."""
import hashlib
import hmac
import secrets
import time

import pyotp
from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, func, or_, select, update

from crm import crypto
from crm.accounts.models import Account
from crm.accounts.service import password_matches
from crm.audit.service import record, record_in
from crm.errors import Invalid
from crm.extensions import db, utcnow
from crm.members.models import Member
from crm.settings import get_setting, put_setting
from crm.two_factor.models import RecoveryCode, TwoFactor
from tenants.models import Membership, schema_name
from tenants.roles import acting_as

ISSUER = "CRM"
RECOVERY_CODES = 10
REMEMBER_DAYS = 30
DEVICE_COOKIE = "crm_device"
PENDING = "two_factor_pending"  # session key: the account between its password and its code, not signed in
PENDING_SECONDS = 600  # how long the code step waits before the password must be given again
REQUIRED = "require_two_factor"  # the workspace setting
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # 32 letters and digits, none to mistake for another (l/1, o/0)


def new_secret() -> str:
    """160 random bits in base32, as authenticator apps take them."""
    return pyotp.random_base32()


def provisioning_uri(account: Account, secret: str) -> str:
    """The otpauth:// link the QR code carries."""
    return pyotp.TOTP(secret).provisioning_uri(name=account.email, issuer_name=ISSUER)


def seal_pending(account: Account, secret: str) -> str:
    """The secret being set up, encrypted for keeping in the session until the first code confirms it."""
    return crypto.encrypt(secret, f"public:two_factor.pending:{account.id}")


def open_pending(account: Account, token: str | None) -> str | None:
    try:
        return crypto.decrypt(token, f"public:two_factor.pending:{account.id}") if token else None
    except (ValueError, crypto.UnknownKey):
        return None  # another account's, or under a key since removed: a new secret is shown instead


def second_factor(account: Account) -> TwoFactor | None:
    return account.second_factor


def recovery_codes_left(account: Account) -> int:
    return db.session.scalar(select(func.count(RecoveryCode.id)).where(
        RecoveryCode.account_id == account.id, RecoveryCode.used_at.is_(None)))


def enable(account: Account, secret: str, code: str) -> list[str]:
    """Turn two-step sign-in on once `code` shows the app has the secret; returns the recovery codes, which are
    shown this once and stored hashed. Every workspace of the account logs it."""
    step = _matching_step(secret, code)
    if step is None:
        raise Invalid({"code": _("That code does not match. Check the time on your phone and try the newest code.")})
    db.session.execute(select(Account.id).where(Account.id == account.id).with_for_update())  # a double submit waits
    if db.session.scalar(select(TwoFactor.account_id).where(TwoFactor.account_id == account.id)) is not None:
        raise Invalid({"code": _("Two-step sign-in is already on.")})
    db.session.add(TwoFactor(account_id=account.id, secret=_seal(account, secret), last_step=step))
    codes = _new_recovery_codes(account)
    _log_everywhere(account, "update", {"two_factor": [False, True]})
    return codes


def disable(account: Account, proof: str) -> None:
    """Turn two-step sign-in off, given the account's password or a current code; remembered devices are forgotten
    with it (their cookies name the time it was turned on)."""
    factor = second_factor(account)
    if factor is None:
        raise Invalid({"proof": _("Two-step sign-in is already off.")})
    if not password_matches(account, proof) and use_code(account, proof) is None:
        raise Invalid({"proof": _("That is neither your password nor a valid code.")})
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id))
    db.session.delete(factor)
    _log_everywhere(account, "update", {"two_factor": [True, False]})


def use_code(account: Account, code: str) -> str | None:
    """Accept a code once: "app" for a TOTP code, "recovery" for a recovery code (its use logged in every workspace);
    None when it is wrong. Each is marked used in the same UPDATE that checks it, so two requests racing with one
    code cannot both pass."""
    factor = second_factor(account)
    typed = "".join((code or "").split())
    if factor is None or not typed or len(typed) > 20:
        return None
    if _looks_like_app_code(typed):
        step = _matching_step(_open(account, factor.secret), typed)
        return "app" if step is not None and _take_step(account, step) else None
    used = db.session.execute(
        update(RecoveryCode).where(RecoveryCode.account_id == account.id, RecoveryCode.used_at.is_(None),
                                   RecoveryCode.code_hash == _recovery_hash(account, typed))
        .values(used_at=utcnow())).rowcount
    if not used:
        return None
    left = recovery_codes_left(account)
    _log_everywhere(account, "update", {"recovery_codes": [left + 1, left]})
    return "recovery"


def code_was_used(account: Account, code: str) -> bool:
    """Whether a refused TOTP code is the one already accepted (so the message can say to wait for the next)."""
    factor = second_factor(account)
    typed = "".join((code or "").split())
    if factor is None or not _looks_like_app_code(typed) or factor.last_step is None:
        return False
    step = _matching_step(_open(account, factor.secret), typed)
    return step is not None and step <= factor.last_step


def _matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose code `code` is, within one step of now either way (clock drift), or None."""
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // totp.interval)
    code = "".join((code or "").split())
    if not _looks_like_app_code(code):
        return None
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _looks_like_app_code(typed: str) -> bool:
    """Digits only (ASCII: other scripts' digits are digits to isdigit(), and compare_digest takes ASCII only)."""
    return typed.isascii() and typed.isdigit()


def _take_step(account: Account, step: int) -> bool:
    """Record `step` as used unless it, or a later one, already was."""
    taken = db.session.execute(
        update(TwoFactor).where(TwoFactor.account_id == account.id,
                                or_(TwoFactor.last_step.is_(None), TwoFactor.last_step < step))
        .values(last_step=step)).rowcount
    return bool(taken)


def _seal(account: Account, secret: str) -> str:
    return crypto.encrypt(secret, f"public:two_factor.secret:{account.id}")


def _open(account: Account, token: str) -> str:
    return crypto.decrypt(token, f"public:two_factor.secret:{account.id}")


def _recovery_hash(account: Account, code: str) -> str:
    return crypto.blind_index(code, f"recovery:{account.id}")


def _new_recovery_codes(account: Account) -> list[str]:
    codes = []
    for _n in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _i in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    db.session.add_all(RecoveryCode(account_id=account.id, code_hash=_recovery_hash(account, code)) for code in codes)
    db.session.flush()
    return codes


def rotate_secrets() -> int:
    """Re-encrypt every TOTP secret still under an older FIELD_KEYS key; how many were."""
    done = 0
    for factor in db.session.scalars(select(TwoFactor)):
        if crypto.needs_rotation(factor.secret):
            account = db.session.get(Account, factor.account_id)
            factor.secret = _seal(account, _open(account, factor.secret))
            done += 1
    return done


# Remembered devices: a signed cookie naming the account and a fingerprint of its password hash and of when two-step
# sign-in was turned on, so a password change or turning it off and on again forgets every remembered device.

def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="remember-device")


def _fingerprint(account: Account, factor: TwoFactor) -> str:
    turned_on = f"{factor.enabled_at.timestamp():.6f}"  # not isoformat(): the same instant, whatever its zone
    return hashlib.sha256(f"{account.password_hash}\0{turned_on}".encode()).hexdigest()[:24]


def remember_token(account: Account) -> str:
    return _device_serializer().dumps({"a": account.id, "f": _fingerprint(account, second_factor(account))})


def code_needed(account: Account, device_token: str | None) -> bool:
    """Whether sign-in must ask for a code: the account has a second factor and this device is not remembered."""
    factor = second_factor(account)
    if factor is None:
        return False
    try:
        data = _device_serializer().loads(device_token or "", max_age=REMEMBER_DAYS * 86400)
    except BadSignature:  # forged, or older than 30 days (SignatureExpired is a BadSignature)
        return True
    return not (isinstance(data, dict) and data.get("a") == account.id
                and hmac.compare_digest(str(data.get("f")), _fingerprint(account, factor)))


# The workspace setting (in the bound tenant).

def required_here() -> bool:
    return bool(get_setting(REQUIRED, False))


def set_required(required: bool) -> None:
    """Require (or stop requiring) two-step sign-in of every member of the bound workspace; logged."""
    before = required_here()
    if before != required:
        put_setting(REQUIRED, required)
        record("update", "settings", summary=_("Security"), changes={REQUIRED: [before, required]})


def members_without(members: list[Member]) -> list[Member]:
    """Those of `members` whose accounts have no second factor yet."""
    enabled = set(db.session.scalars(select(TwoFactor.account_id).where(
        TwoFactor.account_id.in_([m.account_id for m in members]))))
    return [m for m in members if m.account_id not in enabled]


def must_enrol(account: Account) -> bool:
    """Whether the bound workspace turns this account away until it sets up two-step sign-in."""
    return second_factor(account) is None and required_here()


def _log_everywhere(account: Account, action: str, changes: dict) -> None:
    """A second factor belongs to the account, so the log of each workspace it is a member of gets the entry, in
    this transaction, with the account's member there as the actor."""
    tenant_ids = db.session.scalars(select(Membership.tenant_id).where(Membership.account_id == account.id))
    for tenant_id in list(tenant_ids):
        with acting_as(schema_name(tenant_id)) as in_schema:  # the login role has no rights in tenant schemas
            member = db.session.execute(select(Member.id, Member.name).where(Member.account_id == account.id),
                                        execution_options=in_schema).first()
            if member is not None:
                record_in(schema_name(tenant_id), action, "member", member.id, summary=member.name,
                          changes=changes, actor=member)
