"""The headers every response carries: what the browser may load, frame, remember and send elsewhere."""
from flask import Flask, current_app, request
from flask_login import current_user

REPORT_PATH = "/csp-report"
# No 'unsafe-inline' or 'unsafe-eval': templates have no inline script, style or handler (a test reads them all).
# report-uri is for browsers that do not know report-to yet.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'; "
       f"report-uri {REPORT_PATH}; report-to csp")
PERMISSIONS = ("accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), "
               "payment=(), usb=()")
HSTS = "max-age=31536000"  # a year; no includeSubDomains, which would bind the operator's other sites too


def csp_with_form_action(origin: str) -> str:
    """The policy for a page whose form leads on to `origin` (a payment page: Chrome checks form-action on the
    redirect that follows the POST too)."""
    return CSP.replace("form-action 'self'", f"form-action 'self' {origin}")


def init_app(app: Flask) -> None:
    app.after_request(secure_headers)


def kept_by_browser(view):
    """Mark a view whose answer never changes at its URL (the workspace logo, its version in the URL): it sets its
    own Cache-Control, which may let the browser keep it, instead of the no-store of every signed-in page."""
    view.kept_by_browser = True
    return view


def _kept_by_browser() -> bool:
    return getattr(current_app.view_functions.get(request.endpoint or ""), "kept_by_browser", False)


def secure_headers(response):
    """Policies for the browser; signed-in pages are never stored (a shared computer's back button, a proxy)."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["Reporting-Endpoints"] = f'csp="{REPORT_PATH}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = PERMISSIONS
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if request.is_secure or current_app.config["ENV"] == "production":
        response.headers["Strict-Transport-Security"] = HSTS
    if request.endpoint != "static" and current_user.is_authenticated and not _kept_by_browser():
        response.headers["Cache-Control"] = "no-store"
    return response
