"""/api/v1/activities: plan a follow-up or log an interaction, list and read them (created/done since, cursor
pages), mark one done with the next one; the rep's scope; the page's messages on refusals."""
from sqlalchemy import select

from crm.customers.models import Customer
from crm.extensions import db
from crm.followups.models import Activity
from tests.conftest import bearer


def test_plan_log_list_read_and_mark_done(acme, api, token, make_customer, in_tenant):
    customer_id = make_customer(acme, name="Buyer")
    planned = api.post("/api/v1/activities/", json={
        "customer_id": customer_id, "method": "call", "summary": "Send the quote",
        "due_at": "2026-12-07T09:30:00+08:00", "remind_minutes": 15}, headers=bearer(token))
    assert planned.status_code == 201 and planned.headers["Location"] == f"/api/v1/activities/{planned.json['id']}"
    assert planned.json["due_at"] == "2026-12-07T01:30:00+00:00" and planned.json["done_at"] is None
    logged = api.post("/api/v1/activities/", json={"mode": "log", "customer_id": customer_id, "method": "visit",
                                                   "summary": "Visited", "outcome": "Wants samples"},
                      headers=bearer(token))
    assert logged.status_code == 201 and logged.json["done_at"] and logged.json["outcome"] == "Wants samples"
    assert in_tenant(acme, lambda: db.session.get(Customer, customer_id).last_contact_at) is not None
    first = api.get("/api/v1/activities/?limit=1", headers=bearer(token))
    assert [a["id"] for a in first.json["data"]] == [logged.json["id"]]
    rest = api.get(f"/api/v1/activities/?limit=1&after={first.json['next_cursor']}", headers=bearer(token))
    assert [a["id"] for a in rest.json["data"]] == [planned.json["id"]] and rest.json["next_cursor"] is None
    assert [a["id"] for a in api.get("/api/v1/activities/?done=false", headers=bearer(token)).json["data"]] == [
        planned.json["id"]]
    assert api.get(f"/api/v1/activities/{planned.json['id']}", headers=bearer(token)).json == planned.json
    url = f"/api/v1/activities/{planned.json['id']}/done"
    no_outcome = api.post(url, json={}, headers=bearer(token))
    assert no_outcome.status_code == 422 and no_outcome.json["errors"] == {"outcome": "This field is required."}
    done = api.post(url, json={"outcome": "Sent", "next_due_at": "2026-12-10T10:00:00Z", "next_method": "email"},
                    headers=bearer(token))
    assert done.status_code == 200 and done.json["done"]["outcome"] == "Sent" and done.json["done"]["done_at"]
    assert (done.json["next"]["method"], done.json["next"]["due_at"]) == ("email", "2026-12-10T10:00:00+00:00")
    again = api.post(url, json={"outcome": "Twice"}, headers=bearer(token))
    assert again.status_code == 422 and again.json["errors"] == {"outcome": "This follow-up is already done."}
    since = api.get("/api/v1/activities/", query_string={"done_since": done.json["done"]["done_at"]},
                    headers=bearer(token))
    assert [a["id"] for a in since.json["data"]] == [planned.json["id"]]


def test_bad_input_is_refused_at_its_fields_and_nothing_is_saved(acme, api, token, make_customer, in_tenant):
    customer_id = make_customer(acme, name="Buyer")
    refused = api.post("/api/v1/activities/", json={"customer_id": customer_id, "method": "fax", "summary": "x"},
                       headers=bearer(token))
    assert refused.status_code == 422 and refused.json["errors"] == {"method": "Choose how."}
    no_time = api.post("/api/v1/activities/", json={"customer_id": customer_id, "method": "call", "summary": "x",
                                                    "due_at": "tomorrow"}, headers=bearer(token))
    assert no_time.json["errors"] == {"due_at": "Enter a date and time."}
    typed = api.post("/api/v1/activities/", json={"mode": "later", "remind_minutes": "15"}, headers=bearer(token))
    assert set(typed.json["errors"]) == {"mode", "remind_minutes"}
    assert in_tenant(acme, lambda: db.session.scalars(select(Activity)).all()) == []


def test_a_reps_token_never_sees_or_completes_another_reps_follow_up(acme, api, people, make_api_token,
                                                                     make_customer, make_deal, in_tenant):
    rep, other = people["rep"], people["west"]
    theirs_customer = make_customer(acme, member_id=other.member_id, name="West's")
    west_token, rep_token = make_api_token(acme, other.member_id), make_api_token(acme, rep.member_id)
    theirs = api.post("/api/v1/activities/", json={"customer_id": theirs_customer, "method": "call", "summary": "W",
                                                   "due_at": "2026-12-07T09:30"}, headers=bearer(west_token)).json["id"]
    assert api.get("/api/v1/activities/", headers=bearer(rep_token)).json["data"] == []
    assert api.get(f"/api/v1/activities/{theirs}", headers=bearer(rep_token)).status_code == 404
    done = api.post(f"/api/v1/activities/{theirs}/done", json={"outcome": "Taken"}, headers=bearer(rep_token))
    assert done.status_code == 404 and in_tenant(acme, lambda: db.session.get(Activity, theirs).done_at) is None
    about = api.post("/api/v1/activities/", json={"customer_id": theirs_customer, "method": "call", "summary": "x",
                                                  "due_at": "2026-12-07T09:30"}, headers=bearer(rep_token))
    assert about.status_code == 422 and about.json["errors"] == {"customer_id": "Choose a customer."}
    deal = make_deal(acme, member_id=other.member_id)
    on_deal = api.post("/api/v1/activities/", json={"deal_id": deal, "mode": "log", "method": "call", "summary": "x"},
                       headers=bearer(rep_token))
    assert on_deal.status_code == 422 and on_deal.json["errors"] == {"deal_id": "Choose a deal."}
