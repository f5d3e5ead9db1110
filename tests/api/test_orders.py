"""/api/v1/orders as an ERP uses it: pull new orders (with lines, totals and history) since a time, place one, push a
shipment status back along the page's workflow; the rep's scope; the page's messages on refusals."""
from datetime import datetime, timezone

from sqlalchemy import select, update

from crm.extensions import db
from crm.orders.models import Order
from tests.conftest import bearer


def test_new_orders_since_a_time_come_with_lines_totals_and_history(acme, api, token, make_customer, make_order,
                                                                   in_tenant):
    customer_id = make_customer(acme, name="华东贸易")
    old, new = make_order(acme, customer_id), make_order(acme, customer_id)
    long_ago = datetime(2020, 1, 1, tzinfo=timezone.utc)
    in_tenant(acme, lambda: db.session.execute(update(Order).where(Order.id == old).values(created_at=long_ago)))
    pulled = api.get("/api/v1/orders/", query_string={"created_since": "2021-01-01T00:00:00Z"}, headers=bearer(token))
    assert pulled.status_code == 200 and [o["id"] for o in pulled.json["data"]] == [new]
    order = pulled.json["data"][0]
    # 3 x 19.99 = 59.97, less 15 % = 8.9955 -> 9.00 (half-up), due 50.97: decimal strings in the order's currency
    assert (order["subtotal"], order["discount_total"], order["total"], order["currency"]) == (
        "59.97", "9.00", "50.97", "CNY")
    assert order["lines"][0] == {"id": order["lines"][0]["id"], "position": 1, "product_id": None,
                                 "description": "Green tea", "unit": None, "quantity": "3.000",
                                 "unit_price": "19.99", "discount": "15.00", "total": "50.97"}
    assert order["status"] == "placed" and order["next_statuses"] == ["shipped", "cancelled"]
    assert order["status_history"][0]["from_status"] is None and order["refunded_amount"] is None
    assert order["customer_name"] == "华东贸易" and order["number"].startswith("SO-")
    one = api.get(f"/api/v1/orders/{new}", headers=bearer(token))
    assert one.json == order and one.headers["ETag"]
    assert [o["id"] for o in api.get("/api/v1/orders/?status=cancelled", headers=bearer(token)).json["data"]] == []
    naive = api.get("/api/v1/orders/?updated_since=2020-01-02T00:00:00", headers=bearer(token))
    assert naive.status_code == 422 and "updated_since" in naive.json["errors"]


def test_a_status_move_follows_the_pages_workflow_and_is_refused_with_its_message(acme, api, token, make_customer,
                                                                                  make_order, in_tenant):
    order_id = make_order(acme, make_customer(acme, name="Buyer"))
    url = f"/api/v1/orders/{order_id}/status"
    refused = api.post(url, json={"status": "completed"}, headers=bearer(token))
    assert refused.status_code == 422 and refused.content_type == "application/problem+json"
    assert refused.json["errors"] == {"status": "An order that is Placed cannot become Completed."}
    before = api.get(f"/api/v1/orders/{order_id}", headers=bearer(token)).headers["ETag"]
    shipped = api.post(url, json={"status": "shipped", "note": "SF1234567890"},
                       headers=bearer(token, **{"If-Match": before}))
    assert shipped.status_code == 200 and shipped.json["status"] == "shipped"
    assert shipped.json["status_history"][-1]["note"] == "SF1234567890"
    assert shipped.json["status_history"][-1]["actor_name"] == "Ada Admin"
    stale = api.post(url, json={"status": "received"}, headers=bearer(token, **{"If-Match": before}))
    assert stale.status_code == 412
    assert in_tenant(acme, lambda: db.session.get(Order, order_id).status) == "shipped"
    since = api.get("/api/v1/orders/", query_string={"updated_since": shipped.json["updated_at"]},
                    headers=bearer(token))
    assert [o["id"] for o in since.json["data"]] == [order_id]
    api.post(url, json={"status": "refund_requested"}, headers=bearer(token))
    too_much = api.post(url, json={"status": "refunded", "amount": "999.00"}, headers=bearer(token))
    assert too_much.status_code == 422 and "amount" in too_much.json["errors"]
    part = api.post(url, json={"status": "refunded", "amount": 10}, headers=bearer(token))
    assert part.json["status"] == "partially_refunded" and part.json["refunded_amount"] == "10.00"
    assert part.json["next_statuses"] == []


