"""Server-side sessions: sign-out, password change and reset, "sign out" from another browser and timeouts end a
session at once, so a copy of its cookie gets the sign-in page; sign-in rotates the session; the account page."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from crm.accounts.models import Account, AccountSession
from crm.accounts.sessions import session_key
from crm.extensions import db, utcnow
from tests.conftest import HX

PASSWORD = "password-123"
CHROME_WINDOWS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 "
                  "Safari/537.36")
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Version/17.5 Mobile/15E148 Safari/604.1")
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def signed_in(app, email: str, password: str = PASSWORD, agent: str = CHROME_WINDOWS, ip: str = "127.0.0.1"):
    """A browser that signed in through the sign-in page."""
    client = app.test_client()
    client.environ_base.update(HTTP_USER_AGENT=agent, REMOTE_ADDR=ip)
    assert client.post("/login", data={"email": email, "password": password}).status_code == 303
    return client


def copy_of(app, client):
    """Another browser holding a copy of `client`'s session cookie, as someone who copied it would."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def token_of(client) -> str | None:
    with client.session_transaction() as session:
        return session.get("_user_id")


def shows_sign_in(client, url: str) -> bool:
    """Whether opening `url` lands on the sign-in page."""
    response = client.get(url, follow_redirects=True)
    return response.request.path == "/login" and "Sign in" in response.text


def set_session(app, client, **values) -> None:
    """Change the stored row of `client`'s session (times moved back instead of waiting)."""
    with app.app_context():
        db.session.execute(update(AccountSession).where(AccountSession.id == session_key(token_of(client)))
                           .values(**values))
        db.session.commit()


def last_seen(app, client):
    with app.app_context():
        return db.session.get(AccountSession, session_key(token_of(client))).last_seen_at


@pytest.fixture
def email(acme):
    return f"admin@{acme.slug}.example"


def test_a_copied_cookie_gets_the_sign_in_page_after_sign_out(app, acme, email):
    browser = signed_in(app, email)
    copy = copy_of(app, browser)
    customers = f"/{acme.slug}/customers/"
    assert copy.get(customers).status_code == 200  # the copy works while the session lives
    signed_out = browser.post("/logout")
    assert signed_out.headers["Clear-Site-Data"] == '"cache", "storage"'  # the browser forgets the pages it kept
    assert shows_sign_in(copy, customers)
    assert shows_sign_in(browser, customers)


def test_changing_the_password_ends_every_other_session(app, acme, email):
    here, elsewhere = signed_in(app, email), signed_in(app, email, agent=SAFARI_IPHONE)
    customers = f"/{acme.slug}/customers/"
    wrong = here.post("/account/password", data={"current_password": "not-it-at-all", "new_password": "a-new-one-9"})
    assert wrong.status_code == 422 and "This is not your current password." in wrong.text
    short = here.post("/account/password", data={"current_password": PASSWORD, "new_password": "short"})
    assert short.status_code == 422 and "Use 8 to 200 characters." in short.text
    assert elsewhere.get(customers).status_code == 200  # nothing changed by the refused forms

    changed = here.post("/account/password", data={"current_password": PASSWORD, "new_password": "a-new-one-9"},
                        follow_redirects=True)
    assert "Your password has been changed." in changed.text
    assert here.get(customers).status_code == 200
    assert shows_sign_in(elsewhere, customers)
    assert app.test_client().post("/login", data={"email": email, "password": PASSWORD}).status_code == 422
    signed_in(app, email, "a-new-one-9")


def test_a_password_reset_ends_every_session(app, acme, email):
    from crm.accounts.service import reset_token

    before = signed_in(app, email)
    copy = copy_of(app, before)
    with app.app_context():
        token = reset_token(db.session.get(Account, acme.admin_account_id))
    resetter = app.test_client()
    assert resetter.post(f"/password/reset/{token}", data={"password": "a-new-password"}).status_code == 303
    assert resetter.get(f"/{acme.slug}/customers/").status_code == 200
    assert shows_sign_in(before, f"/{acme.slug}/customers/")
    assert shows_sign_in(copy, f"/{acme.slug}/customers/")


