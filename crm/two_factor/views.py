"""Two-step sign-in pages: the code step of sign-in (/login/code), setting it up and turning it off
(/account/two-factor), and the workspace setting that requires it (Settings > Security)."""
import time

import segno
from flask import Blueprint, abort, current_app, flash, make_response, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from limits import parse

from crm import registry
from crm.accounts.models import Account
from crm.accounts.views import finish_sign_in
from crm.errors import Invalid
from crm.extensions import db, limiter
from crm.members.access import require
from crm.members.service import members
from crm.security.events import security_event
from crm.two_factor import service
from crm.two_factor.forms import CodeForm, DisableForm, EnableForm
from crm.validation import record_id
from crm.web import check_form, is_htmx, local_path, on_invalid, render, saved, see_other
from tenants.resolver import member_bound, tenant_blueprint

bp = Blueprint("two_factor", __name__)
workspace = tenant_blueprint("security", __name__, "/settings/security")
registry.plug(bp, registry.AuditEntity("member", fields={"two_factor": _l("Two-step sign-in"),
                                                         "recovery_codes": _l("Recovery codes left")}))
registry.plug(workspace,
              registry.SettingsTab("security.index", _l("Security"), order=95, permission=("settings", "view"),
                                   current=("security.*",)),
              registry.AuditEntity("settings", fields={service.REQUIRED: _l("Require two-step sign-in")}))

SETUP = "two_factor_setup"  # session key: the secret being set up, encrypted, until a code confirms it


def _next() -> str | None:
    return local_path(request.args.get("next"))


# Attempts: wrong codes (and wrong proofs when turning it off) count per account, in the limiter's Redis.

def _limit():
    return parse(current_app.config["TWO_FACTOR_LIMITS"])


def _may_try(account: Account) -> bool:
    return limiter.limiter.test(_limit(), "two-factor", str(account.id))


def _count_failure(account: Account) -> None:
    security_event("two_factor_failed", account_id=account.id)
    limiter.limiter.hit(_limit(), "two-factor", str(account.id))


def _too_many() -> str:
    return _("Too many wrong codes. Wait a few minutes, then try again.")


# Sign-in: the step after the password.

def _pending_account() -> Account | None:
    """The account whose password was right in this session, if that was less than ten minutes ago."""
    pending = session.get(service.PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("at"), int):
        return None
    if time.time() - pending["at"] > service.PENDING_SECONDS:
        return None
    return db.session.get(Account, record_id(pending.get("account")) or 0)


def _code_page(form: CodeForm, status: int = 200):
    return render_template("two_factor/code.html", form=form), status


@bp.route("/login/code", methods=["GET", "POST"])
def code():
    """The second step of sign-in: a code from the authenticator app, or a recovery code."""
    account = _pending_account()
    if account is None:
        if session.pop(service.PENDING, None):
            flash(_("Sign-in took too long. Please enter your password again."), "error")
        return see_other(url_for("accounts.login", next=_next()))
    form = CodeForm()
    if not form.validate_on_submit():
        return _code_page(form, 422 if form.errors else 200)
    if not _may_try(account):
        security_event("two_factor_limited", account_id=account.id)
        form.code.errors.append(_too_many())
        return _code_page(form, 429)
    used = service.use_code(account, form.code.data)
    if used is None:
        _count_failure(account)
        form.code.errors.append(_("This code was already used. Wait for the next one.")
                                if service.code_was_used(account, form.code.data)
                                else _("That code is not right. Enter the newest code from your app, or a recovery code."))
        return _code_page(form, 422)
    db.session.commit()
    finish_sign_in(account)
    answer = see_other(_next() or url_for("accounts.home"))
    if form.remember.data:
        _remember_device(answer, account)
    if used == "recovery":
        security_event("recovery_code_used", account_id=account.id)
        flash(_("You signed in with a recovery code; %(n)d left. If your phone is lost, turn two-step sign-in off "
                "and on again to set up a new one.", n=service.recovery_codes_left(account)))
    return answer


