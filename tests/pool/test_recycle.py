"""Recycle rules: the settings page, and the daily run that warns owners first and then returns their
customers to the pool; a second run the same day changes nothing."""
from datetime import timedelta

import pytest
from rq import SimpleWorker
from sqlalchemy import func, select

from crm.accounts.models import OutboundEmail
from crm.customers.models import Customer, Tag
from crm.customers.writes import add_tag
from crm.extensions import db, utcnow
from crm.pool.models import RecycleRule
from tests.conftest import HX


def days_ago(days: float):
    return utcnow() - timedelta(days=days)


@pytest.fixture
def rule(acme, in_tenant):
    """Add a recycle rule directly; returns its id."""

    def make(name="Quiet 10 days", kind="no_follow_up", days=10, warn=3, **fields) -> int:
        def add():
            row = RecycleRule(name=name, kind=kind, days=days, warn_days_before=warn,
                              **{"levels": [], "tag_ids": [], **fields})
            db.session.add(row)
            db.session.flush()
            return row.id

        return in_tenant(acme, add)

    return make


@pytest.fixture
def run(app, acme):
    """The per-tenant job, run synchronously; returns its counts."""
    from crm.pool.jobs import recycle

    def go() -> dict:
        with app.app_context():
            return recycle(acme.id)

    return go


@pytest.fixture
def mails(app):
    """Outbox rows sent to an address, as (subject, body)."""

    def read(address: str) -> list[tuple[str, str]]:
        with app.app_context():
            return [(m.subject, m.body_text) for m in db.session.scalars(
                select(OutboundEmail).where(func.lower(OutboundEmail.to_address) == address.lower())
                .order_by(OutboundEmail.id))]

    return read


def email_of(app, account_id: int) -> str:
    from crm.accounts.models import Account

    with app.app_context():
        return db.session.get(Account, account_id).email


def test_no_follow_up_warns_once_then_returns_the_customer(app, acme, people, owned, change, rule, run, mails,
                                                           customer_row, events):
    rule_id = rule(name="Quiet 10 days", days=10, warn=3)
    rep = people["rep"].member_id
    quiet = owned(rep, "Quiet Customer")
    change(quiet, owned_since=days_ago(40), last_contact_at=days_ago(20))
    almost = owned(rep, "Almost Due")  # back in 3 days: warned now
    change(almost, owned_since=days_ago(40), last_contact_at=days_ago(8))
    fresh = owned(rep, "Fresh Contact")
    change(fresh, owned_since=days_ago(40), last_contact_at=days_ago(6))
    new_owner = owned(rep, "New Owner")  # contacted long ago, but the rep got it yesterday
    change(new_owner, owned_since=days_ago(1), last_contact_at=days_ago(30))

    assert run() == {"recycled": 0, "warned": 2, "emails": 1}  # warned first, never returned unwarned
    [(subject, body)] = mails(email_of(app, people["rep"].account_id))
    assert subject == "2 customers return to the pool soon"
    assert "Quiet Customer" in body and "Almost Due" in body and "Fresh Contact" not in body
    assert "New Owner" not in body and "rule: Quiet 10 days" in body
    assert f"/{acme.slug}/customers/{quiet}" in body
    assert run() == {"recycled": 0, "warned": 0, "emails": 0}  # the same day again: nothing more
    assert len(mails(email_of(app, people["rep"].account_id))) == 1

    change(quiet, recycle_warned_at=days_ago(3))  # three days pass after the warning
    assert run() == {"recycled": 1, "warned": 0, "emails": 0}
    row = customer_row(quiet)
    assert row.owner_id is None and row.pool_reason == "Quiet 10 days" and row.pooled_at is not None
    assert events(quiet)[-1] == ("pool_recycled", {"rule": "Quiet 10 days", "owner_id": rep})
    assert customer_row(almost).owner_id == rep and customer_row(fresh).owner_id == rep
    assert run() == {"recycled": 0, "warned": 0, "emails": 0}
    assert [kind for kind, _payload in events(quiet)].count("pool_recycled") == 1
    assert rule_id


