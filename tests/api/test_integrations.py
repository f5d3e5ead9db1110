"""Integration tokens (Settings > Integration tokens): an admin's token for an ERP acts as a member of its own with the
role the admin picked; that member signs in nowhere, holds no seat, is named in the audit log, and revoking the
token ends it."""
import re

from sqlalchemy import func, select

from crm.audit.models import AuditEntry
from crm.extensions import db
from crm.members.models import Member
from tests.conftest import bearer

PAGE = "/{slug}/settings/integrations/tokens/"


def create_integration(admin, acme, name: str, role: int) -> str:
    """Make an integration through the page; returns its token, shown once."""
    page = admin.post(PAGE.format(slug=acme.slug), data={"name": name, "role_id": role, "lifetime": "90"})
    assert page.status_code == 200, page.text
    return re.search(r'id="new-token">(crm_[^<]+)<', page.text).group(1)


def seats(in_tenant, acme) -> int:
    from crm.members.service import seats_taken

    return in_tenant(acme, seats_taken)


def test_an_integration_acts_with_the_role_the_admin_picked_and_takes_no_seat(acme, admin, api, role_id, in_tenant,
                                                                             make_customer):
    before = seats(in_tenant, acme)
    admins_customer = make_customer(acme, name="The admin's customer")
    rep_like = create_integration(admin, acme, "Kingdee ERP", role_id(acme, "sales_rep"))
    everything = create_integration(admin, acme, "Finance sync", role_id(acme, "admin"))
    assert seats(in_tenant, acme) == before

    # A sales rep's scope: its own customers only; what it creates is its own, and the audit log names it.
    assert api.get("/api/v1/customers/", headers=bearer(rep_like)).json["data"] == []
    assert api.get(f"/api/v1/customers/{admins_customer}", headers=bearer(rep_like)).status_code == 404
    made = api.post("/api/v1/customers/", json={"name": "From the ERP"}, headers=bearer(rep_like))
    assert made.status_code == 201, made.text
    assert [c["id"] for c in api.get("/api/v1/customers/", headers=bearer(rep_like)).json["data"]] == [made.json["id"]]
    assert api.get("/api/v1/members/", headers=bearer(rep_like)).status_code == 403  # a rep may not list members
    actor = in_tenant(acme, lambda: db.session.scalar(select(AuditEntry.actor_name).where(
        AuditEntry.entity == "customer", AuditEntry.entity_id == made.json["id"])))
    assert actor == "Kingdee ERP · API: Kingdee ERP"
    # The Admin role: every customer.
    listed = {c["id"] for c in api.get("/api/v1/customers/", headers=bearer(everything)).json["data"]}
    assert {admins_customer, made.json["id"]} <= listed

    page = admin.get(PAGE.format(slug=acme.slug)).text
    assert "Kingdee ERP" in page and "Sales rep" in page and "Finance sync" in page
    members_page = admin.get(f"/{acme.slug}/settings/members").text
    assert "Kingdee ERP" not in members_page and "Finance sync" not in members_page
    assert "Kingdee ERP" not in admin.get(f"/{acme.slug}/customers/new").text  # nobody's choice of owner


def test_an_integration_cannot_sign_in_and_revoking_it_ends_it(acme, admin, api, app, role_id, in_tenant):
    from crm.accounts.models import Account
    from crm.api.models import ApiToken
    from tenants.models import Membership

    with app.app_context():
        memberships = db.session.scalar(select(func.count()).select_from(Membership)
                                        .where(Membership.tenant_id == acme.id))
        accounts = db.session.scalar(select(func.count()).select_from(Account))
    secret = create_integration(admin, acme, "Kingdee ERP", role_id(acme, "admin"))
    member_id, account_id, email = in_tenant(acme, lambda: db.session.execute(select(
        Member.id, Member.account_id, Member.email).where(Member.kind == "integration")).one())
    assert account_id is None and email == ""
    with app.app_context():  # no account to sign in with, no membership of the workspace
        assert db.session.scalar(select(func.count()).select_from(Membership)
                                 .where(Membership.tenant_id == acme.id)) == memberships
        assert db.session.scalar(select(func.count()).select_from(Account)) == accounts
    browser = app.test_client()  # its name and token are no sign-in either
    assert browser.post("/login", data={"email": "Kingdee ERP", "password": secret}).status_code == 422
    assert browser.get(f"/{acme.slug}/customers/").status_code in (302, 303)

    assert api.get("/api/v1/customers/", headers=bearer(secret)).status_code == 200
    token_id = in_tenant(acme, lambda: db.session.scalar(select(ApiToken.id).where(ApiToken.member_id == member_id)))
    done = admin.post(f"{PAGE.format(slug=acme.slug)}{token_id}/revoke")
    assert done.status_code == 303
    assert "Integration Kingdee ERP revoked." in admin.get(done.headers["Location"]).text
    assert api.get("/api/v1/customers/", headers=bearer(secret)).status_code == 401
    assert in_tenant(acme, lambda: db.session.get(Member, member_id).active) is False
    audit = in_tenant(acme, lambda: db.session.execute(select(AuditEntry.action, AuditEntry.summary).where(
        AuditEntry.entity == "integration").order_by(AuditEntry.id)).all())
    assert [tuple(row) for row in audit] == [("create", "Kingdee ERP"), ("delete", "Kingdee ERP")]


def test_only_member_managers_make_integrations_and_a_role_is_required(acme, admin, add_member, client_as, role_id):
    page = admin.post(PAGE.format(slug=acme.slug), data={"name": "", "role_id": "", "lifetime": "90"})
    assert page.status_code == 422 and "Name the integration." in page.text and "Choose a role." in page.text
    account, _member = add_member(acme, role="sales_rep")
    rep = client_as(account)
    assert rep.get(PAGE.format(slug=acme.slug)).status_code == 403
    assert rep.post(PAGE.format(slug=acme.slug), data={"name": "Mine", "role_id": role_id(acme, "admin"),
                                                       "lifetime": "90"}).status_code == 403


def test_an_integrations_follow_up_reminds_in_the_app_only(acme, admin, api, role_id, make_customer, outbox_rows):
    secret = create_integration(admin, acme, "Kingdee ERP", role_id(acme, "admin"))
    customer = make_customer(acme, name="Reminded")
    planned = api.post("/api/v1/activities/", headers=bearer(secret), json={
        "customer_id": customer, "method": "call", "summary": "Call about the invoice",
        "due_at": "2030-01-07T09:30:00+08:00", "remind_minutes": 15})
    assert planned.status_code == 201, planned.text
    assert [channel for channel, *_rest in outbox_rows(acme, kind="reminder")] == ["inapp"]  # no email to nobody
