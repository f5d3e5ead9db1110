"""/api/v1/deals: list (updated since, cursor pages), read, create, PATCH with If-Match, stage moves with the board's
rules (a lost stage needs a reason), delete; the rep's scope; the page's messages on refusals."""
from datetime import datetime, timezone

from sqlalchemy import select, update

from crm.deals.models import Deal
from crm.extensions import db
from tests.conftest import bearer


def test_create_read_and_list_deals_with_cursor_pages_and_updated_since(acme, api, token, make_customer, stage_ids,
                                                                        make_deal, in_tenant):
    customer_id, stages = make_customer(acme, name="Buyer"), stage_ids(acme)
    old = make_deal(acme, title="Old")
    in_tenant(acme, lambda: db.session.execute(update(Deal).where(Deal.id == old).values(
        updated_at=datetime(2020, 1, 1, tzinfo=timezone.utc))))
    made = api.post("/api/v1/deals/", json={"title": "200 boxes", "customer_id": customer_id,
                                            "stage_id": stages["Proposal"], "amount": 12000.5, "currency": "usd"},
                    headers=bearer(token))
    assert made.status_code == 201 and made.headers["Location"] == f"/api/v1/deals/{made.json['id']}"
    assert (made.json["amount"], made.json["currency"], made.json["probability"], made.json["status"]) == (
        "12000.50", "USD", 50, "open")
    read = api.get(made.headers["Location"], headers=bearer(token))
    assert read.json == made.json and read.headers["ETag"] == made.headers["ETag"]
    first = api.get("/api/v1/deals/?limit=1", headers=bearer(token))
    assert [d["id"] for d in first.json["data"]] == [made.json["id"]]
    rest = api.get(f"/api/v1/deals/?limit=1&after={first.json['next_cursor']}", headers=bearer(token))
    assert [d["id"] for d in rest.json["data"]] == [old] and rest.json["next_cursor"] is None
    since = api.get("/api/v1/deals/?updated_since=2021-01-01T00:00:00%2B08:00", headers=bearer(token))
    assert [d["id"] for d in since.json["data"]] == [made.json["id"]]


def test_bad_input_is_refused_at_its_fields_with_the_pages_messages(acme, api, token, in_tenant):
    refused = api.post("/api/v1/deals/", json={"title": "", "amount": "12.345", "probability": 120,
                                               "custom": {"nope": 1}}, headers=bearer(token))
    assert refused.status_code == 422 and refused.content_type == "application/problem+json"
    assert refused.json["errors"] == {"custom_nope": "Unknown field."}
    refused = api.post("/api/v1/deals/", json={"title": "", "amount": "12.345", "probability": 120},
                       headers=bearer(token))
    assert refused.json["errors"] == {"title": "This field is required.", "customer_id": "Choose a customer.",
                                      "stage_id": "Choose a stage.",
                                      "amount": "Enter an amount like 19.99 (at most two decimals).",
                                      "probability": "Enter a whole number from 0 to 100."}
    typed = api.post("/api/v1/deals/", json={"title": ["x"], "amount": True}, headers=bearer(token))
    assert typed.json["errors"] == {"title": "Enter text.", "amount": "Enter a number, e.g. 12 or 3.5."}
    assert in_tenant(acme, lambda: db.session.scalars(select(Deal)).all()) == []


def test_patch_with_if_match_and_stage_moves_as_on_the_board(acme, api, token, make_deal, stage_ids, in_tenant):
    deal_id, stages = make_deal(acme, title="Paper"), stage_ids(acme)
    url = f"/api/v1/deals/{deal_id}"
    etag = api.get(url, headers=bearer(token)).headers["ETag"]
    changed = api.patch(url, json={"notes": "Call back"}, headers=bearer(token, **{"If-Match": etag}))
    assert changed.status_code == 200 and changed.json["notes"] == "Call back" and changed.json["title"] == "Paper"
    stale = api.patch(url, json={"title": "Lost update"}, headers=bearer(token, **{"If-Match": etag}))
    assert stale.status_code == 412
    no_reason = api.post(f"{url}/move", json={"stage_id": stages["Lost"]}, headers=bearer(token))
    assert no_reason.status_code == 422 and no_reason.json["errors"] == {"lost_reason": "Say why the deal was lost."}
    assert in_tenant(acme, lambda: db.session.get(Deal, deal_id).status) == "open"
    lost = api.post(f"{url}/move", json={"stage_id": stages["Lost"], "lost_reason": "Price"}, headers=bearer(token))
    assert lost.status_code == 200 and (lost.json["status"], lost.json["lost_reason"]) == ("lost", "Price")
    assert lost.json["closed_at"] is not None
    unknown = api.post(f"{url}/move", json={"stage_id": 99999}, headers=bearer(token))
    assert unknown.status_code == 422 and unknown.json["errors"] == {"stage_id": "Choose a stage."}
    won = api.post(f"{url}/move", json={"stage_id": stages["Won"]}, headers=bearer(token))
    assert won.json["status"] == "won" and won.json["lost_reason"] is None
    assert api.delete(url, headers=bearer(token)).status_code == 204
    assert api.get(url, headers=bearer(token)).status_code == 404


def test_a_reps_token_never_sees_or_changes_another_reps_deal(acme, api, people, make_api_token, make_deal,
                                                              make_customer, stage_ids, in_tenant):
    rep, other = people["rep"], people["west"]
    mine = make_deal(acme, member_id=rep.member_id, title="Rep's")
    theirs = make_deal(acme, member_id=other.member_id, title="West's")
    token = make_api_token(acme, rep.member_id)
    assert [d["id"] for d in api.get("/api/v1/deals/", headers=bearer(token)).json["data"]] == [mine]
    url = f"/api/v1/deals/{theirs}"
    assert api.get(url, headers=bearer(token)).status_code == 404
    assert api.patch(url, json={"title": "Taken"}, headers=bearer(token)).status_code == 404
    assert api.post(f"{url}/move", json={"stage_id": stage_ids(acme)["Won"]}, headers=bearer(token)).status_code == 404
    assert api.delete(url, headers=bearer(token)).status_code in (403, 404)
    assert in_tenant(acme, lambda: (db.session.get(Deal, theirs).title, db.session.get(Deal, theirs).status)) == (
        "West's", "open")
    given = api.post("/api/v1/deals/", json={"title": "For West", "customer_id": make_customer(
        acme, member_id=rep.member_id), "stage_id": stage_ids(acme)["Lead"], "owner_id": other.member_id},
        headers=bearer(token))
    assert given.status_code == 422 and given.json["errors"] == {
        "owner_id": "You can only give deals to members of your own team."}
