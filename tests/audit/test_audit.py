"""The audit log as an admin meets it: filters, scrolling, masked values, escaping, and who may see it."""
import re
from datetime import datetime, timezone

import pytest
from flask import render_template

from crm.audit import service
from crm.audit.service import MASK, diff, record
from crm.extensions import db
from crm.members.models import Member
from tests.conftest import HX


def log(tenant, in_tenant, *entries):
    """Record entries as the tenant's admin (or the system with `system=True`); returns their ids."""
    def write():
        actor = db.session.get(Member, tenant.admin_member_id)
        made = []
        for fields in entries:
            fields = dict(fields)
            at, system = fields.pop("at", None), fields.pop("system", False)
            entry = record(fields.pop("action"), fields.pop("entity"), fields.pop("entity_id", None),
                           actor=None if system else actor, **fields)
            if at:
                entry.at = at
            made.append(entry)
        db.session.flush()
        return [entry.id for entry in made]

    return in_tenant(tenant, write)


def day(year, month, dd):
    return datetime(year, month, dd, 12, 0, tzinfo=timezone.utc)


def listing(client, tenant, qs="") -> str:
    page = client.get(f"/{tenant.slug}/settings/audit/?{qs}", headers=HX)
    assert page.status_code == 200, qs
    return page.text


def test_admin_sees_the_log_and_filters_it(acme, admin, in_tenant, make_customer):
    customer_id = make_customer(acme, name="Wang Fang")
    log(acme, in_tenant,
        {"action": "create", "entity": "customer", "entity_id": customer_id, "summary": "Added Wang Fang"},
        {"action": "update", "entity": "customer", "entity_id": customer_id, "summary": "Edited Wang Fang",
         "changes": {"company": ["Old Co", "New Co"], "level": [None, "A"]}},
        {"action": "delete", "entity": "tag", "entity_id": 3, "summary": "Removed tag VIP"},
        {"action": "login", "entity": "member", "summary": "Nightly import", "system": True},
        {"action": "update", "entity": "settings", "summary": "January change", "at": day(2020, 1, 10)},
        {"action": "update", "entity": "settings", "summary": "March change", "at": day(2020, 3, 5)})

    page = admin.get(f"/{acme.slug}/settings/audit/")
    assert page.status_code == 200 and "<html" in page.text and "Audit log" in page.text
    assert all(s in page.text for s in ("Added Wang Fang", "Edited Wang Fang", "Removed tag VIP", "Nightly import"))
    assert "Ada Admin" in page.text and "System" in page.text
    assert f'href="/{acme.slug}/customers/{customer_id}"' in page.text
    assert "Company:</span> Old Co → New Co" in page.text and "Level:</span> — → A" in page.text
    assert page.text.index("March change") < page.text.index("January change")  # newest first

    rows = listing(admin, acme, "action=update")
    assert "<html" not in rows and "Edited Wang Fang" in rows and "March change" in rows
    assert "Added Wang Fang" not in rows and "Removed tag VIP" not in rows
    rows = listing(admin, acme, "entity=tag")
    assert "Removed tag VIP" in rows and "Edited Wang Fang" not in rows
    rows = listing(admin, acme, f"actor={acme.admin_member_id}")
    assert "Edited Wang Fang" in rows and "Nightly import" not in rows
    rows = listing(admin, acme, "q=wang FANG")
    assert "Added Wang Fang" in rows and "Edited Wang Fang" in rows and "Removed tag VIP" not in rows
    assert "No entries match." in listing(admin, acme, "q=%25") and "No entries match." in listing(admin, acme, "q=_")

    rows = listing(admin, acme, "since=2020-03-01&until=2020-03-31")
    assert "March change" in rows and "January change" not in rows and "Edited Wang Fang" not in rows
    rows = listing(admin, acme, "since=2020-01-10&until=2020-01-10")
    assert "January change" in rows and "March change" not in rows
    rows = listing(admin, acme, "since=2021-01-01")
    assert "Edited Wang Fang" in rows and "January change" not in rows and "March change" not in rows


def test_keyset_pages_cover_every_entry_once_and_keep_the_filters(acme, admin, in_tenant):
    log(acme, in_tenant, *({"action": "update", "entity": "customer", "entity_id": i + 1, "summary": f"bulk {i}"}
                          for i in range(120)))
    log(acme, in_tenant, {"action": "update", "entity": "customer", "summary": "not in the batch"})
    seen, url = [], f"/{acme.slug}/settings/audit/?q=bulk"
    while url:
        page = admin.get(url, headers=HX).text
        assert "not in the batch" not in page
        seen += [int(i) for i in re.findall(r'id="audit-(\d+)"', page)]
        more = re.search(r'<tr class="more" hx-get="([^"]+)"', page)
        url = more.group(1).replace("&amp;", "&") if more else None
    assert len(seen) == 120 and len(set(seen)) == 120
    assert seen == sorted(seen, reverse=True)


