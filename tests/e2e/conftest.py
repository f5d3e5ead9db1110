"""Browser fixtures: Debian's chromium driven by Playwright against the app served on a free port.

No pytest-playwright: `browser`, `live_server` and `page` are defined here on playwright.sync_api.
Screenshots go to tests/artifacts/ (gitignored); a failing test leaves one named after it.
"""
import os
import re
import threading
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.e2e.htmx import page_ready

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
PASSWORD = "password-123"  # what make_tenant gives its admin


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so `page` can tell a failed test at teardown."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"chromium missing at {CHROMIUM} (CI must install it)")
        pytest.skip(f"no chromium at {CHROMIUM}; apt-get install chromium fonts-wqy-microhei")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def live_server(app):
    """The session's app served by werkzeug in a daemon thread on a free port; yields its base URL. As the run
    command does (scripts/run.py), BASE_URL is that address, so links in messages lead to this server."""
    from werkzeug.serving import make_server

    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    base_url, before = f"http://127.0.0.1:{port}", (app.config["BASE_URL"], os.environ.get("BASE_URL"))
    app.config["BASE_URL"] = os.environ["BASE_URL"] = base_url  # the app's and a worker process's
    yield base_url
    app.config["BASE_URL"] = before[0]
    if before[1] is None:
        os.environ.pop("BASE_URL")
    else:
        os.environ["BASE_URL"] = before[1]
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def new_page(browser, live_server, artifacts, request):
    """Open pages in fresh contexts (own cookies); each is closed after the test.

    Uncaught JavaScript errors and Content-Security-Policy violations fail the test: both mean
    something the user sees is broken even when the assertions pass.
    """
    contexts, problems = [], []

    def open_page(width: int = 1280, height: int = 800, locale: str = "en-US", timezone_id: str = "Asia/Shanghai"):
        context = browser.new_context(base_url=live_server, viewport={"width": width, "height": height},
                                      locale=locale, timezone_id=timezone_id)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", lambda msg: problems.append(f"console at {page.url}: {msg.text}")
                if msg.type == "error" and "Content Security Policy" in msg.text else None)
        return page

    yield open_page
    failed = getattr(request.node, "report_call", None) is not None and request.node.report_call.failed
    for number, context in enumerate(contexts):
        if failed:
            for page in context.pages:
                name = re.sub(r"[^\w.-]+", "_", request.node.name)
                page.screenshot(path=str(artifacts / f"e2e-FAILED-{name}-{number}.png"), full_page=True,
                                caret="initial")
        context.close()
    assert not problems, "the browser reported: " + "; ".join(problems)


@pytest.fixture
def page(new_page):
    """A page in a new 1280x800 context, closed after the test."""
    return new_page()


@pytest.fixture
def shot(artifacts):
    """shot(page, "name") saves tests/artifacts/e2e-name.png (the full page).

    caret="initial": Playwright's default caret hiding leaves `style=""` on every input, which htmx then
    copies while settling a swap, and the app's CSP (style-src 'self') blocks that as an inline style.
    """
    def take(page, name: str) -> Path:
        path = artifacts / f"e2e-{name}.png"
        page.screenshot(path=str(path), full_page=True, caret="initial")
        return path

    return take


@pytest.fixture
def login():
    """Sign in through the /login form as a make_tenant admin; lands on the workspace home."""
    from playwright.sync_api import expect

    def sign_in(page, tenant, password: str = PASSWORD):
        page.goto("/login")
        page.get_by_label("Email").fill(f"admin@{tenant.slug}.example")
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile(rf"/{re.escape(tenant.slug)}/$"))
        expect(page.locator(".topbar .brand")).to_contain_text(tenant.name)
        page_ready(page)

    return sign_in
