"""/api/v1 contacts: a customer's contacts listed primary first, added (201, Location, Idempotency-Key), read,
changed (If-Match, primary, campaign opt-out) and removed; the service's messages on bad input; a contact goes
exactly as far as its customer (view scope to read, edit scope to change)."""
from sqlalchemy import select

from crm.audit.models import AuditEntry
from crm.contacts.models import Contact
from crm.extensions import db
from tests.conftest import bearer


def _contacts(in_tenant, tenant):
    return in_tenant(tenant, lambda: [(c.name, c.is_primary) for c in db.session.scalars(
        select(Contact).order_by(Contact.id))])


def test_add_list_read_change_and_remove(acme, api, token, make_customer, in_tenant):
    customer_id = make_customer(acme, name="上海华东贸易有限公司", kind="company")
    url = f"/api/v1/customers/{customer_id}/contacts"
    first = api.post(url, json={"name": "李娜", "title": "采购经理", "mobile": "13800138000",
                                "email": "Li.Na@Example.com"}, headers=bearer(token))
    assert first.status_code == 201 and first.headers["Location"] == f"/api/v1/contacts/{first.json['id']}"
    assert first.headers["ETag"]
    assert (first.json["mobile"], first.json["email"], first.json["is_primary"]) == (
        "+8613800138000", "li.na@example.com", True)  # the first one is primary
    second = api.post(url, json={"name": "王强", "phone": "021 6123 4567", "marketing_opt_out": True},
                      headers=bearer(token))
    assert second.status_code == 201 and second.json["is_primary"] is False
    assert second.json["marketing_opt_out"] is True and second.json["marketing_opt_out_at"]
    listed = api.get(url, headers=bearer(token))
    assert [c["name"] for c in listed.json["data"]] == ["李娜", "王强"]

    one = f"/api/v1/contacts/{second.json['id']}"
    read = api.get(one, headers=bearer(token))
    assert read.json == second.json and read.headers["ETag"] == second.headers["ETag"]
    changed = api.patch(one, json={"title": "Director", "is_primary": True, "marketing_opt_out": False},
                        headers=bearer(token, **{"If-Match": read.headers["ETag"]}))
    assert changed.status_code == 200 and changed.json["title"] == "Director" and changed.json["is_primary"]
    assert changed.json["name"] == "王强" and changed.json["phone"] == "+862161234567"  # what was not sent stays
    assert changed.json["marketing_opt_out"] is False and changed.json["marketing_opt_out_at"] is None
    assert [c["name"] for c in api.get(url, headers=bearer(token)).json["data"]] == ["王强", "李娜"]
    stale = api.patch(one, json={"title": "Again"}, headers=bearer(token, **{"If-Match": read.headers["ETag"]}))
    assert stale.status_code == 412
    refused = api.patch(one, json={"is_primary": False}, headers=bearer(token))
    assert refused.status_code == 422 and refused.json["errors"] == {
        "is_primary": "Make another contact primary instead."}

    assert api.delete(one, headers=bearer(token)).status_code == 204
    assert api.get(one, headers=bearer(token)).status_code == 404
    assert _contacts(in_tenant, acme) == [("李娜", True)]  # the primary part passed to the one left
    audited = in_tenant(acme, lambda: db.session.execute(select(AuditEntry.action, AuditEntry.actor_name).where(
        AuditEntry.entity == "contact").order_by(AuditEntry.id)).all())
    assert [action for action, _actor in audited] == ["create", "create", "update", "update", "delete"]
    assert all(actor.endswith("API: ERP sync") for _action, actor in audited)


def test_bad_input_is_refused_at_its_fields_and_nothing_is_saved(acme, api, token, make_customer, in_tenant):
    customer_id = make_customer(acme, name="Buyer")
    url = f"/api/v1/customers/{customer_id}/contacts"
    refused = api.post(url, json={"title": "x", "mobile": "12", "email": "not-an-email"}, headers=bearer(token))
    assert refused.status_code == 422 and refused.content_type == "application/problem+json"
    assert set(refused.json["errors"]) == {"name", "mobile", "email"}
    assert refused.json["errors"]["name"] == "Name is required."
    typed = api.post(url, json={"name": "Li", "is_primary": "maybe", "owner_id": 1}, headers=bearer(token))
    assert typed.status_code == 422 and set(typed.json["errors"]) == {"is_primary", "owner_id"}
    made = api.post(url, json={"name": "Li"}, headers=bearer(token)).json
    emptied = api.patch(f"/api/v1/contacts/{made['id']}", json={"name": None}, headers=bearer(token))
    assert emptied.status_code == 422 and emptied.json["errors"] == {"name": "Name is required."}
    assert _contacts(in_tenant, acme) == [("Li", True)]


def test_a_retried_create_adds_one_contact(acme, api, token, make_customer, in_tenant):
    customer_id = make_customer(acme, name="Buyer")
    headers = bearer(token, **{"Idempotency-Key": "contact-1"})
    url = f"/api/v1/customers/{customer_id}/contacts"
    first = api.post(url, json={"name": "Once"}, headers=headers)
    again = api.post(url, json={"name": "Once"}, headers=headers)
    assert first.status_code == again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json and _contacts(in_tenant, acme) == [("Once", True)]


def test_a_contact_goes_as_far_as_its_customer(acme, api, people, make_api_token, make_customer, add_member,
                                               in_tenant):
    rep, other = people["rep"], people["west"]
    theirs = make_customer(acme, other.member_id, name="West's")
    west_token, rep_token = make_api_token(acme, other.member_id), make_api_token(acme, rep.member_id)
    contact = api.post(f"/api/v1/customers/{theirs}/contacts", json={"name": "Hidden"},
                       headers=bearer(west_token)).json["id"]
    assert api.get(f"/api/v1/customers/{theirs}/contacts", headers=bearer(rep_token)).status_code == 404
    assert api.post(f"/api/v1/customers/{theirs}/contacts", json={"name": "Sneaked"},
                    headers=bearer(rep_token)).status_code == 404
    for method in ("get", "patch", "delete"):
        answer = getattr(api, method)(f"/api/v1/contacts/{contact}", json={"name": "Changed"} if method == "patch"
                                      else None, headers=bearer(rep_token))
        assert answer.status_code == 404 and "Hidden" not in answer.text, method
    assert _contacts(in_tenant, acme) == [("Hidden", True)]
    reader, reader_member = add_member(acme, "read_only", "Rita Reader")
    reader_token = make_api_token(acme, reader_member)
    assert api.get(f"/api/v1/contacts/{contact}", headers=bearer(reader_token)).json["name"] == "Hidden"
    assert api.patch(f"/api/v1/contacts/{contact}", json={"name": "Changed"},
                     headers=bearer(reader_token)).status_code == 403


def test_the_openapi_document_describes_contacts(api):
    paths = api.get("/api/v1/openapi.json").json["paths"]
    assert set(paths["/api/v1/customers/{customer_id}/contacts"]) >= {"get", "post"}
    assert set(paths["/api/v1/contacts/{contact_id}"]) >= {"get", "patch", "delete"}
