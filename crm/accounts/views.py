"""Public pages: sign-up, sign-in, sign-out, password reset, the account page and its sessions, workspace
switcher, language."""
import time
from urllib.parse import urlsplit, urlunsplit

from flask import (Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, session,
                   url_for)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from crm import LANGUAGES
from crm.accounts import service, sessions, throttle
from crm.accounts.forms import ChangePasswordForm, ForgotPasswordForm, LoginForm, ResetPasswordForm, SignupForm
from crm.accounts.models import Account
from crm.audit.service import record
from crm.extensions import db, limiter
from crm.security.events import security_event
from crm.two_factor import service as two_factor
from crm.web import absolute_url, check_form, fragment_of, is_htmx, local_path, on_invalid, render, saved, see_other
from crm.workspace_settings import places
from tenants.resolver import member_bound

bp = Blueprint("accounts", __name__)
ENTERED_TENANTS_KEPT = 20  # the session cookie stays small however many workspaces one account enters


@member_bound.connect
def record_sign_in(tenant, member) -> None:
    """The first request of a session in a tenant is its sign-in there, written to that tenant's audit log. Only
    the most recent workspaces are remembered: entering one of the older again logs a sign-in again."""
    entered = session.get("entered_tenants", [])
    if tenant.id in entered:
        return
    record("login", "member", member.id, summary=member.name)
    db.session.commit()
    session["entered_tenants"] = [*entered, tenant.id][-ENTERED_TENANTS_KEPT:]


def finish_sign_in(account: Account) -> None:
    """Sign `account` in on this browser: every way of signing in ends here. The browser's earlier session ends
    and nothing of it carries over; a new session (a new random id in the cookie) begins."""
    if current_user.is_authenticated:
        sessions.end_session(current_user.get_id())
    session.clear()
    sessions.start_session(account, request.remote_addr, request.user_agent.string)
    db.session.commit()
    login_user(account)
    security_event("sign_in_succeeded", via=request.endpoint)


def sign_in_first():
    """Flask-Login's answer to a request without a live session: the sign-in page, then back. A request htmx
    makes (a poll, a swap) gets no page to swap in: the whole window goes to sign-in, then back to that page."""
    if not is_htmx():
        return redirect(url_for("accounts.login", next=local_path(request.full_path.rstrip("?"))))
    page = urlsplit(request.headers.get("HX-Current-URL", ""))
    response = make_response("", 401)
    response.headers["HX-Redirect"] = url_for(
        "accounts.login", next=local_path(urlunsplit(("", "", page.path, page.query, ""))))
    return response


@bp.get("/")
def home():
    """Signed-in accounts go to their workspace; everyone else to sign-in."""
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    workspaces = service.workspaces_of(current_user)
    if len(workspaces) == 1:
        return redirect(url_for("workspace.index", slug=workspaces[0].slug))
    return redirect(url_for("accounts.workspaces"))


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_IP_LIMITS"], methods=["POST"])
def signup():
    """Sign a company up: a workspace of its own, with the signer as its admin."""
    form = _with_guesses(SignupForm())
    on_invalid(lambda error: _signup_page(error.apply_to(form)))
    if form.validate_on_submit():
        account, tenant = service.sign_up(form.company.data, form.slug.data, form.name.data,
                                          form.email.data, form.password.data, _current_language(), form.places())
        if code_step := ask_for_code(account, url_for("workspace.index", slug=tenant.slug)):
            return code_step  # an existing account with a second factor, adding a workspace
        finish_sign_in(account)
        flash(_("Welcome! Your workspace %(name)s is ready.", name=tenant.name))
        return see_other(url_for("workspace.index", slug=tenant.slug))
    return _signup_page(form), 422 if form.errors else 200


def _signup_page(form: SignupForm):
    # Only the first page asks the browser for its time zone (static/zone.js): afterwards it is the user's choice.
    return render_template("accounts/signup.html", form=form.set_choices(), ask_browser_zone=request.method == "GET")


def _with_guesses(form: SignupForm) -> SignupForm:
    """The place fields left empty filled with guesses from the browser's languages (the page's own language is
    the workspace's); the browser's time zone comes later, from static/zone.js."""
    guessed = places.guess(get_locale().language, list(request.accept_languages.values()))
    for name, value in guessed.items():
        if not getattr(form, name).data:
            getattr(form, name).data = value
    return form


@bp.get("/signup/slug")
@fragment_of("accounts.signup")
def check_slug():
    """Live check of the workspace address; while it was only suggested, typing the company re-suggests it (a
    Chinese name as pinyin: 杭州云帆科技 -> hangzhou-yunfan)."""
    slug = request.args.get("slug", "").strip().lower()
    suggested = bool(request.args.get("suggested")) or not slug
    if suggested and request.args.get("company"):
        slug = service.suggested_slug(request.args["company"])
    return render("accounts/_slug.html", slug=slug, problem=service.slug_message(slug) if slug else None,
                  suggested=suggested)


@bp.get("/signup/places")
@fragment_of("accounts.signup")
def signup_places():
    """The place fields again after one changed: a time zone brings its country and currency, a country its
    currency and time zone."""
    form = _with_guesses(SignupForm(formdata=request.args, meta={"csrf": False}))
    for name, value in places.follow(form.places(), request.args.get("changed", "")).items():
        getattr(form, name).data = value
    return render_template("accounts/_places.html", form=form.set_choices())


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_IP_LIMITS"], methods=["POST"])
def login():
    """Sign in with email and password; failures slow down this email from this address (throttle.py)."""
    form = LoginForm()
    if form.validate_on_submit():
        throttle.check(form.email.data)
        account = service.authenticate(form.email.data, form.password.data)
        if account is not None:
            throttle.succeeded(form.email.data)
            if code_step := ask_for_code(account, _safe_next()):
                return code_step
            finish_sign_in(account)
            return see_other(_safe_next() or url_for("accounts.home"))
        security_event("sign_in_failed", email=_typed_email(form))
        form.form_errors.append(_("Wrong email or password."))
    return render_template("accounts/login.html", form=form), 422 if form.errors or form.form_errors else 200


