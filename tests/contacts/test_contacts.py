"""Contacts on the customer page: add, change, mark primary, remove; bad input at the field with nothing saved;
the customer's scope decides who sees and changes them; the audit log; a merge brings them to the customer kept
with one primary, and its undo gives each customer its own primary back."""
import re

from sqlalchemy import select

from crm.audit.models import AuditEntry
from crm.contacts.models import Contact
from crm.extensions import db
from tests.conftest import HX


def contacts_of(in_tenant, tenant, customer_id: int) -> list[tuple[str, bool]]:
    """(name, primary) of the customer's contacts, oldest first."""
    return in_tenant(tenant, lambda: db.session.execute(
        select(Contact.name, Contact.is_primary).where(Contact.customer_id == customer_id).order_by(Contact.id)
    ).all())


def contact_id(in_tenant, tenant, name: str) -> int:
    return in_tenant(tenant, lambda: db.session.scalar(select(Contact.id).where(Contact.name == name)))


def add(client, tenant, customer_id: int, **form):
    return client.post(f"/{tenant.slug}/customers/{customer_id}/contacts", data=form)


def test_an_admin_adds_contacts_the_first_is_primary_and_the_page_shows_them(acme, admin, make_customer, in_tenant):
    customer_id = make_customer(acme, name="星辰科技", kind="company")
    form = admin.get(f"/{acme.slug}/customers/{customer_id}/contacts/new", headers=HX)
    assert form.status_code == 200 and "New contact at 星辰科技" in form.text

    added = add(admin, acme, customer_id, name="王芳", title="采购经理", mobile="139 1234 5678",
                phone="+86 10 8888 6666", email="Wang.Fang@Example.com", wechat="wangfang88", notes="Prefers calls")
    assert added.status_code == 303 and added.headers["Location"].endswith(f"/customers/{customer_id}")
    assert add(admin, acme, customer_id, name="Li Na", email="li.na@example.com").status_code == 303

    page = admin.get(f"/{acme.slug}/customers/{customer_id}").text
    card = page[page.index('id="customer-contacts"'):]
    assert card.index("王芳") < card.index("Li Na")
    assert "采购经理" in card and 'href="tel:+8613912345678"' in card and "wang.fang@example.com" in card
    assert "wangfang88" in card and "Prefers calls" in card
    assert card.count(">Primary<") == 1 and card.index(">Primary<") < card.index("Li Na")
    assert contacts_of(in_tenant, acme, customer_id) == [("王芳", True), ("Li Na", False)]
    logged = in_tenant(acme, lambda: db.session.execute(select(AuditEntry.action, AuditEntry.summary).where(
        AuditEntry.entity == "contact")).all())
    assert ("create", "王芳 · 星辰科技") in logged


def test_bad_input_is_shown_at_its_field_and_nothing_is_saved(acme, admin, make_customer, in_tenant):
    customer_id = make_customer(acme, name="Brightline")
    answer = add(admin, acme, customer_id, name="", mobile="12", email="not-an-email", wechat="x" * 41)
    assert answer.status_code == 422
    for field, message in (("name", "Name is required."), ("mobile", "Enter a valid phone number"),
                           ("email", "Enter a valid email address."), ("wechat", "Use at most 40 characters.")):
        assert re.search(rf'id="{field}-error">{re.escape(message)}', answer.text), field
    assert 'value="not-an-email"' in answer.text  # what was typed is kept
    assert contacts_of(in_tenant, acme, customer_id) == []


def test_marking_another_primary_and_removing_the_primary_leave_exactly_one(acme, admin, make_customer, in_tenant):
    customer_id = make_customer(acme, name="Brightline")
    for name in ("Ann", "Bob", "Cy"):
        assert add(admin, acme, customer_id, name=name).status_code == 303
    assert add(admin, acme, customer_id, name="Dee", primary="y").status_code == 303
    assert contacts_of(in_tenant, acme, customer_id) == [("Ann", False), ("Bob", False), ("Cy", False), ("Dee", True)]

    bob = contact_id(in_tenant, acme, "Bob")
    done = admin.post(f"/{acme.slug}/contacts/{bob}/primary", follow_redirects=True)
    assert "Bob is now the primary contact." in done.text
    assert [p for _n, p in contacts_of(in_tenant, acme, customer_id)] == [False, True, False, False]

    removed = admin.post(f"/{acme.slug}/contacts/{bob}/delete", follow_redirects=True)
    assert "Contact Bob removed." in removed.text
    assert contacts_of(in_tenant, acme, customer_id) == [("Ann", True), ("Cy", False), ("Dee", False)]


