"""Two-step sign-in: enrolment with a QR code, the code step of sign-in, recovery codes, remembered devices, the
workspace requirement, throttling and the audit log."""
import re
import time
from urllib.parse import quote

import pyotp
import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select

from crm.audit.models import AuditEntry
from crm.extensions import db
from crm.two_factor.models import RecoveryCode, TwoFactor

PASSWORD = "password-123"


def email_of(tenant) -> str:
    return f"admin@{tenant.slug}.example"


def enrol(client) -> tuple[str, list[str]]:
    """Set up two-step sign-in from the page as a user would: read the key, type the app's code. Returns the key
    and the recovery codes shown."""
    page = client.get("/account/two-factor")
    assert page.status_code == 200 and 'src="data:image/svg+xml' in page.text
    secret = re.search(r'id="secret">([A-Z2-7]+)<', page.text).group(1)
    shown = client.post("/account/two-factor", data={"code": pyotp.TOTP(secret).now()})
    assert shown.status_code == 200 and "Two-step sign-in is on" in shown.text
    assert shown.headers["Cache-Control"] == "no-store"
    codes = re.findall(r"<code>([a-z0-9]{5}-[a-z0-9]{5})</code>", shown.text)
    return secret, codes


def next_code(secret: str) -> str:
    """The code of the next time step: enrolment used this step's, and each step works once."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def wrong_code(secret: str) -> str:
    """A code that matches none of the steps the server accepts."""
    totp, now = pyotp.TOTP(secret), time.time()
    window = {totp.at(now + offset) for offset in (-60, -30, 0, 30, 60)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in window)


def password_step(client, tenant, query: str = ""):
    return client.post(f"/login{query}", data={"email": email_of(tenant), "password": PASSWORD})


@pytest.fixture
def enrolled(app, make_tenant, client_as):
    """A workspace whose admin has set up two-step sign-in: (tenant, secret, recovery codes)."""
    tenant = make_tenant()
    secret, codes = enrol(client_as(tenant.admin_account_id))
    return tenant, secret, codes


def test_enrolment_stores_the_secret_encrypted_and_recovery_codes_hashed(app, make_tenant, client_as):
    tenant = make_tenant()
    client = client_as(tenant.admin_account_id)
    for typed in ("123456", "١٢٣٤٥٦"):
        wrong = client.post("/account/two-factor", data={"code": typed})
        assert wrong.status_code == 422 and "That code does not match" in wrong.text
    secret, codes = enrol(client)
    assert len(codes) == 10 and len(set(codes)) == 10
    with app.app_context():
        stored = db.session.get(TwoFactor, tenant.admin_account_id)
        hashes = db.session.scalars(select(RecoveryCode.code_hash).where(
            RecoveryCode.account_id == tenant.admin_account_id)).all()
    assert secret not in stored.secret and stored.secret.startswith("dev:")
    assert len(hashes) == 10 and not {c.replace("-", "") for c in codes} & {h.lower() for h in hashes}
    manage = client.get("/account/two-factor")
    assert "10 recovery codes left." in manage.text and 'id="secret"' not in manage.text


def test_sign_in_asks_for_the_code_and_keeps_next(enrolled, app):
    tenant, secret, _codes = enrolled
    client = app.test_client()
    target = f"/{tenant.slug}/customers/"
    password = password_step(client, tenant, f"?next={quote(target)}")
    assert password.status_code == 303 and password.headers["Location"].startswith("/login/code?next=")
    assert client.get(target).status_code == 302  # not signed in yet: the password alone opens nothing
    step = client.get(password.headers["Location"])
    assert "Enter the 6-digit code" in step.text
    signed_in = client.post(password.headers["Location"], data={"code": next_code(secret)})
    assert signed_in.status_code == 303 and signed_in.headers["Location"] == target
    assert client.get(target).status_code == 200


def test_a_wrong_code_says_so_and_a_replayed_code_is_refused(enrolled, app):
    tenant, secret, _codes = enrolled
    client = app.test_client()
    password_step(client, tenant)
    wrong = client.post("/login/code", data={"code": wrong_code(secret)})
    assert wrong.status_code == 422 and "That code is not right." in wrong.text
    for hostile in ("١٢٣٤٥٦", "12\x0134", "x" * 40):  # Arabic-Indic digits, a control character, a long string
        assert client.post("/login/code", data={"code": hostile}).status_code == 422
    assert client.post("/login/code", data={"code": "12\x0034"}).status_code == 400  # a NUL: the input layer's page
    code = next_code(secret)
    assert client.post("/login/code", data={"code": code}).status_code == 303
    thief = app.test_client()  # someone who saw the code, a moment later
    password_step(thief, tenant)
    replay = thief.post("/login/code", data={"code": code})
    assert replay.status_code == 422 and "This code was already used. Wait for the next one." in replay.text
    assert thief.get(f"/{tenant.slug}/").status_code == 302


def test_a_recovery_code_works_once(enrolled, app, in_tenant):
    tenant, _secret, codes = enrolled
    client = app.test_client()
    password_step(client, tenant)
    used = client.post("/login/code", data={"code": codes[0].upper().replace("-", " ")}, follow_redirects=True)
    assert "You signed in with a recovery code; 9 left." in used.text
    again = app.test_client()
    password_step(again, tenant)
    refused = again.post("/login/code", data={"code": codes[0]})
    assert refused.status_code == 422 and "That code is not right." in refused.text
    entries = in_tenant(tenant, lambda: db.session.scalars(select(AuditEntry.changes).where(
        AuditEntry.entity == "member", AuditEntry.changes.has_key("recovery_codes"))).all())
    assert entries == [{"recovery_codes": [10, 9]}]


def test_remembered_device_skips_the_code_step(enrolled, app):
    tenant, secret, _codes = enrolled
    client = app.test_client()
    password_step(client, tenant)
    answer = client.post("/login/code", data={"code": next_code(secret), "remember": "y"})
    cookie = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith("crm_device="))
    assert "HttpOnly" in cookie and "Path=/login" in cookie and "Secure" not in cookie  # plain http in development
    assert "Max-Age=2592000" in cookie and "SameSite=Lax" in cookie
    client.post("/logout")
    again = password_step(client, tenant)
    assert again.status_code == 303 and again.headers["Location"] == "/"
    assert client.get(f"/{tenant.slug}/").status_code == 200


def test_a_forged_expired_or_other_accounts_device_cookie_still_asks_for_the_code(enrolled, app, make_tenant,
                                                                                  client_as, monkeypatch):
    from crm.two_factor import service

    tenant, _secret, _codes = enrolled
    with app.test_request_context():
        account = db.session.get(service.Account, tenant.admin_account_id)
        genuine = service.remember_token(account)
        with monkeypatch.context() as patched:  # made 31 days ago
            patched.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 31 * 86400)
            expired = service.remember_token(account)
    forged = genuine[:-3] + ("AAA" if not genuine.endswith("AAA") else "BBB")
    other = make_tenant()
    enrol(client_as(other.admin_account_id))
    for token, who, skips in ((genuine, tenant, True), (forged, tenant, False), (expired, tenant, False),
                              (genuine, other, False)):
        client = app.test_client()
        client.set_cookie(service.DEVICE_COOKIE, token, path="/login")
        answer = password_step(client, who)
        assert answer.headers["Location"] == "/" if skips else answer.headers["Location"].startswith("/login/code")


def test_a_password_reset_or_turning_it_off_forgets_remembered_devices(enrolled, app, client_as):
    from crm.accounts import service as accounts
    from crm.two_factor import service

    tenant, secret, _codes = enrolled
    client = app.test_client()
    password_step(client, tenant)
    client.post("/login/code", data={"code": next_code(secret), "remember": "y"})
    with app.test_request_context():
        account = db.session.get(service.Account, tenant.admin_account_id)
        accounts.reset_password(account, "another-password-1")
        db.session.commit()
    client.post("/logout")
    again = client.post("/login", data={"email": email_of(tenant), "password": "another-password-1"})
    assert again.headers["Location"].startswith("/login/code")


def test_reset_link_and_sign_up_do_not_skip_the_code(enrolled, app):
    from crm.accounts import service as accounts
    from tests.conftest import unique

    tenant, _secret, _codes = enrolled
    with app.test_request_context():
        token = accounts.reset_token(db.session.get(accounts.Account, tenant.admin_account_id))
    client = app.test_client()
    reset = client.post(f"/password/reset/{token}", data={"password": "a-new-password"})
    assert reset.status_code == 303 and reset.headers["Location"].startswith("/login/code")
    assert client.get(f"/{tenant.slug}/").status_code == 302
    slug = unique("s")
    signup = app.test_client().post("/signup", data={"company": "Second Co", "slug": slug, "name": "Ada",
                                                     "email": email_of(tenant), "password": "a-new-password"})
    assert signup.status_code == 303 and signup.headers["Location"] == f"/login/code?next=/{slug}/"


def test_code_attempts_are_limited_per_pending_account(enrolled, app, make_tenant, client_as):
    tenant, secret, _codes = enrolled
    client = app.test_client()
    password_step(client, tenant)
    for _ in range(5):
        assert client.post("/login/code", data={"code": wrong_code(secret)}).status_code == 422
    other_browser = app.test_client()  # a new session does not get new attempts
    password_step(other_browser, tenant)
    blocked = other_browser.post("/login/code", data={"code": next_code(secret)})
    assert blocked.status_code == 429
    assert "Too many wrong codes. Wait a few minutes, then try again." in blocked.text
    assert other_browser.get(f"/{tenant.slug}/").status_code == 302
    someone_else = make_tenant()  # another account is not held up by this one's failures
    other_secret, _ = enrol(client_as(someone_else.admin_account_id))
    fresh = app.test_client()
    password_step(fresh, someone_else)
    assert fresh.post("/login/code", data={"code": next_code(other_secret)}).status_code == 303


def test_the_code_step_needs_a_recent_password(enrolled, app):
    tenant, secret, _codes = enrolled
    client = app.test_client()
    assert client.get("/login/code").headers["Location"].startswith("/login")
    password_step(client, tenant)
    with client.session_transaction() as session:
        pending = session["two_factor_pending"]
        session["two_factor_pending"] = {**pending, "at": pending["at"] - 601}  # ten minutes and a second ago
    late = client.post("/login/code", data={"code": next_code(secret)}, follow_redirects=True)
    assert "Sign-in took too long. Please enter your password again." in late.text
    assert client.get(f"/{tenant.slug}/").status_code == 302


def test_turning_it_off_needs_the_password_or_a_code_and_is_audited(app, make_tenant, client_as, in_tenant):
    from crm.accounts import service as accounts

    tenant = make_tenant()
    second = make_tenant()
    with app.app_context():
        accounts.sign_up("Another 公司", second.slug + "x", "Ada", email_of(tenant), PASSWORD, "en")
        db.session.commit()
    client = client_as(tenant.admin_account_id)
    secret, _codes = enrol(client)
    wrong = client.post("/account/two-factor/disable", data={"proof": "not-my-password"})
    assert wrong.status_code == 422 and "That is neither your password nor a valid code." in wrong.text
    off = client.post("/account/two-factor/disable", data={"proof": next_code(secret)}, follow_redirects=True)
    assert "Two-step sign-in is off." in off.text and "Set up two-step sign-in" in off.text
    with app.app_context():
        assert db.session.get(TwoFactor, tenant.admin_account_id) is None
        assert not db.session.scalars(select(RecoveryCode).where(
            RecoveryCode.account_id == tenant.admin_account_id)).all()
    from tests.conftest import TenantInfo
    from tenants.resolver import find_tenant

    with app.app_context():
        other = find_tenant(second.slug + "x")
    for workspace in (tenant, TenantInfo(other.id, other.slug, other.name, 0, 0)):
        changes = in_tenant(workspace, lambda: db.session.scalars(select(AuditEntry.changes).where(
            AuditEntry.entity == "member", AuditEntry.changes.has_key("two_factor")).order_by(AuditEntry.id)).all())
        assert changes == [{"two_factor": [False, True]}, {"two_factor": [True, False]}]
    client.post("/account/two-factor/disable", data={"proof": PASSWORD})  # already off: nothing breaks
    again_secret, _ = enrol(client)
    assert client.post("/account/two-factor/disable", data={"proof": PASSWORD}).status_code == 303


def test_turning_it_off_is_limited_too(app, make_tenant, client_as):
    tenant = make_tenant()
    client = client_as(tenant.admin_account_id)
    enrol(client)
    for _ in range(5):
        assert client.post("/account/two-factor/disable", data={"proof": "guess-guess"}).status_code == 422
    blocked = client.post("/account/two-factor/disable", data={"proof": PASSWORD})
    assert blocked.status_code == 429 and "Too many wrong codes" in blocked.text


def test_a_workspace_that_requires_it_sends_members_to_enrol_first(app, make_tenant, add_member, client_as,
                                                                    in_tenant):
    tenant = make_tenant()
    rep_account, _rep = add_member(tenant)
    admin = client_as(tenant.admin_account_id)
    rep = client_as(rep_account)
    assert rep.post(f"/{tenant.slug}/settings/security/", data={"required": "1"}).status_code == 403
    page = admin.get(f"/{tenant.slug}/settings/security/")
    assert "Require two-step sign-in of every member" in page.text and "Sam Rep" in page.text
    saved = admin.post(f"/{tenant.slug}/settings/security/", data={"required": "1"})
    assert saved.status_code == 303
    # The admin has not set it up either: sent to enrolment, and back where they were going afterwards.
    sent = admin.get(f"/{tenant.slug}/customers/?q=x")
    assert sent.status_code == 303 and sent.headers["Location"] == "/account/two-factor?next=/{}/customers/?q%3Dx".format(
        tenant.slug)
    hx = rep.get(f"/{tenant.slug}/messages/bell", headers={"HX-Request": "true"})
    assert hx.status_code == 204 and hx.headers["HX-Location"].startswith("/account/two-factor?next=")
    enrolment = admin.get(sent.headers["Location"])
    assert "requires two-step sign-in. Set it up to continue." in enrolment.text  # no loop: the page itself opens
    secret = re.search(r'id="secret">([A-Z2-7]+)<', enrolment.text).group(1)
    done = admin.post(f"/account/two-factor?next=/{tenant.slug}/customers/", data={"code": pyotp.TOTP(secret).now()})
    assert f'href="/{tenant.slug}/customers/"' in done.text
    assert admin.get(f"/{tenant.slug}/customers/").status_code == 200
    assert rep.get(f"/{tenant.slug}/customers/").status_code == 303  # still not set up
    changes = in_tenant(tenant, lambda: db.session.scalars(select(AuditEntry.changes).where(
        AuditEntry.entity == "settings")).all())
    assert changes == [{"require_two_factor": [False, True]}]
    assert "Sam Rep" in admin.get(f"/{tenant.slug}/settings/security/").text  # who is still missing
    admin.post(f"/{tenant.slug}/settings/security/", data={})
    assert rep.get(f"/{tenant.slug}/customers/").status_code == 200


def test_key_rotation_re_encrypts_totp_secrets(app, enrolled, field_keys):
    tenant, secret, _codes = enrolled
    field_keys("new", "dev")
    result = app.test_cli_runner().invoke(args=["tenants", "rotate-keys"])
    assert result.exit_code == 0 and re.search(r"public\s+[1-9]\d* TOTP secrets re-encrypted", result.output)
    with app.app_context():
        assert db.session.get(TwoFactor, tenant.admin_account_id).secret.startswith("new:")
    field_keys("new")  # the old key is gone; the app's codes still work
    client = app.test_client()
    password_step(client, tenant)
    assert client.post("/login/code", data={"code": next_code(secret)}).status_code == 303


def test_the_device_cookie_is_secure_in_production(enrolled, app):
    tenant, secret, _codes = enrolled
    client = app.test_client()
    password_step(client, tenant)
    app.config["SESSION_COOKIE_SECURE"] = True  # what CRM_ENV=production sets
    try:
        answer = client.post("/login/code", data={"code": next_code(secret), "remember": "y"})
    finally:
        app.config["SESSION_COOKIE_SECURE"] = False
    device = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith("crm_device="))
    assert "Secure" in device and "HttpOnly" in device
