"""Saved views of the customer, deal, order and ticket lists: saving the list as it is, opening it as a tab, the
member's default, who may share and change, a view that names a tag or field deleted since, and who sees what."""
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from crm.extensions import db
from tests.conftest import HX

LIST_PATHS = {"customers": "customers/", "deals": "deals/list", "orders": "orders/", "tickets": "tickets/"}


def save_view(client, tenant, list_name: str, name: str, filters: dict, **form) -> int:
    """Save a view as the tab bar does: the form asked for with the list's filters, then posted; its id."""
    page = client.get(f"/{tenant.slug}/views/new", query_string={"list": list_name, **filters}, headers=HX)
    assert page.status_code == 200, page.text
    query = unescape(re.search(r'name="query" type="hidden" value="([^"]*)"', page.text).group(1))
    answer = client.post(f"/{tenant.slug}/views/", data={"list": list_name, "query": query, "name": name, **form},
                         headers=HX)
    assert answer.status_code == 204, answer.text
    return int(re.search(r"/views/(\d+)$", answer.headers["HX-Location"]).group(1))


def opened(client, tenant, view_id: int):
    """Where opening the view sends the member: (path, query arguments)."""
    answer = client.get(f"/{tenant.slug}/views/{view_id}")
    assert answer.status_code == 303, answer.text
    where = urlsplit(answer.headers["Location"])
    return where.path, parse_qs(where.query)


def test_a_saved_customer_view_opens_as_a_tab_with_its_filters_sort_and_columns(acme, admin, make_customer,
                                                                                  in_tenant):
    from crm.fields import definitions

    in_tenant(acme, lambda: (definitions.save_field(None, {"key": "region", "label_en": "Region", "type": "text",
                                                           "filterable": "on"}), db.session.commit()))
    make_customer(acme, name="Lead Li", stage="lead")
    make_customer(acme, name="Won Wang", stage="customer")
    view_id = save_view(admin, acme, "customers", "My leads",
                        {"stage": "lead", "sort": "name", "columns_set": "1", "col": "region", "after": "x"})
    path, query = opened(admin, acme, view_id)
    assert path == f"/{acme.slug}/customers/"
    assert query == {"stage": ["lead"], "sort": ["name"], "columns_set": ["1"], "col": ["region"],
                     "saved": [str(view_id)]}
    page = admin.get(f"/{acme.slug}/customers/", query_string={k: v for k, v in query.items()}).text
    assert re.search(rf'href="/{acme.slug}/views/{view_id}" data-view="{view_id}" aria-current="page">My leads', page)
    assert "Lead Li" in page and "Won Wang" not in page and "<th class=\"hide-sm\">Region</th>" in page
    assert f"/{acme.slug}/views/{view_id}/edit" in page  # the opened view can be changed


@pytest.mark.parametrize("list_name, filters, kept", [
    ("deals", {"status": "won", "sort": "amount"}, {"status": ["won"]}),
    ("orders", {"status": "placed", "owner": "me"}, {"status": ["placed"], "owner": ["me"]}),
    ("tickets", {"view": "mine", "priority": "urgent", "q": "打印机"},
     {"view": ["mine"], "priority": ["urgent"], "q": ["打印机"]}),
])
def test_the_deal_order_and_ticket_lists_take_views_the_same_way(acme, admin, list_name, filters, kept):
    view_id = save_view(admin, acme, list_name, f"{list_name} view", filters)
    path, query = opened(admin, acme, view_id)
    assert path == f"/{acme.slug}/{LIST_PATHS[list_name]}"
    assert {k: v for k, v in query.items() if k in kept} == kept and query["saved"] == [str(view_id)]
    page = admin.get(f"/{acme.slug}/{LIST_PATHS[list_name]}", query_string=query)
    assert page.status_code == 200 and f"{list_name} view</a>" in page.text


def test_a_view_needs_a_name_unique_among_the_members_views_of_that_list(acme, admin):
    save_view(admin, acme, "customers", "Hot", {"level": "A"})
    for name, message in (("", "Name the view."), (" hot ", "A view of this list already has this name.")):
        answer = admin.post(f"/{acme.slug}/views/", data={"list": "customers", "query": "", "name": name}, headers=HX)
        assert answer.status_code == 422 and message in answer.text
    assert save_view(admin, acme, "deals", "Hot", {})  # another list: no clash


