"""Merging duplicate customers: the side-by-side page, what moves to the customer kept, the trash link, the one
audit entry, undo while the customer kept is unchanged, scope and bad input."""
import uuid

from sqlalchemy import select

from crm.audit.models import AuditEntry
from crm.customers.models import Customer
from crm.extensions import db
from tests.conftest import HX

MOVED_TABLES = ("deals", "orders", "tickets", "activities", "contacts", "attachments", "timeline_events")


def add_field(admin, acme, **form):
    response = admin.post(f"/{acme.slug}/settings/fields/", data={"label_en": "Field", "type": "text", **form})
    assert response.status_code == 303, response.text


def records_of(in_tenant, acme, customer_id: int) -> dict[str, set[int]]:
    """The ids of each kind of record that belongs to the customer."""
    from crm.customers.merging import MOVED

    return in_tenant(acme, lambda: {table: set(db.session.scalars(select(model.id).where(
        model.customer_id == customer_id))) for table, model in MOVED.items()})


def give_records(in_tenant, acme, customer_id: int, make_deal, make_order, make_ticket) -> None:
    """One record of every kind that follows a customer."""
    from crm.attachments.models import Attachment
    from crm.contacts.models import Contact
    from crm.followups.models import Activity
    from crm.timeline.models import TimelineEvent
    from crm.extensions import utcnow

    make_deal(acme, customer_id=customer_id)
    make_order(acme, customer_id)
    make_ticket(acme, customer_id)

    def others():
        db.session.add_all([
            Activity(customer_id=customer_id, owner_id=acme.admin_member_id, method="call", summary="Call back",
                     outcome="", due_at=utcnow()),
            Attachment(kind="customer", customer_id=customer_id, name="card.png", size=3, content_type="image/png",
                       sha256="0" * 64, storage_key=uuid.uuid4().hex[:40]),
            TimelineEvent(customer_id=customer_id, kind="note", actor_name="Test", payload={}),
            Contact(customer_id=customer_id, name="Buyer", is_primary=True)])

    in_tenant(acme, others)


def customer(in_tenant, acme, customer_id: int) -> Customer:
    def load():
        found = db.session.get(Customer, customer_id)
        db.session.expunge(found)
        return found
    return in_tenant(acme, load)


def tag_names(in_tenant, acme, customer_id: int) -> set[str]:
    return in_tenant(acme, lambda: {tag.name for tag in db.session.get(Customer, customer_id).tags})


def merge_entries(in_tenant, acme) -> list[tuple]:
    """(customer kept, changes) of each merge audit entry."""
    return in_tenant(acme, lambda: db.session.execute(select(AuditEntry.entity_id, AuditEntry.changes).where(
        AuditEntry.action == "merge")).all())


