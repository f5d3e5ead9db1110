"""API tokens: made on the profile's token page and shown once, stored as a hash, expiring, revocable; what a call
without a good token gets."""
import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from crm.api.models import ApiToken
from crm.audit.models import AuditEntry
from crm.extensions import db, utcnow
from tests.conftest import bearer


def test_a_token_is_shown_once_and_stored_only_as_its_hash(acme, admin, in_tenant, app):
    page = admin.post(f"/{acme.slug}/profile/tokens/", data={"name": "ERP sync", "lifetime": "30"})
    assert page.status_code == 200
    secret = re.search(r'id="new-token">([^<]+)<', page.text).group(1)
    assert secret.startswith(f"crm_{acme.id}_")
    row = in_tenant(acme, lambda: db.session.execute(select(ApiToken.__table__)).one()._asdict())
    assert row["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert not any(secret[-20:] in str(value) for value in row.values())
    assert timedelta(days=29) < row["expires_at"] - utcnow() <= timedelta(days=30)
    listing = admin.get(f"/{acme.slug}/profile/tokens/")
    assert "ERP sync" in listing.text and secret not in listing.text and "Never used" in listing.text
    answer = app.test_client().get("/api/v1/customers/", headers=bearer(secret), environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert answer.status_code == 200
    listing = admin.get(f"/{acme.slug}/profile/tokens/")
    assert "10.1.2.3" in listing.text and "Never used" not in listing.text


def test_a_token_needs_a_name_and_a_listed_lifetime(acme, admin, in_tenant):
    page = admin.post(f"/{acme.slug}/profile/tokens/", data={"name": " ", "lifetime": "9999"})
    assert page.status_code == 422
    assert "Name the token." in page.text and "Choose one of the listed values." in page.text
    assert in_tenant(acme, lambda: db.session.scalars(select(ApiToken)).all()) == []


def test_a_revoked_token_is_refused_at_once_and_the_revoke_is_audited(acme, admin, make_api_token, in_tenant, app):
    secret = make_api_token(acme)
    client = app.test_client()
    assert client.get("/api/v1/tags/", headers=bearer(secret)).status_code == 200
    token_id = in_tenant(acme, lambda: db.session.scalar(select(ApiToken.id)))
    assert admin.post(f"/{acme.slug}/profile/tokens/{token_id}/revoke").status_code == 303
    refused = client.get("/api/v1/tags/", headers=bearer(secret))
    assert refused.status_code == 401 and refused.content_type == "application/problem+json"
    assert "Revoked" in admin.get(f"/{acme.slug}/profile/tokens/").text
    actions = in_tenant(acme, lambda: db.session.execute(
        select(AuditEntry.action, AuditEntry.summary).where(AuditEntry.entity == "api_token")).all())
    assert sorted(actions) == [("create", "ERP sync"), ("delete", "ERP sync")]


def test_a_member_revokes_only_their_own_tokens(acme, admin, add_member, client_as, make_api_token, in_tenant, app):
    account, member = add_member(acme, "admin", "Other Admin")
    secret = make_api_token(acme, member, name="Their warehouse")
    token_id = in_tenant(acme, lambda: db.session.scalar(select(ApiToken.id)))
    assert admin.post(f"/{acme.slug}/profile/tokens/{token_id}/revoke").status_code == 404
    assert app.test_client().get("/api/v1/tags/", headers=bearer(secret)).status_code == 200
    assert "Their warehouse" not in admin.get(f"/{acme.slug}/profile/tokens/").text


def test_an_expired_token_is_refused(acme, make_api_token, in_tenant, app):
    secret = make_api_token(acme)
    in_tenant(acme, lambda: db.session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1))))
    answer = app.test_client().get("/api/v1/customers/", headers=bearer(secret))
    assert answer.status_code == 401
    assert answer.json["status"] == 401 and "Authorization: Bearer" in answer.json["detail"]
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_deactivated_members_token_is_refused(acme, add_member, make_api_token, in_tenant, app):
    from crm.members.models import Member

    _account, member_id = add_member(acme, "sales_rep")
    secret = make_api_token(acme, member_id)
    in_tenant(acme, lambda: setattr(db.session.get(Member, member_id), "active", False))
    assert app.test_client().get("/api/v1/customers/", headers=bearer(secret)).status_code == 401


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer crm_1_short",
                                    "Bearer crm_999999_" + "a" * 43, "Bearer crm_0_" + "a" * 43])
def test_a_call_without_a_good_token_is_401_problem_json(acme, app, header):
    answer = app.test_client().get("/api/v1/customers/", headers={"Authorization": header} if header else {})
    assert answer.status_code == 401
    assert answer.content_type == "application/problem+json"
    assert answer.json["title"] == "Unauthorized"
    assert "Set-Cookie" not in answer.headers


def test_a_forged_secret_naming_a_real_tenant_is_refused(acme, make_api_token, app):
    secret = make_api_token(acme)
    forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    assert app.test_client().get("/api/v1/customers/", headers=bearer(forged)).status_code == 401


def test_a_signed_in_browser_cookie_is_no_api_credential(acme, admin):
    answer = admin.get("/api/v1/customers/")
    assert answer.status_code == 401 and answer.content_type == "application/problem+json"


def test_a_suspended_workspace_refuses_its_tokens(acme, make_api_token, app):
    from tenants.models import Tenant

    secret = make_api_token(acme)
    with app.app_context():
        db.session.execute(update(Tenant).where(Tenant.id == acme.id).values(status="suspended"))
        db.session.commit()
    answer = app.test_client().get("/api/v1/customers/", headers=bearer(secret))
    assert answer.status_code == 403 and answer.json["detail"] == "This workspace is suspended."
