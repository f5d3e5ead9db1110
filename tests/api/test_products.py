"""/api/v1/products: the catalogue searched as on its page, a product added and changed with the form's messages,
If-Match, deleting as the page's Deactivate, the audit log naming the token, and the roles' permissions."""
from sqlalchemy import select

from crm.audit.models import AuditEntry
from crm.extensions import db
from crm.products.models import Product
from tests.conftest import bearer


def test_the_catalogue_is_searched_and_paged_as_on_its_page(acme, api, token, make_product, in_tenant):
    tea, paper = make_product(acme, name="Green tea", sku="T-1"), make_product(acme, name="A4 paper", sku="P-1")
    old = make_product(acme, name="Old tea")
    in_tenant(acme, lambda: setattr(db.session.get(Product, old), "active", False))
    listed = api.get("/api/v1/products/", headers=bearer(token))
    assert listed.status_code == 200 and [p["id"] for p in listed.json["data"]] == [paper, tea]
    assert listed.json["data"][1] | {"created_at": None, "updated_at": None} == {
        "id": tea, "name": "Green tea", "sku": "T-1", "unit": None, "price": "19.99", "currency": "CNY",
        "active": True, "created_at": None, "updated_at": None}
    found = api.get("/api/v1/products/?q=tea&include_inactive=true", headers=bearer(token)).json["data"]
    assert [(p["name"], p["active"]) for p in found] == [("Green tea", True), ("Old tea", False)]
    assert [p["id"] for p in api.get("/api/v1/products/?q=p-1", headers=bearer(token)).json["data"]] == [paper]
    first = api.get("/api/v1/products/?limit=1&include_inactive=1", headers=bearer(token)).json
    second = api.get("/api/v1/products/", query_string={"limit": 1, "include_inactive": 1,
                                                       "after": first["next_cursor"]}, headers=bearer(token)).json
    assert [p["id"] for p in first["data"] + second["data"]] == [paper, tea] and second["next_cursor"]
    since = api.get("/api/v1/products/", query_string={"updated_since": "2999-01-01T00:00:00Z"},
                    headers=bearer(token))
    assert since.json == {"data": [], "next_cursor": None}


def test_adding_a_product_with_the_forms_messages(acme, api, token, make_product, in_tenant):
    make_product(acme, name="Taken", sku="SKU-1")
    bad = api.post("/api/v1/products/", json={"name": " ", "sku": "SKU-1", "price": "1.999"}, headers=bearer(token))
    assert bad.status_code == 422 and bad.content_type == "application/problem+json"
    assert bad.json["errors"] == {"name": "Name is required.", "sku": "Another product already has this SKU.",
                                  "price": "Enter an amount like 19.99 (at most two decimals)."}
    typed = api.post("/api/v1/products/", json={"name": "Box", "price": True, "colour": "red"}, headers=bearer(token))
    assert typed.status_code == 422 and set(typed.json["errors"]) == {"price", "colour"}
    assert in_tenant(acme, lambda: db.session.scalars(select(Product.name)).all()) == ["Taken"]
    made = api.post("/api/v1/products/", json={"name": "A4 paper", "unit": "box", "price": 35},
                    headers=bearer(token, **{"Idempotency-Key": "erp-product-1"}))
    assert made.status_code == 201 and made.headers["Location"] == f"/api/v1/products/{made.json['id']}"
    assert (made.json["price"], made.json["unit"], made.json["active"]) == ("35.00", "box", True)
    again = api.post("/api/v1/products/", json={"name": "A4 paper", "unit": "box", "price": 35},
                     headers=bearer(token, **{"Idempotency-Key": "erp-product-1"}))
    assert again.json == made.json and len(in_tenant(acme, lambda: db.session.scalars(select(Product)).all())) == 2


def test_patch_with_if_match_and_delete_deactivates_audited_with_the_tokens_name(acme, api, make_api_token,
                                                                                  make_product, in_tenant):
    token = make_api_token(acme, name="Kingdee ERP")
    product_id = make_product(acme, name="Tea", sku="T-9")
    url = f"/api/v1/products/{product_id}"
    etag = api.get(url, headers=bearer(token)).headers["ETag"]
    changed = api.patch(url, json={"price": "21.50"}, headers=bearer(token, **{"If-Match": etag}))
    assert changed.status_code == 200 and (changed.json["price"], changed.json["name"], changed.json["sku"]) == (
        "21.50", "Tea", "T-9")
    stale = api.patch(url, json={"name": "Lost update"}, headers=bearer(token, **{"If-Match": etag}))
    assert stale.status_code == 412 and in_tenant(acme, lambda: db.session.get(Product, product_id).name) == "Tea"
    bad = api.patch(url, json={"price": "-1"}, headers=bearer(token))
    assert bad.status_code == 422 and list(bad.json["errors"]) == ["price"]
    gone = api.delete(url, headers=bearer(token, **{"If-Match": changed.headers["ETag"]}))
    assert gone.status_code == 204 and in_tenant(acme, lambda: db.session.get(Product, product_id).active) is False
    assert api.get(url, headers=bearer(token)).json["active"] is False  # kept: past orders name it
    assert api.get("/api/v1/products/", headers=bearer(token)).json["data"] == []
    back = api.patch(url, json={"active": True}, headers=bearer(token))
    assert back.status_code == 200 and back.json["active"] is True
    actors = in_tenant(acme, lambda: db.session.execute(select(AuditEntry.action, AuditEntry.actor_name).where(
        AuditEntry.entity == "product", AuditEntry.entity_id == product_id).order_by(AuditEntry.id)).all())
    assert [action for action, _actor in actors] == ["create", "update", "update", "update"]
    assert {actor for _action, actor in actors[1:]} == {"Ada Admin · API: Kingdee ERP"}


def test_a_reps_token_reads_the_catalogue_but_may_not_change_it(acme, api, people, make_api_token, make_product,
                                                                in_tenant):
    product_id = make_product(acme)
    token = make_api_token(acme, people["rep"].member_id)
    assert [p["id"] for p in api.get("/api/v1/products/", headers=bearer(token)).json["data"]] == [product_id]
    assert api.post("/api/v1/products/", json={"name": "X", "price": 1}, headers=bearer(token)).status_code == 403
    refused = api.patch(f"/api/v1/products/{product_id}", json={"name": "X"}, headers=bearer(token))
    assert refused.status_code == 403 and refused.content_type == "application/problem+json"
    assert api.delete(f"/api/v1/products/{product_id}", headers=bearer(token)).status_code == 403
    assert in_tenant(acme, lambda: db.session.get(Product, product_id).active) is True
    assert api.get("/api/v1/products/999999", headers=bearer(token)).status_code == 404
