"""/api/v1/customers as an ERP uses it: list with the list page's filters, cursor pages and updated_since; read,
create, change with If-Match, delete to the trash; the services' rules and messages; the rep's scope; the audit log
naming the token; Idempotency-Key retries; the per-token rate limit."""
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from crm.audit.models import AuditEntry
from crm.customers.models import Customer
from crm.extensions import db
from crm.fields.models import CustomField
from crm.tags import service as tags
from tests.conftest import bearer


def test_list_pages_with_a_cursor_and_filters_like_the_list_page(acme, api, token, tagged, make_customer):
    vip = tagged(acme, ["VIP"], name="张伟", level="A")
    make_customer(acme, name="Li Na", level="B")
    make_customer(acme, name="Wang Fang", level="A")
    first = api.get("/api/v1/customers/?limit=2", headers=bearer(token))
    assert first.status_code == 200 and first.content_type == "application/json"
    assert [c["name"] for c in first.json["data"]] == ["Wang Fang", "Li Na"]
    rest = api.get(f"/api/v1/customers/?limit=2&after={first.json['next_cursor']}", headers=bearer(token))
    assert [c["name"] for c in rest.json["data"]] == ["张伟"] and rest.json["next_cursor"] is None
    assert rest.json["data"][0]["tags"][0]["name"] == "VIP"
    by_level = api.get("/api/v1/customers/?level=A&q=张", headers=bearer(token)).json["data"]
    assert [c["id"] for c in by_level] == [vip]
    tag_id = by_level[0]["tags"][0]["id"]
    assert [c["id"] for c in api.get(f"/api/v1/customers/?tag={tag_id}", headers=bearer(token)).json["data"]] == [vip]


def test_updated_since_returns_only_customers_changed_at_or_after_it(acme, api, token, make_customer, in_tenant):
    old, new = make_customer(acme, name="Old"), make_customer(acme, name="New")
    long_ago = datetime(2020, 1, 1, tzinfo=timezone.utc)
    in_tenant(acme, lambda: db.session.execute(update(Customer).where(Customer.id == old).values(updated_at=long_ago)))
    since = (long_ago + timedelta(days=1)).isoformat()
    found = api.get("/api/v1/customers/", query_string={"updated_since": since}, headers=bearer(token))
    assert [c["id"] for c in found.json["data"]] == [new]
    assert found.json["data"][0]["updated_at"].endswith("+00:00")
    naive = api.get("/api/v1/customers/?updated_since=2020-01-02T00:00:00", headers=bearer(token))
    assert naive.status_code == 422 and "updated_since" in naive.json["errors"]


def test_create_validates_with_the_pages_messages_and_saves_nothing_on_error(acme, api, token, in_tenant):
    refused = api.post("/api/v1/customers/", json={"name": "", "email": "not-an-email", "level": "Z"},
                       headers=bearer(token))
    assert refused.status_code == 422 and refused.content_type == "application/problem+json"
    assert refused.json["errors"]["name"] == "Name is required."
    assert set(refused.json["errors"]) >= {"email", "level"}
    wrong_type = api.post("/api/v1/customers/", json={"name": 12, "colour": "red"}, headers=bearer(token))
    assert wrong_type.json["errors"] == {"name": "Enter text.", "colour": "Unknown field."}
    zh = api.post("/api/v1/customers/", json={"name": ""}, headers=bearer(token, **{"Accept-Language": "zh-CN"}))
    assert zh.json["errors"]["name"] != "Name is required."  # the Chinese catalogue's message
    assert in_tenant(acme, lambda: db.session.scalars(select(Customer)).all()) == []


