"""Sign-up, sign-in, sessions, password reset, throttling, CSRF and language."""
import re

from crm.extensions import db
from tests.conftest import HX


def signup_form(slug: str, email: str, **changes) -> dict:
    return {"company": "Stellar 星辰", "slug": slug, "name": "Li Na", "email": email, "password": "password-123",
            **changes}


def test_signup_provisions_a_workspace_and_signs_in(app, acme):
    from tests.conftest import unique

    client = app.test_client()
    slug = unique("s")
    response = client.post("/signup", data=signup_form(slug, f"li@{slug}.example"))
    assert response.status_code == 303
    assert response.headers["Location"] == f"/{slug}/"
    home = client.get(f"/{slug}/")
    assert home.status_code == 200 and "Stellar 星辰" in home.text and "Hello, Li Na" in home.text


def test_signup_errors_are_shown_at_the_fields_and_nothing_is_saved(app, acme):
    from crm.accounts.models import Account

    client = app.test_client()
    page = client.post("/signup", data=signup_form("login", "nobody@x.example", password="short"))
    assert page.status_code == 422
    assert "This address is reserved" in page.text and "Use 8 to 200 characters." in page.text
    taken = client.post("/signup", data=signup_form(acme.slug, "someone@x.example"))
    assert taken.status_code == 422 and "This address is taken" in taken.text
    assert 'value="Stellar 星辰"' in taken.text  # what was typed stays
    with app.app_context():
        assert db.session.scalar(db.select(Account).where(Account.email == "someone@x.example")) is None


def test_live_slug_check_suggests_and_validates(app, acme):
    client = app.test_client()
    suggested = client.get("/signup/slug?company=Blue Ocean Ltd", headers={"HX-Request": "true"})
    assert 'value="blue-ocean-ltd"' in suggested.text and "is available" in suggested.text
    assert "is taken" in client.get(f"/signup/slug?slug={acme.slug}", headers=HX).text
    assert "reserved" in client.get("/signup/slug?slug=api", headers=HX).text
    assert "lower-case letters" in client.get("/signup/slug?slug=A!", headers=HX).text


def test_login_logout_and_wrong_password(app, acme):
    client = app.test_client()
    wrong = client.post("/login", data={"email": f"admin@{acme.slug}.example", "password": "nope-nope"})
    assert wrong.status_code == 422 and "Wrong email or password." in wrong.text
    unknown = client.post("/login", data={"email": "ghost@nowhere.example", "password": "nope-nope"})
    assert "Wrong email or password." in unknown.text  # same answer for unknown emails
    ok = client.post("/login", data={"email": f"ADMIN@{acme.slug}.example ", "password": "password-123"})
    assert ok.status_code == 303
    assert client.get(f"/{acme.slug}/customers/").status_code == 200
    client.post("/logout")
    assert client.get(f"/{acme.slug}/customers/").status_code == 302


def test_csrf_token_is_required_for_every_write(app, acme, client_as):
    client = client_as(acme.admin_account_id)
    client.csrf = False
    refused = client.post(f"/{acme.slug}/customers/", data={"name": "No Token"},
                          headers={"HX-Request": "true"})
    assert refused.status_code == 400
    client.csrf = True
    accepted = client.post(f"/{acme.slug}/customers/", data={"name": "With Token"},
                           headers={"HX-Request": "true"})
    assert accepted.status_code == 204 and accepted.headers["HX-Location"].startswith(f"/{acme.slug}/customers/")


def test_password_reset_by_email_link(app, acme, smtp_server):
    from rq import SimpleWorker

    from crm.jobs import queue

    app.config["SMTP_URL"] = smtp_server.url
    try:
        client = app.test_client()
        answer = client.post("/password/forgot", data={"email": f"admin@{acme.slug}.example"})
        assert answer.status_code == 303
        unknown = client.post("/password/forgot", data={"email": "nobody@nowhere.example"})
        assert unknown.status_code == 303  # same answer for unknown emails
        with app.app_context():
            SimpleWorker([queue("notify")], connection=queue().connection).work(burst=True)
    finally:
        app.config["SMTP_URL"] = ""
    mine = [m for m in smtp_server.messages if m["To"] == f"admin@{acme.slug}.example"]
    assert len(mine) == 1 and mine[0]["Subject"] == "Reset your CRM password"
    link = re.search(r"http://\S+/password/reset/\S+", mine[0].get_payload(decode=True).decode()).group(0)
    path = link.split("5000", 1)[1]

    old_session = app.test_client()
    assert old_session.post("/login", data={"email": f"admin@{acme.slug}.example",
                                            "password": "password-123"}).status_code == 303
    assert app.test_client().post(path, data={"password": "short"}).status_code == 422
    reset = app.test_client()
    assert reset.post(path, data={"password": "a-new-password"}).status_code == 303
    assert reset.get(f"/{acme.slug}/").status_code == 200
    assert old_session.get(f"/{acme.slug}/").status_code == 302  # every other session ended
    assert app.test_client().get(path).status_code == 404  # the link works once
    fresh = app.test_client()
    assert fresh.post("/login", data={"email": f"admin@{acme.slug}.example",
                                      "password": "a-new-password"}).status_code == 303


def test_workspace_switcher_lists_every_membership(app, acme, client_as):
    client = client_as(acme.admin_account_id)
    second = client.post("/signup", data=signup_form("second-" + acme.slug[:20], f"admin@{acme.slug}.example"))
    assert second.status_code == 303
    page = client.get("/workspaces")
    assert "Acme 贸易" in page.text and "Stellar 星辰" in page.text


def test_language_switch_is_kept_for_the_user(app, acme, client_as):
    client = client_as(acme.admin_account_id)
    assert "Customers" in client.get(f"/{acme.slug}/customers/").text
    client.post("/language", data={"language": "zh", "next": f"/{acme.slug}/customers/"})
    page = client.get(f"/{acme.slug}/customers/")
    assert "客户" in page.text and 'lang="zh-CN"' in page.text
    again = client_as(acme.admin_account_id)  # a new session of the same user
    assert "客户" in again.get(f"/{acme.slug}/").text
    assert client.post("/language", data={"language": "klingon"}).status_code == 400


def test_anonymous_visitor_gets_the_browser_language(app):
    page = app.test_client().get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "登录" in page.text


def test_typed_slug_is_not_replaced_by_the_suggestion(app):
    client = app.test_client()
    kept = client.get("/signup/slug?company=Blue Ocean&slug=my-own", headers={"HX-Request": "true"})
    assert 'value="my-own"' in kept.text and 'name="suggested"' not in kept.text
    resuggested = client.get("/signup/slug?company=Blue Ocean&slug=blue&suggested=1", headers={"HX-Request": "true"})
    assert 'value="blue-ocean"' in resuggested.text


def test_the_session_remembers_only_the_most_recent_workspaces_entered(app, acme, client_as):
    from crm.accounts.views import ENTERED_TENANTS_KEPT

    client = client_as(acme.admin_account_id)
    with client.session_transaction() as session:  # a long day in many workspaces
        session["entered_tenants"] = list(range(10_000, 10_000 + 5 * ENTERED_TENANTS_KEPT))
    assert client.get(f"/{acme.slug}/").status_code == 200
    with client.session_transaction() as session:
        entered = session["entered_tenants"]
    assert len(entered) == ENTERED_TENANTS_KEPT and entered[-1] == acme.id
