"""The customer pool as people use it: the list, claims within the role's limit, assignments within a
manager's reach, releases with a reason, and who may do what."""
import re

from crm.customers.models import Customer, Tag
from crm.customers.writes import add_tag
from crm.extensions import db
from crm.members.models import Role
from tests.conftest import HX

FILTER = {"HX-Request": "true", "HX-Target": "results"}  # what the filter form sends


def test_pool_lists_unowned_customers_with_contacts_masked_until_claimed(acme, people, pooled, owned, client_as):
    pooled("池中客户", phone="13800138000", email="pool.person@example.com", company="池塘公司", source="Fair")
    owned(people["rep2"].member_id, "Someone Else's")
    rep = client_as(people["rep"].account_id)
    page = rep.get(f"/{acme.slug}/pool/")
    assert page.status_code == 200
    assert "池中客户" in page.text and "池塘公司" in page.text and "Fair" in page.text
    assert "Someone Else&#39;s" not in page.text and "Someone Else's" not in page.text
    assert "**** 8000" in page.text and "138 0013 8000" not in page.text
    assert "p***@example.com" in page.text and "pool.person@example.com" not in page.text
    admin = client_as(acme.admin_account_id).get(f"/{acme.slug}/pool/")
    assert "+86 138 0013 8000" in admin.text and "pool.person@example.com" in admin.text


def test_search_filters_and_more_rows(acme, people, pooled, client_as, in_tenant):
    for i in range(27):
        pooled(f"Bulk {i:02d}", level="B")
    alpha = pooled("Alpha Lead", level="A")

    def tag():
        hot = Tag(name="hot", color="red")
        db.session.add(hot)
        db.session.flush()
        add_tag([db.session.get(Customer, alpha)], hot)
        return hot.id

    hot = in_tenant(acme, tag)
    rep = client_as(people["rep"].account_id)
    first = rep.get(f"/{acme.slug}/pool/", headers=FILTER)
    assert "28 customers in the pool" in first.text and "<html" not in first.text
    assert first.text.count('name="ids"') == 25
    cursor = re.search(r'after=([^"&]+)', first.text).group(1)
    more = rep.get(f"/{acme.slug}/pool/?after={cursor}", headers=HX)
    assert more.text.count('name="ids"') == 3 and "customers in the pool" not in more.text
    assert "Alpha Lead" in first.text + more.text
    navigation = rep.get(f"/{acme.slug}/pool/", headers=HX)  # HX-Location after a claim: the whole page
    assert "<html" in navigation.text and 'id="filters"' in navigation.text
    by_level = rep.get(f"/{acme.slug}/pool/?level=A", headers=FILTER).text
    assert "Alpha Lead" in by_level and "Bulk 01" not in by_level and "1 customer in the pool" in by_level
    by_tag = rep.get(f"/{acme.slug}/pool/?tag={hot}", headers=FILTER).text
    assert "Alpha Lead" in by_tag and "Bulk 01" not in by_tag
    assert "Alpha Lead" in rep.get(f"/{acme.slug}/pool/?q=alpha", headers=FILTER).text
    assert "No pool customers match." in rep.get(f"/{acme.slug}/pool/?q=zzzz", headers=FILTER).text
    assert rep.get(f"/{acme.slug}/pool/?after=garbage", headers=FILTER).text.count('name="ids"') == 25


def test_claim_within_the_limit_and_refused_over_it(acme, people, pooled, owned, client_as, set_limit,
                                                    customer_row, events):
    set_limit("sales_rep", 2)
    owned(people["rep"].member_id)
    first, second = pooled("First"), pooled("Second")
    rep = client_as(people["rep"].account_id)
    over = rep.post(f"/{acme.slug}/pool/claim", data={"ids": [first, second]}, follow_redirects=True)
    assert "You may own at most 2 customers and own 1 now, so you can claim 1 more." in over.text
    assert customer_row(first).owner_id is None and customer_row(second).owner_id is None
    claimed = rep.post(f"/{acme.slug}/pool/claim", data={"ids": [first]}, follow_redirects=True)
    assert "You claimed 1 customer." in claimed.text
    row = customer_row(first)
    assert row.owner_id == people["rep"].member_id and row.owned_since is not None and row.pooled_at is None
    assert events(first)[-1] == ("pool_claimed", {"member": "Rui Rep", "owner_id": people["rep"].member_id})
    assert "First" in rep.get(f"/{acme.slug}/customers/").text
    full = rep.post(f"/{acme.slug}/pool/{second}/claim", follow_redirects=True)
    assert "so you can claim 0 more" in full.text and customer_row(second).owner_id is None