def test_create_with_tags_and_custom_fields_then_read_it_back(acme, api, token, in_tenant):
    def setup():
        db.session.add(CustomField(key="industry_code", type="number", label_en="Industry code", options=[]))
        return tags.create_tag("VIP").id
    vip = in_tenant(acme, setup)
    made = api.post("/api/v1/customers/", json={"name": "Acme Buyer", "phone": "13800138000", "tags": [vip],
                                                "custom": {"industry_code": 42}}, headers=bearer(token))
    assert made.status_code == 201
    assert made.headers["Location"] == f"/api/v1/customers/{made.json['id']}"
    assert made.json["phone"] == "+8613800138000" and made.json["custom"] == {"industry_code": 42}
    assert [t["name"] for t in made.json["tags"]] == ["VIP"]
    read = api.get(made.headers["Location"], headers=bearer(token))
    assert read.json == made.json and read.headers["ETag"] == made.headers["ETag"]
    bad = api.post("/api/v1/customers/", json={"name": "X", "custom": {"industry_code": "many", "nope": 1},
                                               "tags": [999999]}, headers=bearer(token))
    assert bad.status_code == 422
    assert bad.json["errors"] == {"custom_industry_code": "Enter a number, e.g. 12 or 3.5.",
                                  "custom_nope": "Unknown field.", "tags": "Choose one of the listed values."}


def test_patch_changes_only_what_is_sent_and_a_stale_if_match_is_412(acme, api, token, make_customer, in_tenant):
    customer_id = make_customer(acme, name="Before", company="Old Co")
    url = f"/api/v1/customers/{customer_id}"
    etag = api.get(url, headers=bearer(token)).headers["ETag"]
    changed = api.patch(url, json={"name": "After"}, headers=bearer(token, **{"If-Match": etag}))
    assert changed.status_code == 200 and changed.json["name"] == "After" and changed.json["company"] == "Old Co"
    assert changed.headers["ETag"] != etag
    stale = api.patch(url, json={"company": "Lost update"}, headers=bearer(token, **{"If-Match": etag}))
    assert stale.status_code == 412 and stale.content_type == "application/problem+json"
    assert in_tenant(acme, lambda: db.session.get(Customer, customer_id).company) == "Old Co"
    fresh = api.patch(url, json={"company": "New Co"}, headers=bearer(token, **{"If-Match": changed.headers["ETag"]}))
    assert fresh.status_code == 200 and fresh.json["company"] == "New Co"


def test_writes_are_audited_with_the_tokens_name(acme, api, make_api_token, make_customer, in_tenant):
    token = make_api_token(acme, name="Kingdee ERP")
    customer_id = make_customer(acme, name="Audited")
    api.patch(f"/api/v1/customers/{customer_id}", json={"title": "Buyer"}, headers=bearer(token))
    actor = in_tenant(acme, lambda: db.session.scalar(select(AuditEntry.actor_name).where(
        AuditEntry.entity == "customer", AuditEntry.action == "update")))
    assert actor == "Ada Admin · API: Kingdee ERP"


def test_delete_moves_to_the_trash_and_the_customer_is_then_not_found(acme, api, token, make_customer, in_tenant):
    customer_id = make_customer(acme, name="Doomed")
    assert api.delete(f"/api/v1/customers/{customer_id}", headers=bearer(token)).status_code == 204
    assert in_tenant(acme, lambda: db.session.get(Customer, customer_id).deleted_at) is not None
    gone = api.get(f"/api/v1/customers/{customer_id}", headers=bearer(token))
    assert gone.status_code == 404 and gone.content_type == "application/problem+json"


def test_a_reps_token_never_sees_or_changes_another_reps_customer(acme, api, people, make_api_token, make_customer,
                                                                 in_tenant):
    rep, other = people["rep"], people["west"]
    mine = make_customer(acme, member_id=rep.member_id, name="Rep's own")
    theirs = make_customer(acme, member_id=other.member_id, name="West's customer")
    token = make_api_token(acme, rep.member_id)
    listed = api.get("/api/v1/customers/", headers=bearer(token)).json["data"]
    assert [c["id"] for c in listed] == [mine]
    for call in (api.get, api.delete):
        assert call(f"/api/v1/customers/{theirs}", headers=bearer(token)).status_code == 404
    assert api.patch(f"/api/v1/customers/{theirs}", json={"name": "Taken"}, headers=bearer(token)).status_code == 404
    given = api.post("/api/v1/customers/", json={"name": "For West", "owner_id": other.member_id}, headers=bearer(token))
    assert given.status_code == 422 and given.json["errors"]["owner_id"] == "You can only own customers yourself."
    assert in_tenant(acme, lambda: db.session.get(Customer, theirs).name) == "West's customer"
    assert api.get("/api/v1/members/", headers=bearer(token)).status_code == 403