def test_the_default_view_opens_the_list_from_the_menu_but_not_from_the_list_itself(acme, admin):
    view_id = save_view(admin, acme, "customers", "Mine", {"owner": "me"}, default="y")
    from_menu = admin.get(f"/{acme.slug}/customers/", headers={"Referer": f"http://localhost/{acme.slug}/"})
    assert from_menu.status_code == 303 and from_menu.headers["Location"] == f"/{acme.slug}/views/{view_id}"
    assert admin.get(f"/{acme.slug}/customers/").status_code == 303  # a bookmark, typed address
    all_tab = admin.get(f"/{acme.slug}/customers/", headers={"Referer": f"http://localhost/{acme.slug}/customers/"})
    assert all_tab.status_code == 200 and "★" in all_tab.text
    assert admin.get(f"/{acme.slug}/customers/", headers=HX).status_code == 200  # the rows' own swaps
    admin.post(f"/{acme.slug}/views/{view_id}", data={"name": "Mine"}, headers=HX)  # default unticked
    assert admin.get(f"/{acme.slug}/customers/").status_code == 200


def test_only_admins_and_managers_share_and_members_see_shared_and_their_own_views(acme, people, client_as):
    rep, rep2, manager = (client_as(people[k].account_id) for k in ("rep", "rep2", "manager"))
    refused = rep.post(f"/{acme.slug}/views/", data={"list": "customers", "query": "", "name": "Mine",
                                                       "shared": "y"}, headers=HX)
    assert refused.status_code == 422 and "Only admins and managers may share views" in refused.text
    private = save_view(rep, acme, "customers", "Rui's private", {"stage": "lead"})
    shared = save_view(manager, acme, "customers", "Team leads", {"stage": "lead"}, shared="y")
    page = rep2.get(f"/{acme.slug}/customers/").text
    assert "Team leads" in page and "Rui&#39;s private" not in page and "Rui's private" not in page
    for answer in (rep2.get(f"/{acme.slug}/views/{private}"), rep2.get(f"/{acme.slug}/views/{private}/edit"),
                   rep2.post(f"/{acme.slug}/views/{private}", data={"name": "Taken"}),
                   rep2.post(f"/{acme.slug}/views/{private}/delete")):
        assert answer.status_code == 404
    # A shared view: a rep may open it and make it their default, not rename or delete it.
    edit = rep2.get(f"/{acme.slug}/views/{shared}/edit", headers=HX).text
    assert 'name="name"' not in edit and "Delete view" not in edit and "Shared by Mia Manager" in edit
    assert rep2.post(f"/{acme.slug}/views/{shared}", data={"name": "Renamed", "default": "y"},
                     headers=HX).status_code == 204
    assert rep2.post(f"/{acme.slug}/views/{shared}/delete", headers=HX).status_code == 403
    assert rep2.get(f"/{acme.slug}/customers/").headers["Location"] == f"/{acme.slug}/views/{shared}"
    assert "Team leads" in rep2.get(f"/{acme.slug}/views/{shared}/edit", headers=HX).text  # not renamed
    # Unshared by its owner, it leaves the others' tabs and defaults.
    assert manager.post(f"/{acme.slug}/views/{shared}", data={"name": "Team leads"}, headers=HX).status_code == 204
    assert rep2.get(f"/{acme.slug}/customers/").status_code == 200
    assert rep2.get(f"/{acme.slug}/views/{shared}").status_code == 404


def test_an_admin_may_delete_a_shared_view_of_another_member(acme, people, client_as, admin):
    shared = save_view(client_as(people["manager"].account_id), acme, "orders", "Big orders", {}, shared="y")
    assert admin.post(f"/{acme.slug}/views/{shared}/delete", headers=HX).status_code == 204
    assert admin.get(f"/{acme.slug}/views/{shared}").status_code == 404


def test_a_view_survives_its_tag_being_deleted_and_says_the_filter_was_removed(acme, admin, tagged, in_tenant):
    from crm.customers.models import Tag
    from crm.tags import service as tags

    tagged(acme, ["VIP"], name="Vivian VIP")
    tagged(acme, ["Plain"], name="Paul Plain")
    vip, plain = in_tenant(acme, lambda: [db.session.scalar(select(Tag.id).where(Tag.name == n))
                                          for n in ("VIP", "Plain")])
    view_id = save_view(admin, acme, "customers", "VIPs", {"tag": [str(vip), str(plain)], "tag_mode": "any"})
    in_tenant(acme, lambda: (tags.delete_tag(db.session.get(Tag, vip)), db.session.commit()))
    path, query = opened(admin, acme, view_id)
    assert query["tag"] == [str(plain)]
    page = admin.get(path, query_string=query).text
    assert "“VIP” no longer exists: this view opens without its filter." in page
    assert "Paul Plain" in page and "Vivian VIP" not in page