def test_sensitive_values_are_masked_and_html_is_escaped(acme, admin, in_tenant):
    changes = diff({"phone": "+8613800000001", "company": "Old"}, {"phone": "+8613900000002", "company": "<b>New</b>"},
                   sensitive={"phone"})
    log(acme, in_tenant, {"action": "update", "entity": "customer", "entity_id": 7,
                          "summary": "<script>alert(1)</script>", "changes": changes})
    page = admin.get(f"/{acme.slug}/settings/audit/").text
    assert f"Phone:</span> {MASK} → {MASK}" in page
    assert "13800000001" not in page and "13900000002" not in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>New</b>" not in page and "Old → &lt;b&gt;New&lt;/b&gt;" in page


def test_only_members_who_may_view_settings_see_the_log(acme, add_member, client_as, in_tenant):
    log(acme, in_tenant, {"action": "update", "entity": "settings", "summary": "Admin only"})
    rep_account, _rep = add_member(acme, role="sales_rep")
    rep = client_as(rep_account)
    assert rep.get(f"/{acme.slug}/settings/audit/").status_code == 403
    refused = rep.get(f"/{acme.slug}/settings/audit/?q=Admin", headers=HX)
    assert refused.status_code == 403 and "Admin only" not in refused.text


def test_another_tenants_entries_never_appear(acme, globex, admin, client_as, in_tenant):
    log(acme, in_tenant, {"action": "update", "entity": "customer", "summary": "Acme's own"})
    log(globex, in_tenant, {"action": "update", "entity": "customer", "summary": "GLOBEX-SECRET change"})
    page = admin.get(f"/{acme.slug}/settings/audit/?q=GLOBEX").text
    assert "GLOBEX-SECRET" not in page and "No entries match." in page
    assert "GLOBEX-SECRET" not in admin.get(f"/{acme.slug}/settings/audit/").text
    assert admin.get(f"/{globex.slug}/settings/audit/").status_code == 404
    other = client_as(globex.admin_account_id).get(f"/{acme.slug}/settings/audit/")
    assert other.status_code == 404 and "Acme's own" not in other.text


@pytest.mark.parametrize("qs", [
    "after=99999999999999999999", "after=-5", "after=abc", "after=0", "after=Wzk5OTk5OTk5OTk5OV0=",
    "actor=99999999999", "actor=1e9",
    "since=2026-13-45", "until=not-a-date", "since=99999-01-01", "since=0001-01-01", "until=9999-12-31",
    "since=2026-02-30&until=", "action=<script>", "entity=../etc", "q=%01", "q=a%1bb", "q=" + "x" * 5000,
    "action=update&action=delete", "since[]=1",
])
def test_malformed_query_strings_still_show_the_page(acme, admin, in_tenant, qs):
    log(acme, in_tenant, {"action": "create", "entity": "customer", "summary": "Still here"})
    for headers in (HX, {}):
        page = admin.get(f"/{acme.slug}/settings/audit/?{qs}", headers=headers)
        assert page.status_code == 200, qs


def test_history_lists_one_records_changes(app, acme, in_tenant):
    log(acme, in_tenant,
        {"action": "create", "entity": "customer", "entity_id": 41, "summary": "Added 41"},
        {"action": "update", "entity": "customer", "entity_id": 41, "changes": {"email": [MASK, MASK]}},
        {"action": "update", "entity": "customer", "entity_id": 42, "summary": "Other record"},
        {"action": "update", "entity": "tag", "entity_id": 41, "summary": "A tag, not the customer"})

    def render(entity_id):
        with app.test_request_context():
            return render_template("audit/_history.html", history=service.history("customer", entity_id))

    html = in_tenant(acme, lambda: render(41))
    assert "Added 41" in html and f"Email:</span> {MASK} → {MASK}" in html and "Changed" in html
    assert "Other record" not in html and "A tag, not the customer" not in html
    assert html.index("Changed") < html.index("Added 41")  # newest first
    assert "No changes recorded yet." in in_tenant(acme, lambda: render(43))


def test_a_sign_in_is_recorded_once_per_session_in_each_tenant(app, acme, in_tenant):
    from sqlalchemy import func, select

    from crm.audit.models import AuditEntry
    from crm.extensions import db

    def logins():
        return db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "login"))

    client = app.test_client()
    client.post("/login", data={"email": f"admin@{acme.slug}.example", "password": "password-123"})
    for _ in range(3):
        assert client.get(f"/{acme.slug}/customers/").status_code == 200
    assert in_tenant(acme, logins) == 1
    page = client.get(f"/{acme.slug}/settings/audit/?action=login").text
    assert "Ada Admin" in page and "127.0.0.1" in page