def test_merge_moves_every_record_keeps_the_chosen_values_and_undo_puts_all_back(
        acme, admin, make_customer, tagged, in_tenant, make_deal, make_order, make_ticket):
    add_field(admin, acme, label_en="Region", key="region", type="text")
    add_field(admin, acme, label_en="Passport", key="passport", type="text", sensitive="on")
    kept = make_customer(acme, name="Li Lei", phone="13800138000", id_number="110101199003071234",
                         company="Old Co")
    dup = tagged(acme, ["VIP", "Hot"], name="Li Lei dup", phone="13800138000", email="lilei@example.com",
                 id_number="220101199003075678", company="New Co")

    def region_north():
        db.session.get(Customer, kept).custom = {"region": "North"}

    in_tenant(acme, region_north)
    # The duplicate's custom values, sensitive one included, entered through the form as a user would.
    saved = admin.post(f"/{acme.slug}/customers/{dup}", data={
        "name": "Li Lei dup", "phone": "13800138000", "email": "lilei@example.com", "company": "New Co",
        "kind": "person", "stage": "lead", "owner_id": str(acme.admin_member_id), "preferred_channel": "sms",
        "custom_region": "South", "custom_passport": "E12345678"})
    assert saved.status_code == 303, saved.text
    give_records(in_tenant, acme, dup, make_deal, make_order, make_ticket)
    dup_records = records_of(in_tenant, acme, dup)
    kept_records = records_of(in_tenant, acme, kept)
    assert all(dup_records[table] for table in MOVED_TABLES)
    before = customer(in_tenant, acme, kept)

    page = admin.get(f"/{acme.slug}/customers/merge?ids={kept}&ids={dup}")
    assert page.status_code == 200
    assert "Li Lei dup" in page.text and "Old Co" in page.text and "New Co" in page.text
    assert "**** 5678" in page.text and "E12345678" not in page.text and "220101199003075678" not in page.text
    assert 'name="field:secret.passport"' in page.text and 'name="field:custom.region"' in page.text
    assert 'name="field:phone"' not in page.text  # the same in both: nothing to choose

    done = admin.post(f"/{acme.slug}/customers/merge", data={
        "ids": [kept, dup], "survivor_id": kept, "field:company": dup, "field:email": dup,
        "field:id_number": dup, "field:custom.region": kept, "field:secret.passport": dup}, follow_redirects=True)
    assert done.status_code == 200
    assert "1 customer merged into Li Lei." in done.text
    assert "Merged 1 customer into this one" in done.text and "Undo merge" in done.text

    merged = customer(in_tenant, acme, kept)
    assert (merged.company, merged.email, merged.name) == ("New Co", "lilei@example.com", "Li Lei")
    assert merged.custom == {"region": "North"}
    assert merged.id_number_idx == customer(in_tenant, acme, dup).id_number_idx != before.id_number_idx
    assert merged.custom_sensitive["passport"] == customer(in_tenant, acme, dup).custom_sensitive["passport"]
    assert "**** 5678" in done.text  # the ID number and passport taken from the duplicate, masked
    assert tag_names(in_tenant, acme, kept) == {"VIP", "Hot"}
    now = records_of(in_tenant, acme, kept)
    for table in MOVED_TABLES:
        assert now[table] == kept_records[table] | dup_records[table], table
    gone = customer(in_tenant, acme, dup)
    assert gone.deleted_at is not None and gone.merged_into_id == kept
    assert len(merge_entries(in_tenant, acme)) == 1
    trash = admin.get(f"/{acme.slug}/customers/trash").text
    assert "Li Lei dup" in trash and "Merged into" in trash and f"/customers/{kept}" in trash
    log = admin.get(f"/{acme.slug}/settings/audit/?action=merge").text
    assert "Merged" in log and "Li Lei dup (#" in log and "_undo" not in log and "enc" not in log
    old_link = admin.get(f"/{acme.slug}/customers/{dup}")
    assert old_link.status_code == 303 and old_link.headers["Location"].endswith(f"/customers/{kept}")

    undone = admin.post(f"/{acme.slug}/customers/{kept}/unmerge", follow_redirects=True)
    assert undone.status_code == 200 and "Merge undone: 1 customer restored." in undone.text
    assert "Undo merge" not in undone.text
    back = customer(in_tenant, acme, kept)
    assert (back.company, back.email, back.id_number_idx) == ("Old Co", None, before.id_number_idx)
    assert back.custom == {"region": "North"} and "passport" not in back.custom_sensitive
    assert in_tenant(acme, lambda: db.session.get(Customer, kept).tag_ids) == []
    restored = customer(in_tenant, acme, dup)
    assert restored.deleted_at is None and restored.merged_into_id is None
    assert records_of(in_tenant, acme, dup) == dup_records
    assert records_of(in_tenant, acme, kept) == kept_records
    assert tag_names(in_tenant, acme, dup) == {"VIP", "Hot"}


def subscribe_to_customers(in_tenant, acme) -> None:
    """A webhook subscription to customer changes (at a closed local port: nothing is sent in the test)."""
    from crm.webhooks import service
    from crm.webhooks.models import WebhookSubscription

    in_tenant(acme, lambda: db.session.add(WebhookSubscription(
        url="http://127.0.0.1:9/hook", events=["customer.updated", "customer.deleted"],
        secret_enc=service.encrypt("whsec_x", service.secret_context()), enabled=True, failures=0)))


def webhook_events(in_tenant, acme) -> set[tuple[str, int]]:
    from crm.webhooks.models import WebhookDelivery

    return in_tenant(acme, lambda: {(d.type, d.payload["data"]["object"]["id"])
                                    for d in db.session.scalars(select(WebhookDelivery))})