def test_sensitive_values_are_masked_and_revealed_only_to_a_role_that_may(acme, api, token, people, make_api_token,
                                                                         make_customer, in_tenant):
    customer_id = make_customer(acme, member_id=people["rep"].member_id, name="Secret", id_number="110101199003071234")
    shown = api.get(f"/api/v1/customers/{customer_id}", headers=bearer(token)).json
    assert shown["sensitive"] == {"id_number": "**** 1234"} or "1234" in shown["sensitive"]["id_number"]
    assert "110101199003071234" not in str(shown)
    revealed = api.post(f"/api/v1/customers/{customer_id}/reveal/id_number", headers=bearer(token))
    assert revealed.status_code == 200 and revealed.json == {"name": "id_number", "value": "110101199003071234"}
    assert in_tenant(acme, lambda: db.session.scalar(select(AuditEntry.action).where(AuditEntry.action == "reveal")))
    rep_token = make_api_token(acme, people["rep"].member_id)
    assert api.post(f"/api/v1/customers/{customer_id}/reveal/id_number",
                    headers=bearer(rep_token)).status_code == 403
    entered = api.patch(f"/api/v1/customers/{customer_id}", json={"id_number": "X1234567"},
                        headers=bearer(make_api_token(acme, people["rep"].member_id)))
    assert entered.status_code == 200  # a rep may enter (not reveal) sensitive values