def test_claim_one_row_and_customers_that_have_an_owner(acme, people, pooled, owned, client_as, customer_row):
    free = pooled("Free One")
    mine, theirs = owned(people["rep"].member_id, "Mine"), owned(people["west"].member_id, "Theirs")
    rep = client_as(people["rep"].account_id)
    answer = rep.post(f"/{acme.slug}/pool/{free}/claim", headers=HX)
    assert answer.status_code == 204 and answer.headers["HX-Location"] == f"/{acme.slug}/pool/"
    assert customer_row(free).owner_id == people["rep"].member_id
    assert "Mine already has an owner." in rep.post(f"/{acme.slug}/pool/{mine}/claim", follow_redirects=True).text
    assert rep.post(f"/{acme.slug}/pool/{theirs}/claim").status_code == 404
    assert customer_row(theirs).owner_id == people["west"].member_id
    again = client_as(people["rep2"].account_id).post(f"/{acme.slug}/pool/claim", data={"ids": [free]},
                                                      follow_redirects=True)
    assert "None of the chosen customers is in the pool any more." in again.text
    assert customer_row(free).owner_id == people["rep"].member_id


def test_manager_assigns_within_reach_and_the_assignees_limit(acme, people, pooled, owned, client_as, set_limit,
                                                              customer_row, events):
    one, two = pooled("One"), pooled("Two")
    manager = client_as(people["manager"].account_id)
    page = manager.get(f"/{acme.slug}/pool/")
    assert "Rui Rep" in page.text and "Wes West" not in page.text  # only the manager's team is offered
    done = manager.post(f"/{acme.slug}/pool/assign", data={"ids": [one], "member_id": people["rep"].member_id},
                        follow_redirects=True)
    assert "1 customer assigned to Rui Rep." in done.text
    assert customer_row(one).owner_id == people["rep"].member_id
    assert events(one)[-1] == ("pool_assigned", {"member": "Rui Rep", "owner_id": people["rep"].member_id})
    outside = manager.post(f"/{acme.slug}/pool/assign", data={"ids": [two], "member_id": people["west"].member_id},
                           follow_redirects=True)
    assert "Choose an active member of your team." in outside.text and customer_row(two).owner_id is None
    set_limit("sales_rep", 1)
    full = manager.post(f"/{acme.slug}/pool/assign", data={"ids": [two], "member_id": people["rep"].member_id},
                        follow_redirects=True)
    assert "Rui Rep may own at most 1 customers and owns 1 now, so 0 more can be assigned." in full.text
    assert customer_row(two).owner_id is None
    admin = client_as(acme.admin_account_id)
    assert admin.post(f"/{acme.slug}/pool/assign", data={"ids": [two], "member_id": people["west"].member_id},
                      follow_redirects=True).status_code == 200
    assert customer_row(two).owner_id == people["west"].member_id  # the admin reaches everyone


def test_sales_rep_cannot_assign(acme, people, pooled, client_as, customer_row):
    one = pooled("One")
    rep = client_as(people["rep"].account_id)
    assert 'name="member_id"' not in rep.get(f"/{acme.slug}/pool/").text
    refused = rep.post(f"/{acme.slug}/pool/assign", data={"ids": [one], "member_id": people["rep2"].member_id},
                       follow_redirects=True)
    assert "Only managers can assign customers from the pool." in refused.text
    assert customer_row(one).owner_id is None


def test_release_needs_a_reason_and_goes_on_the_timeline(acme, people, owned, client_as, customer_row, events):
    customer = owned(people["rep"].member_id, "Leaving Soon")
    rep = client_as(people["rep"].account_id)
    form = rep.get(f"/{acme.slug}/pool/release/{customer}", headers=HX)
    assert form.status_code == 200 and "Release Leaving Soon to the pool" in form.text
    empty = rep.post(f"/{acme.slug}/pool/release/{customer}", data={"reason": "  "}, headers=HX)
    assert empty.status_code == 422 and "Say why the customer goes back to the pool." in empty.text
    long = rep.post(f"/{acme.slug}/pool/release/{customer}", data={"reason": "x" * 201}, headers=HX)
    assert long.status_code == 422 and "Use at most 200 characters." in long.text
    assert customer_row(customer).owner_id == people["rep"].member_id
    done = rep.post(f"/{acme.slug}/pool/release/{customer}", data={"reason": "Moved abroad"}, follow_redirects=True)
    assert "Leaving Soon is back in the pool." in done.text and "Moved abroad" in done.text
    row = customer_row(customer)
    assert row.owner_id is None and row.pool_reason == "Moved abroad" and row.pooled_at is not None
    assert row.owned_since is None
    assert events(customer)[-1] == ("pool_released", {"reason": "Moved abroad", "owner_id": people["rep"].member_id})
    again = rep.post(f"/{acme.slug}/pool/release/{customer}", data={"reason": "Twice"})
    assert again.status_code == 404  # out of the rep's reach now