def test_three_customers_merge_into_the_one_chosen(acme, admin, make_customer, in_tenant):
    ids = [make_customer(acme, name=name, email=f"{name.lower()}@example.com") for name in ("Ann", "Bo", "Cy")]
    subscribe_to_customers(in_tenant, acme)
    done = admin.post(f"/{acme.slug}/customers/merge", data={"ids": ids, "survivor_id": ids[1],
                                                             "field:email": ids[2]})
    assert done.status_code == 303 and done.headers["Location"].endswith(f"/customers/{ids[1]}")
    assert customer(in_tenant, acme, ids[1]).email == "cy@example.com"
    assert [customer(in_tenant, acme, i).merged_into_id for i in (ids[0], ids[2])] == [ids[1], ids[1]]
    entries = merge_entries(in_tenant, acme)
    assert len(entries) == 1 and entries[0][0] == ids[1]
    assert "Ann" in entries[0][1]["merged"][1] and "Cy" in entries[0][1]["merged"][1]
    assert webhook_events(in_tenant, acme) == {("customer.updated", ids[1]), ("customer.deleted", ids[0]),
                                               ("customer.deleted", ids[2])}


def test_undo_is_refused_once_the_customer_kept_changed(acme, admin, make_customer, in_tenant):
    kept, dup = make_customer(acme, name="Han Mei"), make_customer(acme, name="Han Mei 2")
    admin.post(f"/{acme.slug}/customers/merge", data={"ids": [kept, dup], "survivor_id": kept})
    changed = admin.post(f"/{acme.slug}/customers/{kept}/fields/company", data={"value": "Changed Co"}, headers=HX)
    assert changed.status_code == 200
    page = admin.get(f"/{acme.slug}/customers/{kept}").text
    assert "Merged 1 customer into this one" in page and "Undo merge" not in page
    refused = admin.post(f"/{acme.slug}/customers/{kept}/unmerge", follow_redirects=True)
    assert refused.status_code == 200
    assert "This merge can no longer be undone: the customer has changed since." in refused.text
    assert customer(in_tenant, acme, dup).deleted_at is not None
    assert customer(in_tenant, acme, kept).company == "Changed Co"
    nothing = admin.post(f"/{acme.slug}/customers/{dup + 1000}/unmerge")
    assert nothing.status_code == 404
    other = make_customer(acme, name="Never merged")
    never = admin.post(f"/{acme.slug}/customers/{other}/unmerge", follow_redirects=True)
    assert "There is no merge to undo." in never.text


def test_a_rep_cannot_merge_another_reps_customer(acme, client_as, people, make_customer, in_tenant):
    mine = make_customer(acme, member_id=people["rep"].member_id, name="Mine")
    theirs = make_customer(acme, member_id=people["west"].member_id, name="Theirs")
    rep = client_as(people["rep"].account_id)
    assert rep.get(f"/{acme.slug}/customers/merge?ids={mine}&ids={theirs}").status_code == 404
    for survivor in (mine, theirs):
        refused = rep.post(f"/{acme.slug}/customers/merge", data={"ids": [mine, theirs], "survivor_id": survivor})
        assert refused.status_code == 404
    assert customer(in_tenant, acme, theirs).deleted_at is None
    assert customer(in_tenant, acme, mine).deleted_at is None
    assert merge_entries(in_tenant, acme) == []
    also_mine = make_customer(acme, member_id=people["rep"].member_id, name="Also mine")
    done = rep.post(f"/{acme.slug}/customers/merge", data={"ids": [mine, also_mine], "survivor_id": mine})
    assert done.status_code == 303
    assert customer(in_tenant, acme, also_mine).merged_into_id == mine


def test_bad_selections_answer_a_clear_message(acme, admin, make_customer, in_tenant):
    ids = [make_customer(acme, name=f"Dup {n}") for n in range(4)]
    for chosen, survivor, message in (
            (ids[:1], ids[0], "Choose 2 or 3 customers to merge."),
            (ids, ids[0], "Choose 2 or 3 customers to merge."),
            (ids[:2], ids[2], "Choose which customer to keep among those merged."),
            (ids[:2], "", "Choose which customer to keep among those merged.")):
        answer = admin.post(f"/{acme.slug}/customers/merge", data={"ids": chosen, "survivor_id": survivor},
                            follow_redirects=True)
        assert answer.status_code == 200 and message in answer.text, (chosen, survivor)
    page = admin.get(f"/{acme.slug}/customers/merge?ids={ids[0]}", follow_redirects=True)
    assert page.status_code == 200 and "Choose 2 or 3 customers to merge." in page.text
    bad_field = admin.post(f"/{acme.slug}/customers/merge", data={"ids": ids[:2], "survivor_id": ids[0],
                                                                 "field:owner_id": ids[3]}, follow_redirects=True)
    assert "Choose one of the merged customers&#39; values." in bad_field.text
    assert all(customer(in_tenant, acme, i).deleted_at is None for i in ids)
    # From the list: the bulk bar's "Merge" opens the side-by-side page for the rows ticked.
    bulk = admin.post(f"/{acme.slug}/customers/bulk", data={"action": "merge", "ids": ids[:2]})
    assert bulk.status_code == 303
    side_by_side = admin.get(bulk.headers["Location"])
    assert side_by_side.status_code == 200 and "Dup 0" in side_by_side.text and "Dup 1" in side_by_side.text