def test_editing_changes_the_fields_and_the_campaign_opt_out(acme, admin, make_customer, in_tenant):
    customer_id = make_customer(acme, name="Brightline")
    add(admin, acme, customer_id, name="Ann", email="ann@example.com")
    ann = contact_id(in_tenant, acme, "Ann")
    form = admin.get(f"/{acme.slug}/contacts/{ann}/edit", headers=HX).text
    assert "Edit Ann" in form and 'value="ann@example.com"' in form

    saved = admin.post(f"/{acme.slug}/contacts/{ann}", data={"name": "Ann Lee", "title": "CEO",
                                                             "email": "ann@example.com", "no_marketing": "y"},
                       follow_redirects=True)
    assert "Changes saved." in saved.text and "Ann Lee" in saved.text and "Receives no campaigns." in saved.text
    contact = in_tenant(acme, lambda: db.session.execute(select(
        Contact.name, Contact.title, Contact.marketing_opt_out_at.is_not(None)).where(Contact.id == ann)).one())
    assert tuple(contact) == ("Ann Lee", "CEO", True)
    changes = in_tenant(acme, lambda: db.session.scalar(select(AuditEntry.changes).where(
        AuditEntry.entity == "contact", AuditEntry.action == "update")))
    assert changes["name"] == ["Ann", "Ann Lee"] and changes["marketing_opt_out"] == [False, True]


def test_a_rep_sees_and_changes_only_the_contacts_of_customers_in_reach(acme, people, client_as, make_customer,
                                                                        in_tenant, admin):
    mine = make_customer(acme, people["rep"].member_id, name="Rui's customer")
    west = make_customer(acme, people["west"].member_id, name="Wes's customer")
    add(admin, acme, mine, name="Mine Contact")
    add(admin, acme, west, name="West Secret")
    rep = client_as(people["rep"].account_id)
    secret = contact_id(in_tenant, acme, "West Secret")

    assert "Mine Contact" in rep.get(f"/{acme.slug}/customers/{mine}").text
    assert rep.get(f"/{acme.slug}/customers/{west}").status_code == 404
    assert rep.get(f"/{acme.slug}/contacts/{secret}/edit", headers=HX).status_code == 404
    assert rep.post(f"/{acme.slug}/contacts/{secret}", data={"name": "Taken"}).status_code == 404
    assert rep.post(f"/{acme.slug}/contacts/{secret}/delete").status_code == 404
    assert add(rep, acme, west, name="Planted").status_code == 404
    assert contacts_of(in_tenant, acme, west) == [("West Secret", True)]
    assert add(rep, acme, mine, name="Second").status_code == 303


def test_a_merge_brings_the_contacts_with_one_primary_and_undo_gives_each_its_own_back(
        acme, admin, make_customer, in_tenant):
    kept = make_customer(acme, name="Li Lei", phone="13800138000")
    dup = make_customer(acme, name="Li Lei dup", phone="13800138000")
    add(admin, acme, kept, name="Kept Primary")
    add(admin, acme, dup, name="Dup Other")
    add(admin, acme, dup, name="Dup Primary", primary="y")

    merged = admin.post(f"/{acme.slug}/customers/merge", data={"ids": [kept, dup], "survivor_id": kept},
                        follow_redirects=True)
    assert "1 customer merged into Li Lei." in merged.text
    assert contacts_of(in_tenant, acme, kept) == [("Kept Primary", True), ("Dup Other", False),
                                                  ("Dup Primary", False)]
    assert contacts_of(in_tenant, acme, dup) == []

    admin.post(f"/{acme.slug}/customers/{kept}/unmerge")
    assert contacts_of(in_tenant, acme, kept) == [("Kept Primary", True)]
    assert contacts_of(in_tenant, acme, dup) == [("Dup Other", False), ("Dup Primary", True)]
