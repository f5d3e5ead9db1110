"""/api/v1/deletions as a syncing client uses it: what was deleted since its last sync (customers trashed or deleted
for good, deals deleted, follow-ups cancelled, tags deleted), oldest first in cursor pages, filtered by type, scoped
by the token's role; a restored customer leaves the list. What an import's undo removed: tests/imports/test_linked.py."""
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from sqlalchemy import select

from crm.audit.models import AuditEntry
from crm.extensions import db
from tests.conftest import bearer


def since(moment: datetime) -> str:
    return quote(moment.isoformat())


def as_of(client, token, moment, query: str = "") -> list[tuple[str, int]]:
    answer = client.get(f"/api/v1/deletions/?since={since(moment)}{query}", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    return [(row["type"], row["id"]) for row in answer.json["data"]]


def plan_followup(api, token, customer_id: int) -> int:
    planned = api.post("/api/v1/activities/", headers=bearer(token), json={
        "customer_id": customer_id, "method": "call", "summary": "Call back",
        "due_at": "2030-01-07T09:30:00+08:00"})
    assert planned.status_code == 201, planned.text
    return planned.json["id"]


def test_a_sync_client_learns_what_was_deleted_since_its_last_sync(acme, api, token, admin, make_customer, make_deal,
                                                                   in_tenant):
    from crm.tags import service as tags

    earlier = make_customer(acme, name="Trashed last week")
    assert api.delete(f"/api/v1/customers/{earlier}", headers=bearer(token)).status_code == 204
    trashed, purged, kept = (make_customer(acme, name=n) for n in ("Trashed", "Purged", "Kept"))
    deal = make_deal(acme, customer_id=kept)
    followup = plan_followup(api, token, kept)
    tag_id = in_tenant(acme, lambda: tags.create_tag("Old tag").id)
    last_sync = datetime.now(timezone.utc)

    assert api.delete(f"/api/v1/customers/{trashed}", headers=bearer(token)).status_code == 204
    assert api.delete(f"/api/v1/deals/{deal}", headers=bearer(token)).status_code == 204
    assert admin.post(f"/{acme.slug}/activities/{followup}/delete").status_code in (200, 204, 303)
    assert admin.post(f"/{acme.slug}/tags/{tag_id}/delete").status_code in (200, 204, 303)
    assert api.delete(f"/api/v1/customers/{purged}", headers=bearer(token)).status_code == 204
    assert admin.post(f"/{acme.slug}/customers/trash", data={"ids": [purged], "action": "purge"}).status_code == 303

    deleted = as_of(api, token, last_sync)
    assert deleted == [("customer", trashed), ("deal", deal), ("followup", followup), ("tag", tag_id),
                       ("customer", purged)]
    assert as_of(api, token, last_sync, "&type=deal&type=followup") == [("deal", deal), ("followup", followup)]
    first = api.get(f"/api/v1/deletions/?since={since(last_sync)}&limit=2", headers=bearer(token)).json
    rest = api.get(f"/api/v1/deletions/?since={since(last_sync)}&limit=2&after={first['next_cursor']}",
                   headers=bearer(token)).json
    assert [r["id"] for r in first["data"] + rest["data"]] == [i for _t, i in deleted[:4]]
    assert all(r["deleted_at"] >= last_sync.isoformat()[:19] for r in first["data"])
    assert ("customer", earlier) in as_of(api, token, last_sync - timedelta(hours=1))  # its sync was before

    # Restored from the trash: no longer deleted, and changed since the sync, so updated_since brings it back.
    assert admin.post(f"/{acme.slug}/customers/trash", data={"ids": [trashed], "action": "restore"}).status_code == 303
    assert ("customer", trashed) not in as_of(api, token, last_sync)
    changed = api.get(f"/api/v1/customers/?updated_since={since(last_sync)}", headers=bearer(token)).json["data"]
    assert trashed in [c["id"] for c in changed]


def test_a_reps_token_lists_only_deletions_of_records_it_could_see(acme, api, people, make_api_token, make_customer,
                                                                    make_deal, in_tenant):
    rep, other = people["rep"], people["west"]
    mine, theirs = (make_customer(acme, member_id=p.member_id, name=f"Customer of {p.member_id}") for p in (rep, other))
    my_deal, their_deal = (make_deal(acme, member_id=p.member_id, customer_id=c) for p, c in ((rep, mine),
                                                                                              (other, theirs)))
    admin_token = make_api_token(acme)
    last_sync = datetime.now(timezone.utc)
    for path in (f"deals/{my_deal}", f"deals/{their_deal}", f"customers/{mine}", f"customers/{theirs}"):
        assert api.delete(f"/api/v1/{path}", headers=bearer(admin_token)).status_code == 204

    def old_entry():  # a deletion logged before owners were noted: no owner to scope by
        db.session.add(AuditEntry(actor_name="system", action="delete", entity="deal", entity_id=999999))

    in_tenant(acme, old_entry)
    assert as_of(api, make_api_token(acme, rep.member_id), last_sync) == [("deal", my_deal), ("customer", mine)]
    manager = as_of(api, make_api_token(acme, people["manager"].member_id), last_sync)
    assert ("deal", my_deal) in manager and ("deal", their_deal) not in manager  # team East, not West
    everything = as_of(api, admin_token, last_sync)
    assert {("deal", their_deal), ("customer", theirs), ("deal", 999999)} <= set(everything)
    owners = in_tenant(acme, lambda: db.session.scalars(select(AuditEntry.changes).where(
        AuditEntry.entity == "deal", AuditEntry.entity_id == their_deal, AuditEntry.action == "delete")).all())
    assert owners == [{"owner_id": [other.member_id, None]}]


def test_since_is_required_and_a_type_must_be_known(acme, api, token, globex, make_customer, make_api_token):
    missing = api.get("/api/v1/deletions/", headers=bearer(token))
    assert missing.status_code == 422 and "since" in missing.json["errors"]
    unknown = api.get(f"/api/v1/deletions/?since={since(datetime.now(timezone.utc))}&type=ticket",
                      headers=bearer(token))
    assert unknown.status_code == 422
    last_sync = datetime.now(timezone.utc)
    gone = make_customer(globex, name="Globex's")
    assert api.delete(f"/api/v1/customers/{gone}", headers=bearer(make_api_token(globex))).status_code == 204
    assert as_of(api, token, last_sync) == []  # another workspace's deletions are its own