def test_release_of_someone_elses_customer_is_not_found(acme, people, owned, client_as, customer_row):
    theirs = owned(people["rep2"].member_id, "Ren's Customer")
    rep = client_as(people["rep"].account_id)
    assert rep.get(f"/{acme.slug}/pool/release/{theirs}").status_code == 404
    assert rep.post(f"/{acme.slug}/pool/release/{theirs}", data={"reason": "Mine now"}).status_code == 404
    manager = client_as(people["manager"].account_id)  # Ren is in the manager's team
    assert manager.post(f"/{acme.slug}/pool/release/{theirs}", data={"reason": "Rebalancing"}).status_code == 303
    assert customer_row(theirs).owner_id is None


def test_read_only_roles_see_the_pool_but_cannot_claim(acme, add_member, pooled, client_as, customer_row):
    account, _member = add_member(acme, "read_only", "Rita Reader")
    one = pooled("Look Only")
    reader = client_as(account)
    page = reader.get(f"/{acme.slug}/pool/")
    assert page.status_code == 200 and "Look Only" in page.text and "Claim" not in page.text
    assert reader.post(f"/{acme.slug}/pool/claim", data={"ids": [one]}).status_code == 403
    assert reader.post(f"/{acme.slug}/pool/{one}/claim").status_code == 403
    assert customer_row(one).owner_id is None


def test_owner_change_elsewhere_restarts_the_recycle_clock(acme, people, owned, change, customer_row, in_tenant):
    from datetime import timedelta

    from crm.customers import writes
    from crm.members.models import Member
    from crm.extensions import utcnow

    customer = owned(people["rep"].member_id)
    long_ago = utcnow() - timedelta(days=90)
    change(customer, owned_since=long_ago, recycle_warned_at=long_ago)

    def bulk_move():
        admin = db.session.get(Member, acme.admin_member_id)
        writes.set_owner(admin, [db.session.get(Customer, customer)], str(people["rep2"].member_id))

    in_tenant(acme, bulk_move)
    row = customer_row(customer)
    assert row.owned_since > long_ago + timedelta(days=80) and row.recycle_warned_at is None


def test_role_page_sets_the_customer_limit(acme, client_as, in_tenant, role_id):
    rep_role = role_id(acme, "sales_rep")
    admin = client_as(acme.admin_account_id)
    bad = admin.post(f"/{acme.slug}/settings/roles/{rep_role}/pool-limit", data={"pool_limit": "-3"})
    assert bad.status_code == 422 and "Enter a whole number from 1 to 100000" in bad.text and 'value="-3"' in bad.text
    saved = admin.post(f"/{acme.slug}/settings/roles/{rep_role}/pool-limit", data={"pool_limit": "150"},
                       follow_redirects=True)
    assert "Customer limit saved." in saved.text and 'value="150"' in saved.text
    assert in_tenant(acme, lambda: db.session.get(Role, rep_role).pool_limit) == 150
    admin.post(f"/{acme.slug}/settings/roles/{rep_role}/pool-limit", data={"pool_limit": ""})
    assert in_tenant(acme, lambda: db.session.get(Role, rep_role).pool_limit) is None


def test_release_button_shows_for_who_may_release(app, acme, people, owned, pooled, in_tenant):
    from flask import g, render_template

    from crm.members.models import Member

    mine, theirs, free = owned(people["rep"].member_id, "Mine"), owned(people["rep2"].member_id, "Theirs"), pooled()

    def button(member: str, customer_id: int) -> bool:
        def render():
            with app.test_request_context(f"/{acme.slug}/customers/{customer_id}"):
                g.tenant, g.member = acme.ref, db.session.get(Member, people[member].member_id)
                html = render_template("pool/_release.html", customer=db.session.get(Customer, customer_id))
                return f"/{acme.slug}/pool/release/{customer_id}" in html

        return in_tenant(acme, render)

    assert button("rep", mine) and not button("rep", theirs) and not button("rep", free)
    assert button("manager", theirs) and button("admin", theirs)