def ask_for_code(account, next_url: str | None):
    """After the password: the code step when the account has a second factor and this device is not remembered
    (the account waits in the session, not signed in); None when no code is needed."""
    if not two_factor.code_needed(account, request.cookies.get(two_factor.DEVICE_COOKIE)):
        return None
    if current_user.is_authenticated:
        sessions.end_session(current_user.get_id())  # as in finish_sign_in: the browser's earlier session ends
    db.session.commit()
    session.clear()
    session[two_factor.PENDING] = {"account": account.id, "at": int(time.time())}
    return see_other(url_for("two_factor.code", next=next_url))


@bp.errorhandler(throttle.TooSoon)
def sign_in_too_soon(error: throttle.TooSoon):
    """The sign-in form again, saying when this email may try again from here."""
    form = LoginForm()
    security_event("sign_in_held", email=_typed_email(form), wait_seconds=error.seconds)
    form.form_errors.append(error.message())
    return render_template("accounts/login.html", form=form), 429, {"Retry-After": str(error.seconds)}


def _typed_email(form) -> str:
    return (form.email.data or "").strip().lower()


def _safe_next() -> str | None:
    return local_path(request.args.get("next"))


@bp.post("/logout")
def logout():
    """Sign out of this browser; the session ends on the server too, so a copy of the cookie opens nothing."""
    if current_user.is_authenticated:
        sessions.end_session(current_user.get_id())
        db.session.commit()
        security_event("signed_out")
    logout_user()
    session.clear()
    response = see_other(url_for("accounts.login"))
    # Pages kept for Back (the HTTP cache, htmx's snapshots in sessionStorage) must not outlive the session.
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


@bp.get("/account")
@login_required
def account():
    """The signed-in person's own page: name, language, password, and where they are signed in."""
    return _account_page(ChangePasswordForm(formdata=None))


def _account_page(form: ChangePasswordForm, back: str | None = None, block: str | None = None):
    return render("accounts/account.html", block=block, form=form, back=back,
                  sessions=sessions.live_sessions(current_user),
                  this_session=sessions.session_key(current_user.get_id()))


@bp.post("/account/password")
@login_required
@limiter.limit(lambda: current_app.config["LOGIN_IP_LIMITS"])
def change_password():
    """Change the password, given the current one; every other session ends. The form is on the account page and
    on each workspace's profile page: `next` is the page to go back to; a refusal swaps only the form there."""
    form = ChangePasswordForm()
    back = local_path(request.form.get("next")) or url_for("accounts.account")
    on_invalid(lambda error: _account_page(error.apply_to(form), back, block="password"))
    check_form(form)
    service.change_password(current_user, form.current_password.data, form.new_password.data)
    security_event("password_changed")
    db.session.commit()
    flash(_("Your password has been changed. Every other session has been signed out."))
    return see_other(back)


@bp.post("/account/sessions/<key>/end")
@login_required
def end_session(key: str):
    """Sign one of your sessions out, say a browser left signed in elsewhere."""
    sessions.end_session_of(current_user, key)
    security_event("session_ended_elsewhere")
    return saved(_("That session has been signed out."), "accounts.account")


@bp.post("/account/sessions/end-others")
@login_required
def end_other_sessions():
    """Sign out everywhere but on this browser."""
    sessions.end_other_sessions(current_user)
    security_event("other_sessions_ended")
    return saved(_("Every other session has been signed out."), "accounts.account")


@bp.get("/workspaces")
@login_required
def workspaces():
    """The workspace switcher."""
    return render_template("accounts/workspaces.html", workspaces=service.workspaces_of(current_user))


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_IP_LIMITS"], methods=["POST"])
def forgot_password():
    """Ask for a reset link; the answer is the same for known and unknown emails."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        service.request_password_reset(
            form.email.data, lambda token: absolute_url("accounts.reset_password", token=token))
        db.session.commit()
        security_event("password_reset_requested", email=_typed_email(form))
        flash(_("If an account uses that email, a reset link is on its way."))
        return see_other(url_for("accounts.login"))
    return render_template("accounts/forgot.html", form=form), 422 if form.errors else 200


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """Choose a new password from an emailed link; every other session of the account ends."""
    account = service.account_for_reset(token)
    if account is None:
        return render_template("accounts/reset_invalid.html"), 404
    form = ResetPasswordForm()
    if form.validate_on_submit():
        service.reset_password(account, form.password.data)
        security_event("password_reset", account_id=account.id)
        code_step = ask_for_code(account, None)  # an emailed link is not a second factor
        if code_step is None:
            finish_sign_in(account)
        flash(_("Your password has been changed."))
        return code_step or see_other(url_for("accounts.home"))
    return render_template("accounts/reset.html", form=form), 422 if form.errors else 200


@bp.post("/language")
def set_language():
    """Switch the interface language for this user (or this browser, before sign-in)."""
    language = request.form.get("language", "")
    if language not in LANGUAGES:
        abort(400)
    session["language"] = LANGUAGES[language]
    service.set_language(current_user if current_user.is_authenticated else None, LANGUAGES[language])
    db.session.commit()
    return see_other(_safe_back())


def _safe_back() -> str:
    return local_path(request.form.get("next")) or url_for("accounts.home")


def _current_language() -> str:
    from flask_babel import get_locale

    return str(get_locale())
