"""The operator console: 404 for anyone but an operator (a tenant admin included), refused without two-step
sign-in, the operator flag given by the CLI; tenants with plan, state and usage counts (never their data), searched
and sorted; suspend, restore, extend a trial and change the plan, each audited in public.operator_actions."""
from datetime import timedelta
from html import unescape

import pyotp
import pytest
from sqlalchemy import select

from crm.extensions import db


@pytest.fixture
def operator(app, make_tenant):
    """An operator account (given by the CLI) with two-step sign-in on; its id."""
    from crm.accounts.models import Account
    from crm.two_factor import service as two_factor

    ops = make_tenant("Platform Ops")
    with app.app_context():
        account = db.session.get(Account, ops.admin_account_id)
        email = account.email
        secret = two_factor.new_secret()
        two_factor.enable(account, secret, pyotp.TOTP(secret).now())
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["platform", "grant-operator", email.upper()])
    assert result.exit_code == 0 and f"{email} is an operator; two-step sign-in is on" in result.output
    return ops.admin_account_id


def actions(app, tenant_id=None):
    from crm.platform.models import OperatorAction

    with app.app_context():
        stmt = select(OperatorAction).order_by(OperatorAction.id)
        if tenant_id:
            stmt = stmt.where(OperatorAction.tenant_id == tenant_id)
        return [(a.action, a.changes, a.operator_email, a.ip) for a in db.session.scalars(stmt)]


def test_anyone_but_an_operator_gets_404_and_an_operator_needs_a_second_factor(app, acme, admin, client_as,
                                                                                make_tenant):
    assert app.test_client().get("/platform/").status_code == 404
    assert admin.get("/platform/").status_code == 404  # a tenant admin
    assert admin.post(f"/platform/tenants/{acme.id}/suspend").status_code == 404
    assert admin.get(f"/platform/tenants/{acme.id}").status_code == 404

    other = make_tenant("Second Ops")
    result = app.test_cli_runner().invoke(args=["platform", "grant-operator", f"admin@{other.slug}.example"])
    assert "two-step sign-in is off" in result.output
    without = client_as(other.admin_account_id)
    page = without.get("/platform/")
    assert page.status_code == 403 and "Two-step sign-in is needed" in page.text
    assert without.post(f"/platform/tenants/{acme.id}/suspend").status_code == 403
    assert app.test_cli_runner().invoke(args=["platform", "grant-operator", "nobody@example.com"]).exit_code == 1
    with app.app_context():
        from tenants.models import Tenant

        assert db.session.get(Tenant, acme.id).status == "active"
    assert [a[0] for a in actions(app)][-1:] == ["grant_operator"]


def test_the_console_lists_counts_searches_and_sorts_but_never_shows_business_data(
        app, acme, globex, operator, client_as, make_customer):
    from crm.billing.usage import count_usage

    make_customer(acme, name="Secret Buyer 秘密")
    make_customer(acme, name="Another Buyer")
    count_usage(acme.id)
    count_usage(globex.id)
    console = client_as(operator)
    page = console.get("/platform/?sort=customers&dir=desc").text
    assert page.index(f"/{acme.slug}") < page.index(f"/{globex.slug}")  # most customers first
    row = page[page.index(f'id="tenant-{acme.id}"'):]
    row = row[:row.index("</tr>")]
    assert "Unlimited" in row and "<td>2</td>" in row  # self-hosted plan; two customers
    assert "Secret Buyer" not in page
    found = console.get(f"/platform/?q={globex.slug}").text
    assert f"/{globex.slug}" in found and f"/{acme.slug}<" not in found
    detail = console.get(f"/platform/tenants/{acme.id}").text
    assert "Secret Buyer" not in detail and "Customers 2" in detail


def test_suspend_restore_extend_trial_and_change_plan_are_done_and_audited(app, acme, admin, operator, client_as):
    from crm.billing import service as billing
    from crm.billing.models import Subscription

    console = client_as(operator)
    assert console.post(f"/platform/tenants/{acme.id}/suspend").status_code == 303
    assert admin.get(f"/{acme.slug}/customers/").status_code == 403
    assert console.post(f"/platform/tenants/{acme.id}/restore").status_code == 303
    assert admin.get(f"/{acme.slug}/customers/").status_code == 200

    with app.app_context():
        trial_end = db.session.get(Subscription, acme.id).trial_ends_at
    assert console.post(f"/platform/tenants/{acme.id}/trial", data={"days": "10"}).status_code == 303
    with app.app_context():
        assert db.session.get(Subscription, acme.id).trial_ends_at == trial_end + timedelta(days=10)
    bad = console.post(f"/platform/tenants/{acme.id}/trial", data={"days": "0"}, follow_redirects=True)
    assert "Enter a whole number from 1 to 365." in unescape(bad.text)

    assert console.post(f"/platform/tenants/{acme.id}/plan", data={"plan": "free"}).status_code == 303
    assert console.post(f"/platform/tenants/{acme.id}/plan", data={"plan": "nope"}).status_code == 303
    app.config["STRIPE_SECRET_KEY"] = "sk_test_local"
    try:
        with app.app_context():
            assert billing.standing(acme.id).plan.key == "free" and billing.standing(acme.id).status == "active"
    finally:
        app.config["STRIPE_SECRET_KEY"] = ""

    with app.app_context():
        from crm.accounts.models import Account

        email = db.session.get(Account, operator).email
    done = actions(app, acme.id)
    assert [(a[0], a[2], a[3]) for a in done] == [(name, email, "127.0.0.1") for name in (
        "suspend", "restore", "extend_trial", "change_plan")]
    assert done[0][1] == {"status": ["active", "suspended"]} and done[3][1]["plan"] == ["pro", "free"]
    page = console.get(f"/platform/tenants/{acme.id}").text
    listed = page[page.index('id="operator-actions"'):]
    assert listed.count(email) == 4 and "change_plan" in listed
