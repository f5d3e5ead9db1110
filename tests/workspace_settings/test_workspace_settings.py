"""Settings > Workspace: name, logo, language, country, currency, time zone and week start; admins only, audited,
each bad value refused at its field with nothing saved."""
import io

import pytest
from markupsafe import escape
from PIL import Image
from sqlalchemy import select

from crm.audit.models import AuditEntry
from crm.extensions import db
from crm.settings import get_setting, phone_region, week_start, workspace_currency, workspace_language
from tenants.models import Tenant
from tests.conftest import HX

LONDON = {"company": "Acme London", "language": "en", "phone_region": "GB", "currency": "GBP",
          "timezone": "Europe/London", "week_start": "sunday"}


def png(width: int = 600, height: int = 300, kind: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, kind)
    return out.getvalue()


def post(client, tenant, logo: tuple[bytes, str] | None = None, **fields):
    data = {**LONDON, **fields}
    if logo is not None:
        data["logo"] = (io.BytesIO(logo[0]), logo[1])
    return client.post(f"/{tenant.slug}/settings/workspace/", data=data, content_type="multipart/form-data")


def logged(in_tenant, tenant) -> list[dict]:
    """The changes of the workspace's audit entries, oldest first."""
    return in_tenant(tenant, lambda: list(db.session.scalars(select(AuditEntry.changes).where(
        AuditEntry.entity == "workspace").order_by(AuditEntry.id))))


def tenant_name(app, tenant) -> str:
    with app.app_context():
        return db.session.get(Tenant, tenant.id).name


def test_the_admin_moves_the_workspace_to_london(app, acme, admin, in_tenant):
    page = admin.get(f"/{acme.slug}/settings/workspace/")
    assert page.status_code == 200
    assert 'value="Acme 贸易"' in page.text and '<option selected value="CN">' in page.text

    saved = post(admin, acme)
    assert saved.status_code == 303

    assert in_tenant(acme, lambda: (workspace_language(), phone_region(), workspace_currency(), week_start())) == \
        ("en", "GB", "GBP", 6)
    assert in_tenant(acme, lambda: get_setting("timezone")) == "Europe/London"
    assert tenant_name(app, acme) == "Acme London"
    home = admin.get(f"/{acme.slug}/")
    assert "Acme London" in home.text.split("</header>")[0]  # the top bar shows the new name at once
    [changes] = logged(in_tenant, acme)
    assert changes["currency"] == ["CNY", "GBP"] and changes["company"] == ["Acme 贸易", "Acme London"]
    log = admin.get(f"/{acme.slug}/settings/audit/?entity=workspace")
    assert "British Pound" in log.text and "United Kingdom" in log.text and "Sunday" in log.text


def test_saving_the_same_values_again_logs_nothing(acme, admin, in_tenant):
    post(admin, acme)
    post(admin, acme)
    assert len(logged(in_tenant, acme)) == 1


@pytest.mark.parametrize("field, value, message", [
    ("company", "", "Enter the company's name."),
    ("currency", "XYZ", "Choose one of the listed values."),
    ("phone_region", "ZZ", "Choose one of the listed values."),
    ("timezone", "Mars/Olympus", "Choose one of the listed values."),
    ("language", "fr", "Choose one of the listed values."),
    ("week_start", "friday", "Choose one of the listed values."),
])
def test_a_bad_value_is_refused_at_its_field_and_nothing_is_saved(app, acme, admin, in_tenant, field, value, message):
    answer = post(admin, acme, headers=HX, **{field: value})
    assert answer.status_code == 422
    assert f'id="{field}-error">{escape(message)}' in answer.text
    assert tenant_name(app, acme) == "Acme 贸易"
    assert in_tenant(acme, lambda: workspace_currency()) == "CNY"


def test_a_text_file_named_png_and_an_svg_are_refused_as_logos(app, acme, admin, in_tenant):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    for content, name in ((b"just some text, not an image", "logo.png"), (svg, "logo.svg"), (svg, "logo.png")):
        answer = post(admin, acme, logo=(content, name))
        assert answer.status_code == 422
        assert 'id="logo-error">Upload a PNG, JPEG, GIF or WebP image' in answer.text
    assert in_tenant(acme, lambda: get_setting("logo")) is None
    assert tenant_name(app, acme) == "Acme 贸易"  # the other fields were not saved either


