"""The workspace-wide settings every feature reads: time zone, currency, phone region."""
from datetime import datetime, timezone

from flask_babel import format_datetime, force_locale, get_timezone

from crm.formatting import money
from crm.settings import put_setting
from tenants.binding import tenant_bound

NOON_UTC = datetime(2031, 7, 1, 12, 0, tzinfo=timezone.utc)


def test_each_workspace_shows_times_in_its_own_time_zone(app, acme, globex, in_tenant):
    in_tenant(acme, lambda: put_setting("timezone", "Europe/London"))
    with app.app_context(), force_locale("en"):
        with tenant_bound(acme.ref):
            london = str(get_timezone()), format_datetime(NOON_UTC, "HH:mm")
        with tenant_bound(globex.ref):
            shanghai = str(get_timezone()), format_datetime(NOON_UTC, "HH:mm")
    assert london == ("Europe/London", "13:00")  # British Summer Time
    assert shanghai == ("Asia/Shanghai", "20:00")


def test_money_is_written_in_the_workspace_currency_and_the_reader_language(app, acme, in_tenant):
    in_tenant(acme, lambda: put_setting("currency", "GBP"))
    with app.app_context(), tenant_bound(acme.ref):
        with force_locale("en"):
            english = money(1200000), money(80, "USD")
        with force_locale("zh_Hans_CN"):
            chinese = money(1200000)
    assert english == ("£1,200,000.00", "$80.00")
    assert chinese == "£1,200,000.00"
