"""Two-step sign-in in Chromium: the QR code shows under the CSP, enrolment, then sign-in with a code."""
import re
import time

import pyotp
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD

pytestmark = pytest.mark.e2e


def test_set_up_two_step_sign_in_then_sign_in_with_a_code(page, make_tenant, login, shot):
    tenant = make_tenant()
    login(page, tenant)
    page.locator(".topbar .menu summary").click()
    page.get_by_role("link", name="Your account").click()
    page.get_by_role("link", name="Set up or turn off").click()
    qr = page.get_by_role("img", name="QR code for your authenticator app")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.complete && img.naturalWidth > 100")  # the data: SVG loaded (CSP allows it)
    shot(page, "two-factor-01-setup")
    secret = page.locator("#secret").inner_text()
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(page.get_by_role("heading", name="Two-step sign-in is on")).to_be_visible()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    shot(page, "two-factor-02-recovery-codes")

    page.locator(".topbar .menu summary").click()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Email").fill(f"admin@{tenant.slug}.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/login/code"))
    page.get_by_label("Code", exact=True).fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_label("Remember this device for 30 days").check()
    shot(page, "two-factor-03-code-step")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(rf"/{re.escape(tenant.slug)}/$"))
    cookie = next(c for c in page.context.cookies() if c["name"] == "crm_device")
    assert cookie["httpOnly"] and cookie["path"] == "/login"
