"""Setting targets (checked whole, audited), carrying them forward, copying last month, who sees and sets whose,
and the home page's "This month" card."""
import json
from decimal import Decimal

from sqlalchemy import func, select

from crm.audit.models import AuditEntry
from crm.extensions import db, utcnow
from crm.followups.models import Activity
from crm.targets.models import SalesTarget
from tests.conftest import HX


def audit_entries(acme, in_tenant):
    return in_tenant(acme, lambda: [(e.actor_name, e.summary, e.changes) for e in db.session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "sales_target").order_by(AuditEntry.id))])


def test_an_admin_sets_a_members_targets_which_are_stored_shown_and_audited(acme, people, as_, post_targets,
                                                                             stored, in_tenant):
    rui, admin = people["rep"].member_id, as_("admin")
    saved = post_targets(admin, "2026-03", f"member-{rui}", won_amount="50,000", order_revenue="80000.5",
                         new_customers="12", follow_ups="40")
    assert saved.status_code == 303 and saved.headers["Location"] == f"/{acme.slug}/targets/?month=2026-03"
    assert stored(rui) == {"2026-03": (Decimal("50000.00"), Decimal("80000.50"), 12, 40)}
    page = admin.get(saved.headers["Location"]).text
    assert "Targets of Rui Rep saved." in page and "¥50,000.00" in page and "¥80,000.50" in page
    assert audit_entries(acme, in_tenant) == [("Ada Admin", "Rui Rep · 2026-03", {
        "won_amount": [None, "50000.00"], "order_revenue": [None, "80000.50"], "new_customers": [None, 12],
        "follow_ups": [None, 40]})]
    log = as_("admin").get(f"/{acme.slug}/settings/audit/?entity=sales_target").text
    assert "Sales target" in log and "Won deal amount" in log and "50,000.00" in log


def test_bad_targets_are_refused_at_their_fields_and_nothing_is_saved(acme, people, as_, post_targets, stored):
    rui = people["rep"].member_id
    post_targets(as_("admin"), "2026-03", f"member-{rui}", won_amount="1000", follow_ups="10")
    refused = post_targets(as_("admin"), "2026-03", f"member-{rui}", headers=HX, won_amount="2000",
                           order_revenue="12.345", new_customers="-3", follow_ups="20")
    assert refused.status_code == 422
    assert "at most two decimals" in refused.text and "Enter a whole number from 0 to 1000000." in refused.text
    assert 'value="12.345"' in refused.text and 'value="2000"' in refused.text  # what was typed stays
    assert 'aria-invalid="true"' in refused.text and "<html" not in refused.text
    assert stored(rui) == {"2026-03": (Decimal("1000.00"), None, None, 10)}
    page = post_targets(as_("admin"), "2026-03", f"member-{rui}", order_revenue="abc")  # without htmx: the page
    assert page.status_code == 422 and "<html" in page.text and "Enter an amount like 19.99" in page.text
    month = as_("admin").post(f"/{acme.slug}/targets/", data={"month": "2026-13", "subject": f"member-{rui}"},
                              follow_redirects=True)
    assert "Enter a month like 2026-03." in month.text and stored(rui)["2026-03"][0] == Decimal("1000.00")


def test_inline_edit_opens_a_row_form_and_saving_redraws_the_row(acme, people, as_, post_targets):
    rui, admin = people["rep"].member_id, as_("admin")
    form = admin.get(f"/{acme.slug}/targets/row?month=2026-03&subject=member-{rui}&edit=1", headers=HX)
    assert form.status_code == 200 and f'id="target-form-member-{rui}"' in form.text and "<html" not in form.text
    saved = post_targets(admin, "2026-03", f"member-{rui}", headers=HX, follow_ups="8")
    assert saved.status_code == 200 and "<progress" in saved.text and "0%" in saved.text
    assert "<input" not in saved.text.split("</th>", 1)[1].split("<td class=\"actions\">")[0]
    without_htmx = admin.get(f"/{acme.slug}/targets/?month=2026-03&edit=member-{rui}")
    assert without_htmx.status_code == 200 and 'name="follow_ups" value="8"' in without_htmx.text