def test_signing_out_a_session_from_another_browser(app, acme, globex, email):
    desk, phone = signed_in(app, email), signed_in(app, email, agent=SAFARI_IPHONE)
    customers = f"/{acme.slug}/customers/"
    page = desk.get("/account").text
    ends = re.findall(r'action="(/account/sessions/[0-9a-f]{64}/end)"', page)
    assert ends == [f"/account/sessions/{session_key(token_of(phone))}/end"]  # every session but this one
    outsider = signed_in(app, f"admin@{globex.slug}.example")
    assert outsider.post(ends[0]).status_code == 404  # another account's session is not found
    assert outsider.post("/account/sessions/not-a-key/end").status_code == 404
    assert outsider.post("/account/sessions/%00/end").status_code == 400  # a NUL: the input layer's page
    assert phone.get(customers).status_code == 200

    done = desk.post(ends[0], follow_redirects=True)
    assert "That session has been signed out." in done.text
    assert shows_sign_in(phone, customers)
    assert desk.get(customers).status_code == 200


def test_sign_out_everywhere_else(app, acme, email):
    here = signed_in(app, email)
    others = [signed_in(app, email, agent=SAFARI_IPHONE), copy_of(app, signed_in(app, email))]
    assert "Sign out everywhere else" in here.get("/account").text
    done = here.post("/account/sessions/end-others", follow_redirects=True)
    assert "Every other session has been signed out." in done.text
    assert "Sign out everywhere else" not in done.text  # this session is the only one left
    assert all(shows_sign_in(other, f"/{acme.slug}/") for other in others)
    assert here.get(f"/{acme.slug}/").status_code == 200


def test_idle_timeout(app, acme, email):
    browser = signed_in(app, email)
    idle = timedelta(hours=app.config["SESSION_IDLE_HOURS"])
    set_session(app, browser, last_seen_at=utcnow() - idle + timedelta(minutes=2))
    assert browser.get(f"/{acme.slug}/").status_code == 200  # used within the limit: it lives, and is seen now
    set_session(app, browser, last_seen_at=utcnow() - idle - timedelta(minutes=1))
    assert shows_sign_in(browser, f"/{acme.slug}/")


def test_absolute_timeout_however_busy(app, acme, email):
    browser = signed_in(app, email)
    longest = timedelta(hours=app.config["SESSION_MAX_HOURS"])
    set_session(app, browser, created_at=utcnow() - longest + timedelta(minutes=1))
    assert browser.get(f"/{acme.slug}/").status_code == 200
    set_session(app, browser, created_at=utcnow() - longest - timedelta(minutes=1))
    assert shows_sign_in(browser, f"/{acme.slug}/")


def test_last_seen_is_written_at_most_once_a_minute_and_not_by_the_bell(app, acme, email):
    browser = signed_in(app, email)
    signed_in_at = last_seen(app, browser)
    browser.get(f"/{acme.slug}/customers/")
    assert last_seen(app, browser) == signed_in_at  # seconds after: no write
    two_minutes_ago = utcnow() - timedelta(minutes=2)
    set_session(app, browser, last_seen_at=two_minutes_ago)
    assert browser.get(f"/{acme.slug}/messages/bell", headers=HX).status_code == 200
    assert last_seen(app, browser) == two_minutes_ago  # the bell polls by itself: not the user's activity
    browser.get(f"/{acme.slug}/customers/")
    assert last_seen(app, browser) > two_minutes_ago + timedelta(minutes=1)