def test_a_view_survives_its_custom_field_being_deleted(acme, admin, make_customer, in_tenant):
    from crm.fields import definitions

    field_id = in_tenant(acme, lambda: (definitions.save_field(
        None, {"key": "grade", "label_en": "Grade", "label_zh": "等级", "type": "number", "filterable": "on"}).id,
        db.session.commit())[0])
    make_customer(acme, name="Anyone")
    view_id = save_view(admin, acme, "customers", "Graded", {"cf_grade_min": "3", "stage": "lead"})
    in_tenant(acme, lambda: (definitions.archive(definitions.get_field(field_id)), db.session.commit()))
    path, query = opened(admin, acme, view_id)
    assert "cf_grade_min" not in query and query["stage"] == ["lead"]
    page = admin.get(path, query_string=query)
    assert page.status_code == 200 and "“Grade” no longer exists" in page.text


def test_a_view_of_another_workspace_is_not_found(acme, globex, admin, client_as):
    view_id = save_view(admin, acme, "customers", "Acme only", {}, shared="y")
    other = client_as(globex.admin_account_id)
    assert other.get(f"/{globex.slug}/views/{view_id}").status_code == 404
    assert other.get(f"/{acme.slug}/views/{view_id}").status_code == 404
    assert "Acme only" not in other.get(f"/{globex.slug}/customers/").text


def test_a_list_the_role_may_not_view_has_no_views(acme, add_member, client_as, in_tenant):
    from crm.saved_views.models import SavedView

    account_id, member_id = add_member(acme, "support_agent", "Sue Support")

    def saved_before_the_role_changed():  # Support agents do not see deals
        view = SavedView(list="deals", name="Deals", owner_id=member_id, query={}, names={})
        db.session.add(view)
        db.session.commit()
        return view.id

    view_id = in_tenant(acme, saved_before_the_role_changed)
    client = client_as(account_id)
    assert client.get(f"/{acme.slug}/views/{view_id}").status_code == 404
    refused = client.post(f"/{acme.slug}/views/", data={"list": "nowhere", "query": "", "name": "X"}, headers=HX)
    assert refused.status_code == 422 and "This list has no saved views." in refused.text


def test_deleting_a_default_view_leaves_the_list_opening_as_it_is(acme, admin):
    view_id = save_view(admin, acme, "customers", "Mine", {"owner": "me"}, default="y")
    assert admin.get(f"/{acme.slug}/customers/").status_code == 303
    assert admin.post(f"/{acme.slug}/views/{view_id}/delete", headers=HX).status_code in (200, 204, 303)
    assert admin.get(f"/{acme.slug}/customers/").status_code == 200


def test_a_default_kept_in_the_old_table_is_the_members_default_after_the_upgrade(app, acme, admin):
    from sqlalchemy import text

    from tenants.migrations import upgrade_schema

    view_id = save_view(admin, acme, "customers", "Mine", {"owner": "me"})  # not a default yet
    schema = f"t_{acme.id}"
    with app.app_context(), db.engine.begin() as connection:  # the default as t0046 stored it
        connection.execute(text(f"alter table {schema}.members drop column default_views"))
        connection.execute(text(f"create table {schema}.saved_view_defaults (member_id int not null, "
                                f"list varchar(20) not null, view_id int not null, primary key (member_id, list))"))
        connection.execute(text(f"insert into {schema}.saved_view_defaults values (:m, 'customers', :v)"),
                           {"m": acme.admin_member_id, "v": view_id})
        owner = connection.execute(text("select tableowner from pg_tables where schemaname = :s "
                                        "and tablename = 'members'"), {"s": schema}).scalar()
        connection.execute(text(f'alter table {schema}.saved_view_defaults owner to "{owner}"'))
        connection.execute(text(f"update {schema}.alembic_version set version_num = 't0046'"))
    with app.app_context():
        upgrade_schema(db.engine, schema, "t0049")
    opened_list = admin.get(f"/{acme.slug}/customers/")
    assert opened_list.status_code == 303 and opened_list.headers["Location"] == f"/{acme.slug}/views/{view_id}"
    with app.app_context(), db.engine.connect() as connection:
        assert connection.execute(text(f"select to_regclass('{schema}.saved_view_defaults')")).scalar() is None
