"""The CRM application factory."""
import json
import math
import time
from pathlib import Path

from flask import Flask, g, has_request_context, render_template, request, session
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Config, database_uri, instance_secret_key
from crm import registry
from crm.api.problems import is_api_request, problem, schema_errors
from crm.errors import Invalid, PlanLimit
from crm.web import Request, RecordId, answer_invalid, is_htmx, is_poll, refuse_unreadable, too_large_answer
from crm.extensions import babel, csrf, db, init_redis, limiter, limiter_storage_uri, login_manager
from crm.security.events import security_event

LANGUAGES = {"en": "en", "zh": "zh_Hans_CN", "zh_Hans_CN": "zh_Hans_CN"}
ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app from the environment (and `overrides`, which tests use)."""
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"),
                instance_path=str(ROOT / "instance"))
    config = Config()
    vars(config).update(overrides or {})
    use_running_services(config, Path(app.instance_path))
    if config.ENV != "production" and not config.SECRET_KEY:
        config.SECRET_KEY = instance_secret_key(Path(app.instance_path))
    config.check()
    app.config.from_object(config)
    if config.PROXY_HOPS:
        hops = config.PROXY_HOPS
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    import crm.models  # noqa: F401  (every table, before anything reads the metadata)
    from crm import settings

    db.init_app(app)
    init_redis(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=settings.time_zone_name,
                   default_translation_directories=str(ROOT / "crm" / "translations"))
    app.config["RATELIMIT_STORAGE_URI"] = limiter_storage_uri(app.config["REDIS_URL"])
    # Off: the limiter would stamp its own window's Retry-After on every response of a limited route, the
    # sign-in throttle's 429 included; the 429 handler says how long its own limit holds instead.
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    limiter.init_app(app)
    login_manager.init_app(app)

    app.request_class = Request
    app.url_map.converters["id"] = RecordId
    registry.init_app(app)
    register_blueprints(app)
    from crm.api import core as api

    api.init_app(app)
    from crm import monitoring

    monitoring.init_app(app)  # first: its request id and clock start before any other hook runs or logs
    register_hooks(app)
    register_errors(app)
    register_cli(app)
    app.jinja_env.globals["get_locale"] = get_locale
    from crm import formatting
    formatting.register(app)
    return app


def use_running_services(config: Config, instance: Path) -> None:
    """Without DATABASE_URL/REDIS_URL, attach to the embedded servers the run command started."""
    if config.SQLALCHEMY_DATABASE_URI and config.REDIS_URL:
        return
    services = instance / "services.json"
    if not services.exists():
        raise RuntimeError("Set DATABASE_URL and REDIS_URL, or start the app with `python3 scripts/run.py`, "
                           "which starts embedded servers.")
    urls = json.loads(services.read_text())
    config.SQLALCHEMY_DATABASE_URI = config.SQLALCHEMY_DATABASE_URI or database_uri(urls["database"])
    config.REDIS_URL = config.REDIS_URL or urls["redis"]


def register_blueprints(app: Flask) -> None:
    from crm.accounts.views import bp as accounts
    from crm.attachments.views import bp as attachments
    from crm.followups.views import bp as followups
    from crm.audit.views import bp as audit
    from crm.backups.views import bp as backups
    from crm.workspace_export.views import bp as workspace_export
    from crm.billing.views import bp as billing
    from crm.billing.views import stripe_webhook as billing_webhook
    from crm.calendar.views import bp as calendar
    from crm.calendar.views import public as calendar_feed
    from crm.campaigns.views import bp as campaigns
    from crm.contacts.views import bp as contacts
    from crm.customers.views import bp as customers
    from crm.dev.views import bp as dev
    from crm.exports.views import bp as exports
    from crm.fields.views import bp as fields
    from crm.health.views import bp as health
    from crm.imports.views import bp as imports
    from crm.members.views import bp as members
    from crm.members.views import public as invitations
    from crm.customers.unsubscribe import public as unsubscribe
    from crm.notify.settings_views import bp as messaging
    from crm.notify.views import bp as notify
    from crm.orders.views import bp as orders
    from crm.orders.views import public as order_status
    from crm.deals.views import bp as deals
    from crm.payments.views import bp as payments
    from crm.payments.views import public as order_payment
    from crm.payments.views import stripe_webhooks
    from crm.platform.views import bp as platform
    from crm.pool.views import bp as pool
    from crm.products.views import bp as products
    from crm.profile.views import bp as profile
    from crm.api.views import bp as api_tokens
    from crm.api.views import docs as api_docs
    from crm.api.integration_views import bp as integrations
    from crm.reports.views import bp as reports
    from crm.saved_views.views import bp as saved_views
    from crm.search.views import bp as search
    from crm.security.views import bp as csp
    from crm.tags.views import bp as tags
    from crm.targets.views import bp as targets
    from crm.tickets.views import bp as tickets
    from crm.tickets.views import public as ticket_survey
    from crm.timeline.views import bp as timeline
    from crm.two_factor.views import bp as two_factor
    from crm.two_factor.views import workspace as security
    from crm.webhooks.views import bp as webhooks
    from crm.workspace.views import bp as workspace
    from crm.workspace_settings.views import bp as workspace_settings

    for blueprint in (health, accounts, invitations, workspace, customers, contacts, tags, members, audit, fields,
                      deals, followups, pool, products, orders, order_status, tickets, ticket_survey, timeline, notify,
                      messaging, campaigns, unsubscribe, two_factor, security, csp, profile, workspace_settings,
                      targets, reports, imports, exports, calendar, calendar_feed, attachments, api_tokens,
                      integrations, api_docs, payments, order_payment, stripe_webhooks, billing,
                      billing_webhook, platform, backups, webhooks, search, workspace_export, saved_views):
        app.register_blueprint(blueprint)
    if app.config["DEV_OUTBOX"]:
        app.register_blueprint(dev)
    # Browsers ask for /favicon.ico whatever a page links (a page without the link, an image opened alone): the
    # static file, served by the static endpoint itself (url_for("static", filename="favicon.ico") builds this).
    app.add_url_rule("/favicon.ico", endpoint="static", defaults={"filename": "favicon.ico"})


def select_locale() -> str:
    """The signed-in user's language, else the one picked on this browser, else the browser's own."""
    if not has_request_context():
        return "en"  # jobs and commands choose their language explicitly
    if is_api_request():  # the API reads no session: its messages follow the caller's Accept-Language
        return LANGUAGES[request.accept_languages.best_match(["en", "zh"], "en")]
    if current_user and current_user.is_authenticated:
        return current_user.language
    if session.get("language") in LANGUAGES:
        return LANGUAGES[session["language"]]
    return LANGUAGES[request.accept_languages.best_match(["en", "zh"], "en")]


def register_hooks(app: Flask) -> None:
    from crm.accounts import sessions
    from crm.accounts.views import sign_in_first
    from crm.security import headers

    @login_manager.user_loader
    def load_account(token: str):
        return sessions.load_session_account(token, seen=not is_poll())

    login_manager.unauthorized_handler(sign_in_first)
    headers.init_app(app)
    app.url_value_preprocessor(refuse_unreadable)

    @app.after_request
    def vary_on_htmx(response):
        response.vary.add("HX-Request")
        return response

    @app.teardown_request
    def forget_tenant(_exc):
        g.pop("tenant", None)


def register_errors(app: Flask) -> None:
    """Services raise Invalid, NotFound and Forbidden (crm/errors.py); each answer starts by undoing the request's
    writes, so nothing is half-saved and the page is rendered from what is stored."""
    def page(status: int, message: str | None = None):
        if is_api_request():
            return problem(status, message if message not in ("csrf", "suspended") else None)
        template = "errors/_message.html" if is_htmx() else "errors/page.html"
        return render_template(template, status=status, message=message), status

    @app.errorhandler(Invalid)
    def invalid(error):
        db.session.rollback()
        if is_api_request():
            return problem(422, _("Check the fields named in errors."), error.errors)
        return answer_invalid(error)

    @app.errorhandler(HTTPException)
    def other_http_error(error):
        """Under /api/ any other refusal (401, 405, 412, 415, the schema layer's 422 ...) is a problem too."""
        if not is_api_request():
            return error
        db.session.rollback()
        errors = schema_errors(error) if error.code == 422 else None
        detail = _("Check the fields named in errors.") if errors else error.description
        headers = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
        return problem(error.code or 500, detail, errors, headers)

    @app.errorhandler(404)
    def not_found(_e):
        db.session.rollback()
        return page(404)

    @app.errorhandler(403)
    def forbidden(e):
        db.session.rollback()
        security_event("forbidden", method=request.method, path=request.path)
        return page(403, getattr(e, "description", None))

    @app.errorhandler(PlanLimit)
    def plan_limit(e):
        """A plan's limit, a feature outside the plan, or a read-only workspace: the message names it."""
        db.session.rollback()
        if is_api_request():
            return problem(402, e.description)
        template = "errors/_message.html" if is_htmx() else "errors/page.html"
        return render_template(template, status=402, message=e.description), 402

    @app.errorhandler(CSRFError)
    def csrf_error(e):
        security_event("csrf_failed", method=request.method, path=request.path, reason=e.description)
        return page(400, "csrf")

    @app.errorhandler(400)
    def bad_request(_e):
        db.session.rollback()
        return page(400)

    @app.errorhandler(413)
    def too_large(_e):
        answer = too_large_answer()
        return answer if answer is not None else page(413)

    @app.errorhandler(429)
    def too_many(_e):
        limit = limiter.current_limit
        wait = max(1, math.ceil(limit.reset_at - time.time())) if limit else 60
        security_event("rate_limited", method=request.method, path=request.path)
        if is_api_request():
            return problem(429, _("Too many requests: wait %(seconds)d seconds.", seconds=wait),
                           headers={"Retry-After": str(wait)})
        return *page(429), {"Retry-After": str(wait)}

    @app.errorhandler(500)
    def server_error(_e):
        db.session.rollback()
        return page(500)


def register_cli(app: Flask) -> None:
    from crm.cli import tenants_cli  # tenants/cli.py's group, with the commands that need the CRM's features
    from crm.demo import demo_cli
    from crm.platform.cli import platform_cli

    app.cli.add_command(tenants_cli)
    app.cli.add_command(platform_cli)
    app.cli.add_command(demo_cli)