def test_a_month_without_targets_of_its_own_uses_the_latest_earlier_months(acme, people, as_, post_targets):
    rui, admin = people["rep"].member_id, as_("admin")
    post_targets(admin, "2026-03", f"member-{rui}", won_amount="1000")
    post_targets(admin, "2026-05", f"member-{rui}", won_amount="3000")

    def shown(month):
        return admin.get(f"/{acme.slug}/targets/?month={month}").text

    assert "¥1,000.00" not in shown("2026-02")
    assert "¥1,000.00" in shown("2026-04") and "Carried from March 2026" in shown("2026-04")
    assert "¥3,000.00" in shown("2026-05") and "Carried from" not in shown("2026-05")
    assert "¥3,000.00" in shown("2027-01") and "Carried from May 2026" in shown("2027-01")
    post_targets(admin, "2026-06", f"member-{rui}")  # all empty: no targets from June on
    assert "¥3,000.00" not in shown("2026-07") and "No target" in shown("2026-07")


def test_copy_last_month_gives_the_month_the_month_befores_targets(acme, people, as_, post_targets, stored, in_tenant):
    rui, ren, admin = people["rep"].member_id, people["rep2"].member_id, as_("admin")
    post_targets(admin, "2026-03", f"member-{rui}", won_amount="1000", follow_ups="5")
    post_targets(admin, "2026-04", f"member-{rui}", won_amount="9999")
    post_targets(admin, "2026-04", f"member-{ren}", follow_ups="7")
    copied = admin.post(f"/{acme.slug}/targets/copy", data={"month": "2026-04"}, follow_redirects=True)
    assert "Last month&#39;s targets copied; 2 rows changed." in copied.text
    assert stored(rui)["2026-04"] == (Decimal("1000.00"), None, None, 5)
    assert stored(ren)["2026-04"] == (None, None, None, None)  # March had none for Ren
    assert [entry[1] for entry in audit_entries(acme, in_tenant)[-2:]] == ["Ren Rep · 2026-04", "Rui Rep · 2026-04"]


def test_a_rep_sees_only_their_own_targets_and_sets_none(acme, people, as_, post_targets, east):
    rui, ren = people["rep"].member_id, people["rep2"].member_id
    post_targets(as_("admin"), "2026-03", f"member-{ren}", won_amount="777")
    post_targets(as_("admin"), "2026-03", f"team-{east}", won_amount="888")
    rep = as_("rep")
    page = rep.get(f"/{acme.slug}/targets/?month=2026-03")
    assert page.status_code == 200 and "Rui Rep" in page.text
    assert "Ren Rep" not in page.text and "¥777.00" not in page.text and "¥888.00" not in page.text
    assert "Copy last month" not in page.text and ">Edit<" not in page.text
    assert rep.get(f"/{acme.slug}/targets/row?month=2026-03&subject=member-{ren}", headers=HX).status_code == 404
    assert post_targets(rep, "2026-03", f"member-{rui}", won_amount="1").status_code == 403
    assert rep.post(f"/{acme.slug}/targets/copy", data={"month": "2026-03"}).status_code == 403


def test_a_manager_sees_and_sets_their_teams_targets_only(acme, people, as_, post_targets, stored, east):
    wes, rui = people["west"].member_id, people["rep"].member_id
    post_targets(as_("admin"), "2026-03", f"member-{wes}", won_amount="555")
    manager = as_("manager")
    page = manager.get(f"/{acme.slug}/targets/?month=2026-03").text
    assert all(name in page for name in ("East", "Mia Manager", "Rui Rep", "Ren Rep"))
    assert "Wes West" not in page and "West" not in page and "Copy last month" in page
    assert post_targets(manager, "2026-03", f"member-{wes}", won_amount="1").status_code == 404
    assert post_targets(manager, "2026-03", f"member-{rui}", won_amount="2000").status_code == 303
    assert post_targets(manager, "2026-03", f"team-{east}", won_amount="9000").status_code == 303
    manager.post(f"/{acme.slug}/targets/copy", data={"month": "2026-04"})
    assert stored(rui)["2026-04"][0] == Decimal("2000.00")
    assert "2026-04" not in stored(wes)  # outside the manager's reach: left alone


