"""Security events: one JSON line each on the `crm.security` logger, with who, where and from which address, and
never a password, code, token or session id."""
import json
import logging

import pytest

from tests.accounts.test_two_factor import enrolled, password_step, wrong_code  # noqa: F401 (enrolled: a fixture)

PASSWORD = "password-123"  # what make_tenant gives its admin
ADDRESS = "203.0.113.9"
AGENT = "Mozilla/5.0\n{\"event\": \"forged\"} " + "x" * 400  # a line break must not start a line


@pytest.fixture
def events(caplog):
    """The security events logged so far, each line parsed (a line that is not one JSON object fails the test)."""
    caplog.set_level(logging.WARNING, logger="crm.security")

    def logged(name: str | None = None) -> list[dict]:
        lines = [record.getMessage() for record in caplog.records if record.name == "crm.security"]
        assert all("\n" not in line for line in lines)
        parsed = [json.loads(line) for line in lines]
        return [event for event in parsed if name is None or event["event"] == name]

    logged.text = lambda: "\n".join(r.getMessage() for r in caplog.records if r.name == "crm.security")
    return logged


def browser(app):
    return {"environ_base": {"REMOTE_ADDR": ADDRESS, "HTTP_USER_AGENT": AGENT}}


def test_a_wrong_password_is_logged_with_the_email_and_without_the_password(app, make_tenant, events):
    email = f"admin@{make_tenant().slug}.example"
    response = app.test_client().post("/login", data={"email": f"  {email.upper()} ", "password": "Hunter2-secret"},
                                      **browser(app))
    assert response.status_code == 422
    [failed] = events("sign_in_failed")
    assert failed["email"] == email and failed["ip"] == ADDRESS and failed["user_agent"] == AGENT[:200]
    assert failed["time"].endswith("+00:00") and "account" not in failed
    assert "Hunter2-secret" not in events.text()


def test_a_held_back_attempt_is_logged(app, make_tenant, events):
    email = f"admin@{make_tenant().slug}.example"
    client = app.test_client()
    for _ in range(3):
        client.post("/login", data={"email": email, "password": "wrong-guess"}, **browser(app))
    held = client.post("/login", data={"email": email, "password": PASSWORD}, **browser(app))
    assert held.status_code == 429
    assert len(events("sign_in_failed")) == 3
    [event] = events("sign_in_held")
    assert event["email"] == email and event["wait_seconds"] == 2 and event["ip"] == ADDRESS
    assert PASSWORD not in events.text() and "wrong-guess" not in events.text()


def test_a_sign_in_is_logged_with_the_account_and_no_session_token(app, make_tenant, events):
    tenant = make_tenant()
    client = app.test_client()
    assert client.post("/login", data={"email": f"admin@{tenant.slug}.example", "password": PASSWORD},
                       **browser(app)).status_code == 303
    [event] = events("sign_in_succeeded")
    assert event["account"] == tenant.admin_account_id and event["via"] == "accounts.login"
    with client.session_transaction() as session:
        token = session["_user_id"]
    assert token not in events.text() and session.get("csrf_token", "?") not in events.text()


def test_a_refused_page_is_logged_with_the_tenant_and_account(app, acme, add_member, client_as, events):
    account_id, _member = add_member(acme, "sales_rep")
    response = client_as(account_id).get(f"/{acme.slug}/settings/security/", **browser(app))
    assert response.status_code == 403
    [event] = events("forbidden")
    assert event["tenant"] == acme.slug and event["account"] == account_id
    assert event["path"] == f"/{acme.slug}/settings/security/" and event["ip"] == ADDRESS


def test_a_csrf_failure_is_logged_without_the_token(app, acme, client_as, events):
    client = client_as(acme.admin_account_id)
    client.csrf = False
    forged = "forged-token-value-123"
    response = client.post("/account/sessions/end-others", headers={"X-CSRFToken": forged}, **browser(app))
    assert response.status_code == 400
    [event] = events("csrf_failed")
    assert event["path"] == "/account/sessions/end-others" and event["method"] == "POST"
    assert event["account"] == acme.admin_account_id and forged not in events.text()
    assert not events("other_sessions_ended")


def test_unreadable_input_is_logged(app, events):
    assert app.test_client().get("/login?q=a%00b", **browser(app)).status_code == 400
    [event] = events("unreadable_input")
    assert event["path"] == "/login" and event["ip"] == ADDRESS


def test_a_wrong_second_factor_code_is_logged_without_the_code(enrolled, app, events):  # noqa: F811
    tenant, secret, _codes = enrolled
    client = app.test_client()
    password_step(client, tenant)
    code = wrong_code(secret)
    assert client.post("/login/code", data={"code": code}, **browser(app)).status_code == 422
    [event] = events("two_factor_failed")
    assert event["account"] == tenant.admin_account_id and event["ip"] == ADDRESS
    assert code not in events.text() and secret not in events.text()
    assert not events("sign_in_succeeded")


def test_a_password_change_is_logged_without_either_password(app, acme, client_as, events):
    client = client_as(acme.admin_account_id)
    new = "a-new-one-9-secret"
    assert client.post("/account/password", data={"current_password": "guessed-Pa55", "new_password": new},
                       **browser(app)).status_code == 422
    assert events("password_change_refused")[0]["account"] == acme.admin_account_id
    assert client.post("/account/password", data={"current_password": PASSWORD, "new_password": new},
                       **browser(app)).status_code == 303
    [event] = events("password_changed")
    assert event["account"] == acme.admin_account_id
    assert PASSWORD not in events.text() and new not in events.text() and "guessed-Pa55" not in events.text()


def test_a_per_address_limit_is_logged(app, events):
    app.config["LOGIN_IP_LIMITS"] = "2 per minute"
    try:
        client = app.test_client()
        codes = [client.post("/password/forgot", data={"email": "nobody@example.com"},
                             environ_base={"REMOTE_ADDR": "198.51.100.91"}).status_code for _ in range(3)]
    finally:
        app.config["LOGIN_IP_LIMITS"] = "10000 per minute"
    assert codes == [303, 303, 429]
    assert [event["email"] for event in events("password_reset_requested")] == ["nobody@example.com"] * 2
    [event] = events("rate_limited")
    assert event["path"] == "/password/forgot" and event["ip"] == "198.51.100.91"