def test_rule_without_warning_returns_at_once_and_level_and_tag_filters_apply(acme, people, owned, change, rule,
                                                                              run, customer_row, in_tenant):
    def tag():
        vip = Tag(name="vip", color="yellow")
        db.session.add(vip)
        db.session.flush()
        return vip.id

    vip = in_tenant(acme, tag)
    rule(name="Level A with vip", days=5, warn=0, levels=["A"], tag_ids=[vip])
    rep = people["rep"].member_id
    ids = {name: owned(rep, name, level=level) for name, level in (
        ("A with vip", "A"), ("A without tag", "A"), ("B with vip", "B"))}
    for customer_id in ids.values():
        change(customer_id, owned_since=days_ago(30))
    for name in ("A with vip", "B with vip"):
        in_tenant(acme, lambda name=name: add_tag([db.session.get(Customer, ids[name])], db.session.get(Tag, vip)))
    assert run()["recycled"] == 1
    assert customer_row(ids["A with vip"]).owner_id is None
    assert customer_row(ids["A without tag"]).owner_id == rep and customer_row(ids["B with vip"]).owner_id == rep


def test_no_won_deal_counts_from_the_last_won_deal(acme, people, owned, change, rule, run, customer_row, in_tenant):
    from crm.deals.models import Deal, Pipeline, Stage

    rule(name="No win in 30 days", kind="no_won_deal", days=30, warn=0)
    rep = people["rep"].member_id
    recent, stale, never = owned(rep, "Won Lately"), owned(rep, "Won Long Ago"), owned(rep, "Never Won")
    young = owned(rep, "Owned Last Week")
    for customer_id in (recent, stale, never):
        change(customer_id, owned_since=days_ago(200), last_contact_at=days_ago(1))
    change(young, owned_since=days_ago(7))

    def deals():
        pipeline = db.session.scalar(select(Pipeline))
        stage = db.session.scalar(select(Stage).where(Stage.pipeline_id == pipeline.id, Stage.kind == "won"))
        for customer_id, closed in ((recent, days_ago(5)), (stale, days_ago(45))):
            db.session.add(Deal(title="Deal", customer_id=customer_id, pipeline_id=pipeline.id, stage_id=stage.id,
                                currency="CNY", status="won", closed_at=closed, owner_id=rep))
        db.session.add(Deal(title="Open", customer_id=never, pipeline_id=pipeline.id, stage_id=stage.id,
                            currency="CNY", status="open", owner_id=rep))

    in_tenant(acme, deals)
    assert run()["recycled"] == 2
    assert customer_row(recent).owner_id == rep and customer_row(young).owner_id == rep
    assert customer_row(stale).owner_id is None and customer_row(never).owner_id is None


def test_manager_is_warned_about_the_team_and_mail_is_delivered(app, acme, people, owned, change, rule, run,
                                                                 smtp_server):
    from crm.jobs import queue

    rule(name="Team watch", days=10, warn=3, notify_manager=True)
    customer = owned(people["rep"].member_id, "Team Customer")
    change(customer, owned_since=days_ago(9))
    app.config["SMTP_URL"] = smtp_server.url
    try:
        assert run()["emails"] == 2
        with app.app_context():
            SimpleWorker([queue("notify")], connection=queue().connection).work(burst=True)
    finally:
        app.config["SMTP_URL"] = ""
    rep_mail = email_of(app, people["rep"].account_id)
    manager_mail = email_of(app, people["manager"].account_id)
    to_rep = [m for m in smtp_server.messages if m["To"] == rep_mail]
    to_manager = [m for m in smtp_server.messages if m["To"] == manager_mail]
    assert len(to_rep) == 1 and len(to_manager) == 1
    assert to_rep[0]["Subject"] == "1 customer returns to the pool soon"
    body = to_manager[0].get_payload(decode=True).decode()
    assert "Team Customer (owner: Rui Rep)" in body and "Hello Mia Manager" in body


def test_pool_page_shows_my_customers_returning_soon(acme, people, owned, change, rule, client_as):
    rule(name="Fortnight", days=14, warn=5)
    soon, later = owned(people["rep"].member_id, "Soon Back"), owned(people["rep"].member_id, "Later Back")
    change(soon, owned_since=days_ago(12))
    change(later, owned_since=days_ago(2))
    page = client_as(people["rep"].account_id).get(f"/{acme.slug}/pool/")
    assert "Your customers returning to the pool soon" in page.text
    assert "Soon Back" in page.text and "Later Back" not in page.text and "Fortnight" in page.text
    other = client_as(people["rep2"].account_id).get(f"/{acme.slug}/pool/")
    assert "returning to the pool soon" not in other.text