def test_placing_an_order_with_lines_and_the_pages_messages_on_bad_input(acme, api, token, make_customer,
                                                                          make_product, in_tenant):
    customer_id, product_id = make_customer(acme, name="Buyer"), make_product(acme)
    bad = api.post("/api/v1/orders/", json={"customer_id": customer_id, "lines": [
        {"description": "Paper", "quantity": "0", "unit_price": "1.999"}, {"product_id": 999999, "quantity": 1}]},
        headers=bearer(token))
    assert bad.status_code == 422
    assert bad.json["errors"] == {"lines.0.quantity": "Enter a quantity above zero (at most three decimals).",
                                  "lines.0.unit_price": "Enter an amount like 19.99 (at most two decimals).",
                                  "lines.1.product_id": "Choose a product from the list."}
    empty = api.post("/api/v1/orders/", json={"customer_id": customer_id, "lines": []}, headers=bearer(token))
    assert empty.json["errors"] == {"lines": "Add at least one line."}
    assert in_tenant(acme, lambda: db.session.scalars(select(Order)).all()) == []
    made = api.post("/api/v1/orders/", json={"customer_id": customer_id, "delivery_date": "2026-12-24", "lines": [
        {"product_id": product_id, "quantity": 2}, {"description": "Delivery", "quantity": "1", "unit_price": 15}]},
        headers=bearer(token, **{"Idempotency-Key": "erp-order-88"}))
    assert made.status_code == 201 and made.headers["Location"] == f"/api/v1/orders/{made.json['id']}"
    assert [(line["description"], line["total"]) for line in made.json["lines"]] == [("Tea 龙井", "39.98"),
                                                                                     ("Delivery", "15.00")]
    assert made.json["total"] == "54.98" and made.json["delivery_date"] == "2026-12-24"
    again = api.post("/api/v1/orders/", json={"customer_id": customer_id, "delivery_date": "2026-12-24", "lines": [
        {"product_id": product_id, "quantity": 2}, {"description": "Delivery", "quantity": "1", "unit_price": 15}]},
        headers=bearer(token, **{"Idempotency-Key": "erp-order-88"}))
    assert again.json == made.json and len(in_tenant(acme, lambda: db.session.scalars(select(Order)).all())) == 1


def test_a_reps_token_never_sees_or_moves_another_reps_order(acme, api, people, make_api_token, make_customer,
                                                             make_order, in_tenant):
    rep, other = people["rep"], people["west"]
    mine = make_order(acme, make_customer(acme, member_id=rep.member_id, name="Rep's"), rep.member_id)
    theirs_customer = make_customer(acme, member_id=other.member_id, name="West's")
    theirs = make_order(acme, theirs_customer, other.member_id)
    token = make_api_token(acme, rep.member_id)
    assert [o["id"] for o in api.get("/api/v1/orders/", headers=bearer(token)).json["data"]] == [mine]
    assert api.get(f"/api/v1/orders/{theirs}", headers=bearer(token)).status_code == 404
    moved = api.post(f"/api/v1/orders/{theirs}/status", json={"status": "cancelled"}, headers=bearer(token))
    assert moved.status_code == 404 and in_tenant(acme, lambda: db.session.get(Order, theirs).status) == "placed"
    changed = api.patch(f"/api/v1/orders/{theirs}", json={"notes": "Taken"}, headers=bearer(token))
    assert changed.status_code == 404 and in_tenant(acme, lambda: db.session.get(Order, theirs).notes) is None
    placed = api.post("/api/v1/orders/", json={"customer_id": theirs_customer, "lines": [
        {"description": "X", "quantity": 1, "unit_price": 1}]}, headers=bearer(token))
    assert placed.status_code == 422 and placed.json["errors"] == {"customer_id": "Choose a customer."}


def test_patch_changes_an_order_as_the_form_does_with_if_match(acme, api, token, make_customer, make_order,
                                                               in_tenant):
    order_id = make_order(acme, make_customer(acme, name="Buyer"))
    url = f"/api/v1/orders/{order_id}"
    etag = api.get(url, headers=bearer(token)).headers["ETag"]
    changed = api.patch(url, json={"delivery_date": "2026-12-31", "lines": [
        {"description": "Black tea", "quantity": "2", "unit_price": "10.00"}]},
        headers=bearer(token, **{"If-Match": etag}))
    assert changed.status_code == 200 and changed.json["delivery_date"] == "2026-12-31"
    assert [line["description"] for line in changed.json["lines"]] == ["Black tea"] and changed.json["total"] == "20.00"
    stale = api.patch(url, json={"notes": "Lost update"}, headers=bearer(token, **{"If-Match": etag}))
    assert stale.status_code == 412 and in_tenant(acme, lambda: db.session.get(Order, order_id).notes) is None
    bad = api.patch(url, json={"delivery_date": "31/12/2026", "currency": "XYZ"}, headers=bearer(token))
    assert bad.status_code == 422 and bad.json["errors"] == {
        "delivery_date": "Enter a valid date.", "currency": "Enter a currency code such as CNY, USD or EUR."}
    api.post(f"{url}/status", json={"status": "shipped"}, headers=bearer(token))
    locked = api.patch(url, json={"lines": [{"description": "More", "quantity": 1, "unit_price": 1}]},
                       headers=bearer(token))
    assert locked.status_code == 422 and locked.json["errors"] == {"lines": "Only a placed order can change its lines."}
    assert api.patch(url, json={"notes": "Left the warehouse"}, headers=bearer(token)).json["notes"] == (
        "Left the warehouse")