def _remember_device(response, account: Account) -> None:
    """Skip the code step on this browser for 30 days (until the password changes or two-step sign-in is reset)."""
    response.set_cookie(service.DEVICE_COOKIE, service.remember_token(account), max_age=service.REMEMBER_DAYS * 86400,
                        path=url_for("accounts.login"), secure=current_app.config["SESSION_COOKIE_SECURE"],
                        httponly=True, samesite="Lax")


# The signed-in account's own page: set up, or turn off.

@bp.get("/account/two-factor")
@login_required
def setup():
    """Two-step sign-in for the signed-in account: the QR code to scan, or how to turn it off."""
    if service.second_factor(current_user) is not None:
        return _manage_page(DisableForm(formdata=None))
    return _setup_page(EnableForm(formdata=None))


def _pending_secret() -> str:
    """The secret being set up in this session, made on the first visit (so reloading shows the same QR code)."""
    secret = service.open_pending(current_user, session.get(SETUP))
    if secret is None:
        secret = service.new_secret()
        session[SETUP] = service.seal_pending(current_user, secret)
    return secret


def _setup_page(form: EnableForm):
    secret = _pending_secret()
    qr = segno.make(service.provisioning_uri(current_user, secret), error="m")
    return render_template("two_factor/setup.html", form=form, secret=secret, next_url=_next(),
                           qr=qr.svg_data_uri(scale=5, border=2, dark="#111", light="#fff"))


def _manage_page(form: DisableForm):
    return render_template("two_factor/manage.html", form=form, factor=service.second_factor(current_user),
                           codes_left=service.recovery_codes_left(current_user))


@bp.post("/account/two-factor")
@login_required
def enable():
    """Turn it on with a first code from the app; the recovery codes are shown this once."""
    form = EnableForm()
    on_invalid(lambda error: _setup_page(error.apply_to(form)))
    check_form(form)
    codes = service.enable(current_user, _pending_secret(), form.code.data)
    db.session.commit()
    security_event("two_factor_enabled")
    session.pop(SETUP, None)
    answer = make_response(render_template("two_factor/recovery_codes.html", codes=codes,
                                           next_url=_next() or url_for("accounts.home")))
    answer.headers["Cache-Control"] = "no-store"  # the codes must not be kept by the browser or a proxy
    return answer


@bp.post("/account/two-factor/disable")
@login_required
def disable():
    """Turn it off, with the password or a code."""
    form = DisableForm()
    on_invalid(lambda error: _refused_disable(error.apply_to(form)))
    check_form(form)
    if not _may_try(current_user):
        security_event("two_factor_limited")
        return _manage_page(Invalid({"proof": _too_many()}).apply_to(form)), 429
    service.disable(current_user, form.proof.data)
    security_event("two_factor_disabled")
    return saved(_("Two-step sign-in is off."), "two_factor.setup")


def _refused_disable(form: DisableForm):
    if form.proof.data:
        _count_failure(current_user)
    return _manage_page(form)


# The workspace: require it of every member.

@member_bound.connect
def require_second_factor(tenant, member) -> None:
    """In a workspace that requires two-step sign-in, a member without it is sent to set it up before any page."""
    if not service.must_enrol(current_user):
        return
    flash(_("%(workspace)s requires two-step sign-in. Set it up to continue.", workspace=tenant.name), "error")
    back = request.full_path.rstrip("?") if request.method == "GET" and not is_htmx() else url_for("workspace.index")
    abort(see_other(url_for("two_factor.setup", next=local_path(back))))


@workspace.get("/")
@require("settings", "view")
def index():
    """Whether the workspace requires two-step sign-in, and who has not set it up yet."""
    return render("two_factor/workspace.html", required=service.required_here(),
                  without=service.members_without(members(include_inactive=False)))


@workspace.post("/")
@require("settings", "edit")
def save():
    """Require two-step sign-in of every member, or stop requiring it."""
    service.set_required(request.form.get("required") == "1")
    return saved(_("Security settings saved."), "security.index")