def test_a_real_image_becomes_a_small_png_served_to_members(acme, admin, add_member, client_as, in_tenant):
    assert post(admin, acme, logo=(png(kind="JPEG"), "logo.jpg")).status_code == 303
    home = admin.get(f"/{acme.slug}/")
    src = home.text.split('<img class="logo" src="')[1].split('"')[0]
    assert "◆" not in home.text.split("</header>")[0]

    rep = client_as(add_member(acme, "sales_rep")[0])  # every member sees the top bar
    served = rep.get(src)
    assert served.status_code == 200 and served.mimetype == "image/png"
    assert served.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    assert Image.open(io.BytesIO(served.data)).size == (256, 128)

    stale = rep.get(f"/{acme.slug}/settings/workspace/logo?v=old")
    assert stale.status_code == 303 and stale.headers["Location"].endswith(src.split("/", 2)[2])
    logo = logged(in_tenant, acme)[-1]["logo"]
    assert logo[0] is None and logo[1] in src


def test_the_logo_can_be_removed(acme, admin, in_tenant):
    post(admin, acme, logo=(png(), "logo.png"))
    assert post(admin, acme, remove_logo="y").status_code == 303
    home = admin.get(f"/{acme.slug}/")
    assert "◆" in home.text.split("</header>")[0]
    assert admin.get(f"/{acme.slug}/settings/workspace/logo").headers["Location"].endswith("favicon.svg")


def test_members_who_may_not_change_settings_are_refused(app, acme, add_member, client_as, in_tenant):
    rep = client_as(add_member(acme, "sales_rep")[0])
    assert rep.get(f"/{acme.slug}/settings/workspace/").status_code == 403
    assert post(rep, acme).status_code == 403
    assert tenant_name(app, acme) == "Acme 贸易"


def test_who_may_view_settings_sees_them_but_cannot_change_them(acme, add_member, client_as, in_tenant):
    from crm.members.models import Member

    account_id, member_id = add_member(acme, "read_only")

    def may_view_settings():
        role = db.session.get(Member, member_id).role
        role.permissions = {**role.permissions, "settings": {**role.permissions["settings"], "view": "all"}}

    in_tenant(acme, may_view_settings)
    reader = client_as(account_id)
    page = reader.get(f"/{acme.slug}/settings/workspace/")
    assert page.status_code == 200 and "<fieldset disabled>" in page.text and "Save</button>" not in page.text
    assert post(reader, acme).status_code == 403


def test_the_rename_alone_runs_as_the_app_the_rest_of_the_transaction_stays_the_tenants(app, acme):
    from sqlalchemy import text
    from sqlalchemy.exc import ProgrammingError

    from tenants.binding import tenant_bound
    from tenants.roles import tenant_role
    from tenants.service import rename_tenant

    with app.app_context():
        with tenant_bound(acme.ref):
            rename_tenant(acme.ref, "Acme Renamed")
            assert db.session.scalar(text("select current_user")) == tenant_role(db.session.connection(), acme.ref.schema)
        with pytest.raises(ProgrammingError, match="permission denied for table tenants"):
            with tenant_bound(acme.ref):
                db.session.execute(text("update public.tenants set name = 'x'"))
    assert tenant_name(app, acme) == "Acme Renamed"


def test_customers_are_written_to_in_the_workspace_language(acme, admin, make_customer, make_order, in_tenant):
    from crm.notify.models import Notification

    post(admin, acme, language="en", phone_region="CN")  # a Chinese number, an English-speaking company
    customer = make_customer(acme, name="Zhou", phone="13800000011")
    admin.post(f"/{acme.slug}/orders/{make_order(acme, customer)}/status", data={"to": "shipped"})
    news = in_tenant(acme, lambda: db.session.execute(select(Notification.language, Notification.payload).where(
        Notification.kind == "order_status")).one())
    assert (news.language, news.payload["status"]) == ("en", "Shipped")


def test_a_uk_number_is_found_as_people_write_it_in_the_uk(acme, admin, make_customer):
    post(admin, acme)
    make_customer(acme, name="Alice Brown", phone="020 7946 0958")
    for typed in ("020 7946 0958", "+44 20 7946 0958", "7946"):
        found = admin.get(f"/{acme.slug}/customers/", query_string={"q": typed}, headers=HX).text
        assert "Alice Brown" in found, typed
