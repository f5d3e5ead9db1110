"""Hostile input (issue 11): redirects that stay on this site, a NUL refused at the door, ids and dates out of
range refused at the field, fragments opened as pages, counts that follow the viewer's scope; then a walk of
every route with hostile values in each path and query parameter and form field, which finds no 500."""
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from crm.customers.models import Customer, Tag
from crm.extensions import db
from crm.followups.models import Activity
from crm.web import local_path
from tests.conftest import HX

OFFSITE = ["/\t/evil.test", "/\n/evil.test", "/\r\n/evil.test", "/\\evil.test", "/\t\\evil.test", "//evil.test",
           "https://evil.test/", "javascript:alert(1)", " //evil.test", "/\x7f/evil.test", "/\x85/evil.test",
           "/" + "a" * 3000]


@pytest.mark.parametrize("target", OFFSITE)
def test_a_redirect_target_with_control_characters_backslashes_or_another_host_is_refused(target):
    assert local_path(target) is None


@pytest.mark.parametrize("target", ["/acme/customers/", "/acme/customers/?q=a//b&tag=3", "/acme/customers/?q=张伟"])
def test_a_path_on_this_site_is_kept(target):
    assert local_path(target) == target


def _sign_in(app, tenant, target):
    return app.test_client().post(f"/login?next={target}", data={"email": f"admin@{tenant.slug}.example",
                                                                 "password": "password-123"})


@pytest.mark.parametrize("target", ["/%09/evil.test", "/%0d%0a/evil.test", "/%5c%09/evil.test", "/a%0d%0ab"])
def test_signing_in_with_a_hostile_next_stays_on_this_site(app, acme, target):
    answer = _sign_in(app, acme, target)
    assert answer.status_code == 303 and answer.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/\t/evil.test", "/a\r\nb", "/\\evil.test"])
def test_the_language_switch_and_follow_ups_go_back_only_to_this_site(acme, admin, target):
    language = admin.post("/language", data={"language": "zh", "next": target})
    assert language.status_code == 303 and language.headers["Location"] == "/"
    digest = admin.post(f"/{acme.slug}/activities/digest", data={"wanted": "1", "next": target})
    assert digest.status_code == 303 and digest.headers["Location"] == f"/{acme.slug}/activities/"
    note = admin.post(f"/{acme.slug}/activities/digest", headers=HX, data={"wanted": "0", "next": target})
    assert note.status_code == 204 and note.headers["HX-Location"] == f"/{acme.slug}/activities/"


def test_going_back_to_a_filtered_list_keeps_its_filters_and_nothing_else(acme, admin, tagged, in_tenant):
    doomed = tagged(acme, ["VIP", "Gold"])
    vip, gold = in_tenant(acme, lambda: [db.session.scalar(select(Tag.id).where(Tag.name == name))
                                         for name in ("VIP", "Gold")])
    hostile = "endpoint=x&message=x&_external=1&_scheme=javascript&_anchor=x&slug=other"
    bulk = admin.post(f"/{acme.slug}/customers/bulk?{hostile}&tag={vip}&tag={gold}",
                      data={"action": "delete", "ids": [doomed]})
    assert bulk.status_code == 303
    back = urlsplit(bulk.headers["Location"])
    assert back.path == f"/{acme.slug}/customers/" and not back.fragment
    assert parse_qs(back.query) == {"tag": [str(vip), str(gold)], "tag_mode": ["all"]}
    claim = admin.post(f"/{acme.slug}/pool/claim?{hostile}&level=A", data={"ids": [doomed]})
    assert claim.status_code == 303 and claim.headers["Location"] == f"/{acme.slug}/pool/?level=A"


def test_a_nul_byte_anywhere_in_a_request_is_a_clear_400_page(acme, admin, make_customer, in_tenant):
    make_customer(acme, name="Kept")
    for url in (f"/{acme.slug}/customers/?q=%00", f"/{acme.slug}/campaigns/audience?q=%00",
                f"/{acme.slug}/customers/?tag%00=1", "/%00/customers/"):
        page = admin.get(url, headers=HX)
        assert page.status_code == 400, url
        assert "This request could not be read" in page.text
    page = admin.post(f"/{acme.slug}/customers/", data={"name": "Nul\x00Name"})
    assert page.status_code == 400 and "<html" in page.text and "check what was typed or pasted" in page.text
    names = in_tenant(acme, lambda: db.session.scalars(select(Customer.name)).all())
    assert names == ["Kept"]


