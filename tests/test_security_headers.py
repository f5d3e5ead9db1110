"""The headers and cookies a browser gets, the CSP report endpoint, and templates the strict CSP can serve."""
import json
import logging
import re
from pathlib import Path

import pytest

from tests.conftest import CsrfClient

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "password-123"


@pytest.fixture(scope="module")
def production(app):
    """The same app built as production runs it: CRM_ENV=production behind one TLS proxy."""
    from crm import create_app
    from crm.crypto import new_key

    with pytest.MonkeyPatch.context() as env:
        for name, value in {"CRM_ENV": "production", "SECRET_KEY": "s" * 40, "FIELD_KEYS": "k1:" + new_key(),
                            "FIELD_INDEX_KEY": new_key(), "ARGON2_PROFILE": "RFC_9106_LOW_MEMORY",
                            "PROXY_HOPS": "1", "BASE_URL": "https://crm.example.com"}.items():
            env.setenv(name, value)
        built = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                            "REDIS_URL": app.config["REDIS_URL"], "LOGIN_IP_LIMITS": "10000 per minute"})
    built.test_client_class = CsrfClient
    return built


def test_every_page_carries_the_browser_policies(app):
    headers = app.test_client().get("/login").headers
    csp = headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "report-uri /csp-report" in csp and "report-to csp" in csp
    assert headers["Reporting-Endpoints"] == 'csp="/csp-report"'
    assert headers["Referrer-Policy"] == "same-origin"
    for feature in ("camera=()", "microphone=()", "geolocation=()", "payment=()"):
        assert feature in headers["Permissions-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"


def test_hsts_only_over_https_in_development(app):
    assert "Strict-Transport-Security" not in app.test_client().get("/login").headers
    secure = app.test_client().get("/login", base_url="https://crm.example")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_production_sends_hsts_and_secure_cookies(production, acme):
    client = production.test_client()
    assert client.get("/login").headers["Strict-Transport-Security"] == "max-age=31536000"  # even behind TLS
    signed_in = client.post("/login", data={"email": f"admin@{acme.slug}.example", "password": PASSWORD},
                            base_url="https://localhost", headers={"Referer": "https://localhost/login"})
    assert signed_in.status_code == 303
    cookie = signed_in.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_production_has_no_dev_outbox(production):
    assert production.test_client().get("/dev/outbox").status_code == 404


def test_session_cookie_is_httponly_and_lax(app, acme):
    response = app.test_client().post("/login", data={"email": f"admin@{acme.slug}.example", "password": PASSWORD})
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # http in development


def test_signed_in_pages_are_never_stored_but_static_files_are(app, acme, admin):
    for path in (f"/{acme.slug}/", f"/{acme.slug}/customers/", "/workspaces"):
        assert admin.get(path).headers["Cache-Control"] == "no-store", path
    fragment = admin.get(f"/{acme.slug}/customers/?q=zhang", headers={"HX-Request": "true"})
    assert fragment.headers["Cache-Control"] == "no-store"
    static = admin.get("/static/app.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")
    assert "no-store" not in app.test_client().get("/login").headers.get("Cache-Control", "")


def test_behind_the_proxy_the_throttle_sees_the_client_address(production, make_tenant):
    email = f"admin@{make_tenant().slug}.example"

    def sign_in(password, client_address):
        return production.test_client().post("/login", data={"email": email, "password": password},
                                             headers={"X-Forwarded-For": client_address})

    for _ in range(3):
        assert sign_in("wrong-guess", "198.51.100.9").status_code == 422
    assert sign_in("wrong-guess", "198.51.100.9").status_code == 429
    assert sign_in(PASSWORD, "192.0.2.44").status_code == 303  # same proxy, another client


def csp_violation(**changes) -> dict:
    return {"csp-report": {"document-uri": "http://127.0.0.1:5000/acme/customers/", "referrer": "",
                           "violated-directive": "script-src-elem", "effective-directive": "script-src-elem",
                           "original-policy": "default-src 'self'", "blocked-uri": "inline",
                           "line-number": 12, "source-file": "http://127.0.0.1:5000/acme/customers/", **changes}}


def test_csp_reports_are_logged_one_line_each(app, caplog):
    client = app.test_client()
    client.csrf = False  # a browser sends reports without any token
    with caplog.at_level(logging.WARNING, logger="crm.csp"):
        old_style = client.post("/csp-report", data=json.dumps(csp_violation()),
                                content_type="application/csp-report")
        reporting_api = client.post("/csp-report", content_type="application/reports+json", data=json.dumps([
            {"type": "csp-violation", "url": "http://127.0.0.1:5000/login", "body": {
                "documentURL": "http://127.0.0.1:5000/login", "blockedURL": "https://evil.example/x.js",
                "effectiveDirective": "script-src-elem", "disposition": "enforce", "lineNumber": 3}}]))
    assert old_style.status_code == 204 and reporting_api.status_code == 204
    lines = [r.getMessage() for r in caplog.records if r.name == "crm.csp"]
    assert len(lines) == 2 and all(line.startswith("csp-violation {") for line in lines)
    first, second = (json.loads(line.split(" ", 1)[1]) for line in lines)
    assert first["directive"] == "script-src-elem" and first["blocked"] == "inline" and first["line"] == 12
    assert second["blocked"] == "https://evil.example/x.js" and second["document"].endswith("/login")


def test_csp_report_endpoint_refuses_what_is_not_a_small_report(app, caplog):
    client = app.test_client()
    client.csrf = False
    with caplog.at_level(logging.WARNING, logger="crm.csp"):
        huge = client.post("/csp-report", data=json.dumps(csp_violation(**{"script-sample": "x" * 20000})),
                           content_type="application/csp-report")
        garbage = client.post("/csp-report", data=b"\xff not json", content_type="application/csp-report")
        long_field = client.post("/csp-report", data=json.dumps(csp_violation(**{"blocked-uri": "y" * 5000})),
                                 content_type="application/csp-report")
    assert huge.status_code == 413 and garbage.status_code == 400 and long_field.status_code == 204
    lines = [r.getMessage() for r in caplog.records if r.name == "crm.csp"]
    assert len(lines) == 1 and len(lines[0]) < 2000  # each field cut short


def test_csp_report_endpoint_is_rate_limited(app):
    app.config["CSP_REPORT_LIMITS"] = "3 per minute"
    try:
        client = app.test_client()
        client.csrf = False
        codes = [client.post("/csp-report", data=json.dumps(csp_violation()), content_type="application/csp-report",
                             environ_base={"REMOTE_ADDR": "198.51.100.77"}).status_code for _ in range(4)]
    finally:
        app.config["CSP_REPORT_LIMITS"] = "60 per minute"
    assert codes == [204, 204, 204, 429]


INLINE = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I),
    "style element": re.compile(r"<style\b", re.I),
    "style attribute": re.compile(r"\sstyle\s*=", re.I),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.I),
    "htmx inline handler": re.compile(r"\shx-on[:-]", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}


def test_templates_have_nothing_the_strict_csp_would_block():
    found = []
    for template in sorted((ROOT / "templates").rglob("*.html")):
        text = template.read_text()
        found += [f"{template.relative_to(ROOT)}: {what}" for what, pattern in INLINE.items() if pattern.search(text)]
    assert not found, found
