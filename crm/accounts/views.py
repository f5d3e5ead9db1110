"""Public pages: sign-up, sign-in, sign-out, password reset, workspace switcher, language."""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from crm import LANGUAGES
from crm.accounts import service
from crm.accounts.forms import ForgotPasswordForm, LoginForm, ResetPasswordForm, SignupForm
from crm.audit.service import record
from crm.extensions import db, limiter
from crm.web import fragment_of, local_path, on_invalid, render, see_other
from tenants.resolver import member_bound
from tenants.slugs import suggest_slug

bp = Blueprint("accounts", __name__)


@member_bound.connect
def record_sign_in(tenant, member) -> None:
    """The first request of a session in a tenant is its sign-in there, written to that tenant's audit log."""
    entered = session.get("entered_tenants", [])
    if tenant.id in entered:
        return
    record("login", "member", member.id, summary=member.name)
    db.session.commit()
    session["entered_tenants"] = [*entered, tenant.id]


def login_email_key() -> str:
    return "login:" + request.form.get("email", "").strip().lower()


def _failed(response) -> bool:
    return response.status_code != 303


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
    form = SignupForm()
    on_invalid(lambda error: render_template("accounts/signup.html", form=error.apply_to(form)))
    if form.validate_on_submit():
        account, tenant = service.sign_up(form.company.data, form.slug.data, form.name.data,
                                          form.email.data, form.password.data, _current_language())
        db.session.commit()
        login_user(account)
        flash(_("Welcome! Your workspace %(name)s is ready.", name=tenant.name))
        return see_other(url_for("workspace.index", slug=tenant.slug))
    return render_template("accounts/signup.html", form=form), 422 if form.errors else 200


@bp.get("/signup/slug")
@fragment_of("accounts.signup")
def check_slug():
    """Live check of the workspace address; while it was only suggested, typing the company re-suggests it."""
    slug = request.args.get("slug", "").strip().lower()
    suggested = bool(request.args.get("suggested")) or not slug
    if suggested and request.args.get("company"):
        slug = suggest_slug(request.args["company"])
    return render("accounts/_slug.html", slug=slug, problem=service.slug_message(slug) if slug else None,
                  suggested=suggested)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_IP_LIMITS"], methods=["POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMITS"], key_func=login_email_key, methods=["POST"],
               deduct_when=_failed)
def login():
    """Sign in with email and password."""
    form = LoginForm()
    if form.validate_on_submit():
        account = service.authenticate(form.email.data, form.password.data)
        if account is not None:
            db.session.commit()
            session.clear()  # a fresh session at login: nothing from before sign-in carries over
            login_user(account)
            return see_other(_safe_next() or url_for("accounts.home"))
        form.form_errors.append(_("Wrong email or password."))
    return render_template("accounts/login.html", form=form), 422 if form.errors or form.form_errors else 200


def _safe_next() -> str | None:
    return local_path(request.args.get("next"))


@bp.post("/logout")
def logout():
    """Sign out of this browser."""
    logout_user()
    session.clear()
    return see_other(url_for("accounts.login"))


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
            form.email.data, lambda token: current_app.config["BASE_URL"] + url_for("accounts.reset_password",
                                                                                   token=token))
        db.session.commit()
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
        db.session.commit()
        session.clear()
        login_user(account)
        flash(_("Your password has been changed."))
        return see_other(url_for("accounts.home"))
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