def test_a_retried_create_with_the_same_idempotency_key_returns_the_first_result(acme, api, token, in_tenant):
    headers = bearer(token, **{"Idempotency-Key": "order-sync-0001"})
    first = api.post("/api/v1/customers/", json={"name": "Once"}, headers=headers)
    again = api.post("/api/v1/customers/", json={"name": "Once"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert in_tenant(acme, lambda: db.session.scalars(select(Customer.name)).all()) == ["Once"]
    other = api.post("/api/v1/customers/", json={"name": "Twice"}, headers=headers)
    assert other.status_code == 422 and "Idempotency-Key" in other.json["errors"]
    assert api.post("/api/v1/customers/", json={"name": "Other key"},
                    headers=bearer(token, **{"Idempotency-Key": "order-sync-0002"})).status_code == 201


def test_kept_answers_past_24_hours_are_removed_hourly_and_a_retry_within_them_still_replays(app, acme, api, token,
                                                                                              in_tenant):
    from crm.api.jobs import remove_expired_idempotent, remove_expired_idempotent_all
    from crm.api.models import IdempotentRequest
    from crm.jobs import queue

    old = api.post("/api/v1/customers/", json={"name": "Yesterday"}, headers=bearer(token, **{"Idempotency-Key": "a"}))
    new = api.post("/api/v1/customers/", json={"name": "Today"}, headers=bearer(token, **{"Idempotency-Key": "b"}))
    in_tenant(acme, lambda: (db.session.execute(update(IdempotentRequest).where(IdempotentRequest.key == "a").values(
        created_at=IdempotentRequest.created_at - timedelta(hours=24, minutes=1))), db.session.commit()))
    with app.app_context():
        assert remove_expired_idempotent_all() >= 1
        queued = [queue().fetch_job(i) for i in queue().get_job_ids()]
    assert any(j.func_name.endswith("remove_expired_idempotent") and j.args == (acme.id,) for j in queued)
    assert remove_expired_idempotent(acme.id) == 1
    assert in_tenant(acme, lambda: db.session.scalars(select(IdempotentRequest.key)).all()) == ["b"]
    again = api.post("/api/v1/customers/", json={"name": "Today"}, headers=bearer(token, **{"Idempotency-Key": "b"}))
    assert again.status_code == 201 and again.json == new.json and again.headers["Idempotent-Replayed"] == "true"
    # The expired key is free again: the same call makes a new customer instead of replaying the old answer.
    fresh = api.post("/api/v1/customers/", json={"name": "Yesterday"}, headers=bearer(token, **{"Idempotency-Key": "a"}))
    assert fresh.status_code == 201 and fresh.json["id"] != old.json["id"] and "Idempotent-Replayed" not in fresh.headers


def test_a_refused_create_keeps_no_idempotency_answer(acme, api, token):
    headers = bearer(token, **{"Idempotency-Key": "k-1"})
    assert api.post("/api/v1/customers/", json={"name": ""}, headers=headers).status_code == 422
    assert api.post("/api/v1/customers/", json={"name": "Fixed"}, headers=headers).status_code == 201


def test_the_rate_limit_is_per_token_with_ratelimit_headers_and_retry_after(acme, app, api, make_api_token):
    first, second = make_api_token(acme), make_api_token(acme, name="Second")
    app.config["API_RATE_LIMIT"] = "3 per minute"
    try:
        answers = [api.get("/api/v1/tags/", headers=bearer(first)) for _ in range(4)]
        other = api.get("/api/v1/tags/", headers=bearer(second))
    finally:
        app.config["API_RATE_LIMIT"] = "600 per minute"
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["RateLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]
    assert answers[0].headers["RateLimit-Limit"] == "3"
    limited = answers[3]
    assert limited.content_type == "application/problem+json" and 0 < int(limited.headers["Retry-After"]) <= 61
    assert other.status_code == 200


def test_tags_pipelines_and_members_read(acme, api, token, tagged):
    tagged(acme, ["VIP"])
    assert [t["name"] for t in api.get("/api/v1/tags/", headers=bearer(token)).json["data"]] == ["VIP"]
    pipelines = api.get("/api/v1/pipelines/", headers=bearer(token)).json["data"]
    assert pipelines and pipelines[0]["stages"] and pipelines[0]["stages"][0]["probability"] >= 0
    one = api.get(f"/api/v1/pipelines/{pipelines[0]['id']}", headers=bearer(token))
    assert one.json == pipelines[0]
    assert api.get("/api/v1/pipelines/99999", headers=bearer(token)).status_code == 404
    members = api.get("/api/v1/members/", headers=bearer(token)).json["data"]
    assert [(m["name"], m["role"]) for m in members] == [("Ada Admin", "admin")]


def test_the_openapi_document_and_the_reference_page(app, api):
    document = api.get("/api/v1/openapi.json")
    assert document.status_code == 200 and document.json["openapi"] == "3.1.0"
    assert "/api/v1/customers/{customer_id}" in document.json["paths"]
    page = api.get("/api/v1/docs")
    assert page.status_code == 200 and "swagger-ui-bundle-5.35.0.js" in page.text
    assert "<script>" not in page.text and "unsafe-inline" not in page.headers["Content-Security-Policy"]
    assert api.get("/static/vendor/swagger-ui-bundle-5.35.0.js").status_code == 200


def test_routing_errors_and_unknown_paths_are_problems_too(api, token):
    wrong_method = api.put("/api/v1/tags/", headers=bearer(token))
    assert wrong_method.status_code == 405 and wrong_method.content_type == "application/problem+json"
    assert "GET" in wrong_method.headers["Allow"]
    missing = api.get("/api/v1/nothing-here", headers=bearer(token))
    assert missing.status_code == 404 and missing.json["status"] == 404
    too_big = api.get("/api/v1/customers/99999999999", headers=bearer(token))
    assert too_big.status_code == 404
    broken = api.post("/api/v1/customers/", data="{not json", content_type="application/json", headers=bearer(token))
    assert broken.status_code == 400 and broken.content_type == "application/problem+json"


def test_what_a_token_reads_is_never_cached(api, token):
    assert api.get("/api/v1/customers/", headers=bearer(token)).headers["Cache-Control"] == "no-store"


def test_a_retried_delete_gets_the_first_answer(acme, api, token, make_customer):
    customer_id = make_customer(acme, name="Once deleted")
    headers = bearer(token, **{"Idempotency-Key": "delete-1"})
    first = api.delete(f"/api/v1/customers/{customer_id}", headers=headers)
    again = api.delete(f"/api/v1/customers/{customer_id}", headers=headers)
    assert first.status_code == again.status_code == 204 and again.data == b""