def test_sign_in_rotates_the_session(app, acme, email):
    browser = signed_in(app, email)
    before = token_of(browser)
    planted = copy_of(app, browser)  # e.g. a cookie someone set in this browser before its user signed in
    with browser.session_transaction() as session:
        session["left_over"] = "from before"
    assert browser.post("/login", data={"email": email, "password": PASSWORD}).status_code == 303
    after = token_of(browser)
    assert after and before and after != before
    with browser.session_transaction() as session:
        assert "left_over" not in session
    assert shows_sign_in(planted, f"/{acme.slug}/")
    assert browser.get(f"/{acme.slug}/").status_code == 200
    with app.app_context():  # the table keeps the token's hash only: reading it opens no session
        stored = set(db.session.scalars(select(AccountSession.id).where(
            AccountSession.account_id == acme.admin_account_id)))
    assert session_key(after) in stored and after not in stored and str(acme.admin_account_id) not in after


def test_account_page_lists_only_ones_own_sessions(app, acme, globex, email):
    desk = signed_in(app, email, ip="10.0.0.7")
    signed_in(app, email, agent=SAFARI_IPHONE, ip="10.0.0.8")
    signed_in(app, f"admin@{globex.slug}.example", agent=FIREFOX_LINUX, ip="10.9.9.9")
    page = desk.get("/account")
    assert page.status_code == 200
    assert "Ada Admin" in page.text and email in page.text and "Change password" in page.text
    assert "Chrome on Windows" in page.text and "Safari on iPhone" in page.text
    assert "10.0.0.7" in page.text and "10.0.0.8" in page.text
    assert page.text.count("This device") == 1
    assert "Firefox" not in page.text and "10.9.9.9" not in page.text and globex.slug not in page.text
    assert 'href="/account"' in desk.get(f"/{acme.slug}/").text  # reached from the user menu


def test_account_page_needs_a_session(app):
    assert shows_sign_in(app.test_client(), "/account")


def test_a_poll_without_a_live_session_takes_the_window_to_sign_in(app, acme, email):
    browser = signed_in(app, email)
    copy = copy_of(app, browser)
    browser.post("/logout")
    poll = copy.get(f"/{acme.slug}/messages/bell",
                    headers={**HX, "HX-Current-URL": f"http://localhost/{acme.slug}/customers/?q=li"})
    assert poll.status_code == 401 and poll.text == ""  # nothing to swap into the top bar
    assert poll.headers["HX-Redirect"] == f"/login?next=/{acme.slug}/customers/?q%3Dli"


def test_a_deactivated_members_copied_cookie_is_refused_at_once(app, acme, admin, add_member):
    account_id, member_id = add_member(acme, name="Leaving Lee")
    with app.app_context():
        rep_email = db.session.get(Account, account_id).email
    rep = signed_in(app, rep_email)
    copy = copy_of(app, rep)
    assert copy.get(f"/{acme.slug}/customers/").status_code == 200
    admin.post(f"/{acme.slug}/settings/members/{member_id}/active", data={"active": "0"})
    assert copy.get(f"/{acme.slug}/customers/").status_code == 404
    assert rep.get(f"/{acme.slug}/customers/").status_code == 404
    # Deactivation closes one workspace, not the account: its sessions live on for its other workspaces.
    assert rep.get("/account").status_code == 200


@pytest.mark.parametrize(("agent", "label"), [
    (CHROME_WINDOWS, "Chrome on Windows"),
    (SAFARI_IPHONE, "Safari on iPhone"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile "
     "Safari/537.36", "Chrome on Android"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36 "
     "Edg/131.0", "Edge on Windows"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 "
     "MicroMessenger/8.0.50 NetType/WIFI Language/zh_CN", "WeChat on iPhone"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
     "Safari/605.1.15", "Safari on macOS"),
    ("curl/8.5.0", "curl/8.5.0"),
    ("", "Unknown device"),
])
def test_device_label(app, agent, label):
    from crm.accounts.devices import device_label

    with app.test_request_context():
        assert device_label(agent) == label