def test_possible_duplicates_lists_same_phone_email_or_name_and_company(acme, admin, client_as, people,
                                                                        make_customer):
    same_phone = [make_customer(acme, name=n, phone="13900139000") for n in ("Phone A", "Phone B")]
    make_customer(acme, name="Mail A", email="same@example.com")
    make_customer(acme, name="Mail B", email="SAME@example.com")
    make_customer(acme, name="Wang Fang", company="Tea House")
    make_customer(acme, name="wang fang", company="tea house")
    make_customer(acme, name="Wang Fang", company="Other Co")
    make_customer(acme, name="Alone", phone="13700137000", email="alone@example.com")
    page = admin.get(f"/{acme.slug}/customers/possible-duplicates").text
    assert "Same phone" in page and "Phone A" in page and "Phone B" in page
    assert "Same email" in page and "Mail A" in page and "Mail B" in page
    assert "Same name and company" in page and "Other Co" not in page and "Alone" not in page
    assert f"/customers/merge?ids={same_phone[0]}&amp;ids={same_phone[1]}" in page
    # A rep sees the groups of its own customers only.
    mine = [make_customer(acme, member_id=people["rep"].member_id, name=f"Rep dup {n}", phone="13600136000")
            for n in (1, 2)]
    make_customer(acme, member_id=people["west"].member_id, name="West dup", phone="13600136000")
    rep_page = client_as(people["rep"].account_id).get(f"/{acme.slug}/customers/possible-duplicates").text
    assert "Rep dup 1" in rep_page and "Rep dup 2" in rep_page and f"ids={mine[1]}" in rep_page
    assert "West dup" not in rep_page and "Phone A" not in rep_page
    assert "No possible duplicates found." in client_as(people["rep2"].account_id).get(
        f"/{acme.slug}/customers/possible-duplicates").text


def test_the_duplicate_warning_and_the_customer_page_link_to_compare_and_merge(acme, admin, client_as, people,
                                                                                make_customer):
    kept = make_customer(acme, name="Li Lei", phone="13800138001")
    dup = make_customer(acme, name="Li Lei (2)", phone="13800138001", email="lilei@example.com")
    page = admin.get(f"/{acme.slug}/customers/{kept}").text
    note = page[page.index("duplicate-note"):]
    assert "Li Lei (2)" in note and f"/customers/merge?ids={kept}&amp;ids={dup}" in note
    warning = admin.get(f"/{acme.slug}/customers/duplicates", headers=HX,
                        query_string={"phone": "138 0013 8001", "exclude": dup}).text
    assert "Li Lei" in warning and f"/customers/merge?ids={dup}&amp;ids={kept}" in warning
    assert "compare and merge" not in admin.get(f"/{acme.slug}/customers/duplicates", headers=HX,
                                                query_string={"phone": "13800138001"}).text  # a new one: nothing yet
    # A rep whose role may not delete customers is not offered a merge; nor is anyone a customer out of reach.
    mine = make_customer(acme, member_id=people["rep"].member_id, name="Rep's", phone="13600136001")
    make_customer(acme, member_id=people["west"].member_id, name="West's", phone="13600136001")
    rep_page = client_as(people["rep"].account_id).get(f"/{acme.slug}/customers/{mine}").text
    assert "duplicate-note" not in rep_page and "West&#39;s" not in rep_page


def test_merge_pages_in_chinese(acme, admin, make_customer):
    ids = [make_customer(acme, name=name) for name in ("李雷", "李雷 重复")]
    admin.post("/language", data={"language": "zh"})
    page = admin.get(f"/{acme.slug}/customers/merge?ids={ids[0]}&ids={ids[1]}").text
    assert "合并客户" in page and "保留的客户" in page and "李雷 重复" in page
    done = admin.post(f"/{acme.slug}/customers/merge", data={"ids": ids, "survivor_id": ids[0]},
                      follow_redirects=True).text
    assert "已将 1 个客户合并到 李雷。" in done and "将 1 个客户合并到此客户" in done and "撤销合并" in done
    assert "可能重复的客户" in admin.get(f"/{acme.slug}/customers/").text