def test_the_home_page_shows_this_months_progress(acme, people, as_, post_targets, in_tenant, east):
    from crm.targets import months

    rui = people["rep"].member_id
    month = in_tenant(acme, lambda: months.key(months.current()))
    post_targets(as_("admin"), month, f"member-{rui}", follow_ups="4", won_amount="1000")
    post_targets(as_("admin"), month, f"team-{east}", follow_ups="10")
    in_tenant(acme, lambda: db.session.add(Activity(owner_id=rui, method="call", summary="Called", done_at=utcnow())))
    home = as_("rep").get(f"/{acme.slug}/").text
    assert "This month" in home and "Follow-ups done" in home
    assert '<progress max="100" value="25"' in home and "25%" in home and "¥0.00" in home
    assert "East" not in home  # a rep's own numbers
    manager_home = as_("manager").get(f"/{acme.slug}/").text
    assert "East" in manager_home and '<progress max="100" value="10"' in manager_home
    admin_home = as_("admin").get(f"/{acme.slug}/").text  # manages no team: their own month, without targets
    assert "This month" in admin_home and "No target" in admin_home


def test_the_home_card_is_not_shown_without_the_reports_permission(acme, add_member, client_as):
    account, _member = add_member(acme, role="support_agent", name="Sue Support")
    home = client_as(account).get(f"/{acme.slug}/")
    assert home.status_code == 200 and "This month" not in home.text


def test_upgrading_a_workspace_adds_the_table_and_moves_only_untouched_reports_rows(app, acme, in_tenant):
    import importlib.util
    from pathlib import Path

    from sqlalchemy import text

    from crm.members.models import Role
    from tenants.migrations import upgrade_schema

    path = Path(__file__).parents[2] / "migrations/tenant/versions/0021_sales_targets.py"
    spec = importlib.util.spec_from_file_location("sales_targets_migration", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    schema, every = f"t_{acme.id}", dict.fromkeys(migration.ACTIONS, "all")
    with app.app_context(), db.engine.begin() as connection:  # the workspace as it was one version back
        connection.execute(text(f"drop table {schema}.sales_targets"))
        connection.execute(text(f"drop index {schema}.ix_activities_owner_done"))
        connection.execute(text(f"update {schema}.roles set permissions = jsonb_set(permissions, '{{reports}}', "
                                f"cast(:row as jsonb)) where key = 'sales_manager'"), {"row": json.dumps(every)})
        connection.execute(text(f"update {schema}.roles set permissions = jsonb_set(permissions, '{{reports}}', "
                                f"cast(:row as jsonb)) where key = 'sales_rep'"),  # the old row, changed by an admin
                           {"row": json.dumps({**dict.fromkeys(migration.ACTIONS, "own"), "view": "all"})})
        connection.execute(text(f"update {schema}.alembic_version set version_num = :v"),
                           {"v": migration.down_revision})
    with app.app_context():
        upgrade_schema(db.engine, schema, migration.revision)
    scopes = in_tenant(acme, lambda: {role.key: role.permissions["reports"] for role in db.session.scalars(
        select(Role).where(Role.key.in_(("sales_manager", "sales_rep"))))})
    assert scopes["sales_manager"] == dict.fromkeys(migration.ACTIONS, "subteams")
    assert scopes["sales_rep"]["view"] == "all" and scopes["sales_rep"]["edit"] == "own"
    assert in_tenant(acme, lambda: db.session.scalar(select(func.count()).select_from(SalesTarget))) == 0