def test_rules_page_adds_edits_switches_off_and_deletes(acme, client_as, people, in_tenant):
    admin = client_as(acme.admin_account_id)
    assert "No rules yet" in admin.get(f"/{acme.slug}/pool/rules").text
    assert admin.get(f"/{acme.slug}/pool/rules/new", headers=HX).status_code == 200
    bad = admin.post(f"/{acme.slug}/pool/rules", data={"name": "", "kind": "sometimes", "days": "ten",
                                                       "warn_days_before": "-1"}, headers=HX)
    assert bad.status_code == 422
    assert "Enter a name of 1 to 80 characters." in bad.text and "Choose one of the listed values." in bad.text
    assert "Enter a whole number from 1 to 3650." in bad.text and "Enter a whole number from 0 to 3649." in bad.text
    too_late = admin.post(f"/{acme.slug}/pool/rules", data={"name": "X", "kind": "no_follow_up", "days": "5",
                                                            "warn_days_before": "5"}, headers=HX)
    assert too_late.status_code == 422 and "Warn fewer days ahead than the rule&#39;s 5 days." in too_late.text
    assert 'value="X"' in too_late.text  # what was typed stays
    made = admin.post(f"/{acme.slug}/pool/rules", data={"name": "Quiet month", "kind": "no_follow_up",
                                                        "days": "30", "warn_days_before": "3", "levels": ["A", "B"],
                                                        "active": "y"}, follow_redirects=True)
    assert "Rule Quiet month added." in made.text and "30 days without a follow-up" in made.text
    assert "Levels A, B" in made.text
    rule_id = in_tenant(acme, lambda: db.session.scalar(select(RecycleRule.id).where(RecycleRule.name == "Quiet month")))
    duplicate = admin.post(f"/{acme.slug}/pool/rules", data={"name": "quiet MONTH", "kind": "no_won_deal",
                                                             "days": "30", "warn_days_before": "0"}, headers=HX)
    assert duplicate.status_code == 422 and "A rule with this name exists." in duplicate.text
    edit = admin.get(f"/{acme.slug}/pool/rules/{rule_id}/edit", headers=HX)
    assert 'value="Quiet month"' in edit.text
    edited = admin.post(f"/{acme.slug}/pool/rules/{rule_id}", data={
        "name": "Quiet quarter", "kind": "no_won_deal", "days": "90", "warn_days_before": "7", "active": "y",
        "notify_manager": "y"}, follow_redirects=True)
    assert "Rule Quiet quarter saved." in edited.text and "90 days without a won deal" in edited.text
    assert "7 days before, manager too" in edited.text
    off = admin.post(f"/{acme.slug}/pool/rules/{rule_id}/active", data={"active": "0"}, follow_redirects=True)
    assert "Rule Quiet quarter is off." in off.text
    assert in_tenant(acme, lambda: db.session.get(RecycleRule, rule_id).active) is False
    gone = admin.post(f"/{acme.slug}/pool/rules/{rule_id}/delete", follow_redirects=True)
    assert "Rule Quiet quarter deleted." in gone.text and "No rules yet" in gone.text
    assert admin.get(f"/{acme.slug}/pool/rules/{rule_id}/edit").status_code == 404
    rep = client_as(people["rep"].account_id)
    assert rep.get(f"/{acme.slug}/pool/rules").status_code == 403
    assert rep.post(f"/{acme.slug}/pool/rules", data={"name": "Sneaky"}).status_code == 403


def test_platform_job_queues_every_tenant_and_cli_runs_one(app, acme, globex, people, owned, change, rule,
                                                           customer_row):
    from crm.jobs import queue
    from crm.pool.jobs import recycle_all_tenants

    rule(name="Now", days=1, warn=0)
    customer = owned(people["rep"].member_id, "Overdue")
    change(customer, owned_since=days_ago(5))
    result = app.test_cli_runner().invoke(args=["pool", "recycle", "--tenant", acme.slug])
    assert result.exit_code == 0 and f"{acme.slug}" in result.output and "1 returned to the pool" in result.output
    assert customer_row(customer).owner_id is None
    assert app.test_cli_runner().invoke(args=["pool", "recycle", "--tenant", "no-such"]).exit_code != 0
    with app.app_context():
        assert recycle_all_tenants() >= 2
        jobs = queue().get_jobs()
        assert {job.args[0] for job in jobs if job.func_name == "crm.pool.jobs.recycle"} >= {acme.id, globex.id}
        SimpleWorker([queue()], connection=queue().connection).work(burst=True)
    assert customer_row(customer).owner_id is None