def test_a_lone_surrogate_is_refused_and_invalid_utf8_never_becomes_one(app, acme, admin):
    from werkzeug.exceptions import BadRequest

    from crm.web import refuse_unreadable

    with app.test_request_context("/"), pytest.raises(BadRequest):
        refuse_unreadable("customers.show", {"name": "\ud800"})
    # Werkzeug keeps undecodable bytes percent-encoded or replaced, so no surrogate reaches a view from the wire.
    assert admin.get(f"/{acme.slug}/customers/?q=%ED%A0%80", headers=HX).status_code == 200
    form = admin.post(f"/{acme.slug}/tags/", data=b"name=%ED%A0%80", content_type="application/x-www-form-urlencoded")
    assert form.status_code in (303, 422)


def _follow_up(client, tenant, **fields):
    return client.post(f"/{tenant.slug}/activities/", data={
        "mode": "plan", "method": "call", "summary": "Call back", "due_at": "2030-01-02T10:00",
        "owner_id": str(tenant.admin_member_id), **fields})


def _activities(in_tenant, tenant) -> int:
    return in_tenant(tenant, lambda: db.session.scalar(select(func.count()).select_from(Activity)))


@pytest.mark.parametrize("field", ["customer_id", "deal_id"])
@pytest.mark.parametrize("value", ["2147483648", "9999999999999999999", "-1", "1e3"])
def test_an_id_past_the_database_range_is_not_found_and_nothing_is_saved(acme, admin, make_customer, in_tenant,
                                                                        field, value):
    customer_id = make_customer(acme, name="Real")
    fields = {"customer_id": str(customer_id), field: value}
    assert _follow_up(admin, acme, **fields).status_code == 404
    assert admin.post(f"/{acme.slug}/activities/notes", data={**fields, "text": "Hello"}).status_code == 404
    assert _activities(in_tenant, acme) == 0


def test_a_year_one_date_is_a_message_at_the_field(acme, admin, make_customer, in_tenant):
    customer_id = make_customer(acme, name="Real")
    answer = _follow_up(admin, acme, customer_id=str(customer_id), due_at="0001-01-01T00:00")
    assert answer.status_code == 422 and "Enter a date between 1900 and 9999." in answer.text
    assert _activities(in_tenant, acme) == 0
    campaign = admin.post(f"/{acme.slug}/campaigns/", headers=HX, data={
        "name": "Spring", "channel": "email", "language": "en", "subject": "Hi", "body": "Hello",
        "send_at": "0001-01-01T00:00", "action": "send"})
    assert campaign.status_code == 422 and "Enter a date between 1900 and 9999." in campaign.text


def test_a_fragment_opened_as_a_page_goes_to_its_page(acme, admin, make_customer):
    made = admin.post(f"/{acme.slug}/campaigns/", data={
        "name": "Spring", "channel": "email", "language": "en", "subject": "Hi", "body": "Hello", "action": "save"})
    page = made.headers["Location"]
    opened = admin.get(f"{page}/progress")
    assert opened.status_code == 303 and opened.headers["Location"] == page
    assert 'id="progress"' in admin.get(f"{page}/progress", headers=HX).text
    customer_id = make_customer(acme, name="Real")
    timeline = admin.get(f"/{acme.slug}/customers/{customer_id}/timeline")
    assert timeline.status_code == 303 and timeline.headers["Location"] == f"/{acme.slug}/customers/{customer_id}"


def test_a_reps_tags_page_counts_only_the_customers_the_rep_may_see(acme, people, client_as, tagged, admin):
    for _mine in range(2):
        tagged(acme, ["VIP"], member_id=people["rep"].member_id, name="Mine")
    for _theirs in range(5):
        tagged(acme, ["VIP"], member_id=people["rep2"].member_id, name="Theirs")
    deleted = tagged(acme, ["VIP"], member_id=people["rep"].member_id, name="Binned")
    assert admin.post(f"/{acme.slug}/customers/{deleted}/delete").status_code == 303
    rep = client_as(people["rep"].account_id).get(f"/{acme.slug}/tags/")
    assert _vip_count(rep.text) == "2"
    assert _vip_count(admin.get(f"/{acme.slug}/tags/").text) == "7"


def _vip_count(html: str) -> str:
    return re.search(r'tag-\w+">VIP</span></td>\s*<td><a href="[^"]*">(\d+)</a>', html)[1]
