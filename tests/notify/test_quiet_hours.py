"""Messages held by quiet hours: the order page says until when; saving the quiet hours moves them (switched off:
due now and sent by the worker; shortened: due at the new end)."""
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from crm.extensions import db
from crm.notify.models import Notification, NotificationDue
from tests.conftest import HX

SHANGHAI = ZoneInfo("Asia/Shanghai")  # the workspace's time zone


def clock(delta: timedelta) -> str:
    """The workspace's wall clock `delta` from now, as the quiet hours form takes it."""
    return (datetime.now(SHANGHAI) + delta).strftime("%H:%M")


def save_quiet_hours(client, tenant, start: str | None, end: str | None = None):
    data = {"quiet-enabled": "y", "quiet-start": start, "quiet-end": end} if start else {}
    response = client.post(f"/{tenant.slug}/settings/messaging/quiet-hours", headers=HX, data=data)
    assert response.status_code == 204
    return response


def held_messages(in_tenant, tenant):
    """(status, held, due time, due time of its line in the public index) of each order message."""
    def read():
        rows = db.session.scalars(select(Notification).where(Notification.kind == "order_status")
                                  .order_by(Notification.id))
        return [(n.status, n.held_by_quiet_hours, n.due_at,
                 db.session.get(NotificationDue, (tenant.id, n.id)).due_at if n.status != "sent" else None)
                for n in rows]
    return in_tenant(tenant, read)


@pytest.fixture
def shipped_at_night(acme, admin, make_customer, make_order, run_worker, smtp_on):
    """Quiet hours from an hour ago to two hours from now; two orders shipped, their messages held by the worker.
    Returns the order ids and the quiet hours' end."""
    start, end = clock(timedelta(hours=-1)), clock(timedelta(hours=2))
    save_quiet_hours(admin, acme, start, end)
    orders = []
    for name in ("Night Owl", "Late Lark"):
        customer = make_customer(acme, name=name, email=f"{name.split()[0].lower()}@c.example",
                                 preferred_channel="email")
        orders.append(make_order(acme, customer))
        assert admin.post(f"/{acme.slug}/orders/{orders[-1]}/status", data={"to": "shipped"}).status_code == 303
    run_worker()
    assert smtp_on.messages == []
    return orders, datetime.combine(datetime.now(SHANGHAI).date(), datetime.strptime(end, "%H:%M").time(), SHANGHAI)


def same_minute(moment: datetime, expected: datetime) -> bool:
    """`moment` is `expected`, possibly a day later (a window past midnight ends tomorrow)."""
    return moment in (expected, expected + timedelta(days=1))


def test_the_order_page_says_its_message_is_held_until_the_end_of_quiet_hours(acme, admin, in_tenant,
                                                                               shipped_at_night):
    orders, end = shipped_at_night
    rows = held_messages(in_tenant, acme)
    assert [(status, held) for status, held, _due, _line in rows] == [("scheduled", True)] * 2
    assert all(same_minute(due, end) and line == due for _status, _held, due, line in rows)
    page = admin.get(f"/{acme.slug}/orders/{orders[0]}")
    note = re.search(r'<p class="alert alert-warn" id="held-note">([^<]+)</p>', page.text).group(1)
    hour = end.hour % 12 or 12
    assert re.fullmatch(rf"The message to the customer is held by quiet hours until {hour}:{end:%M}\s[AP]M\.",
                        note), note


def test_switching_quiet_hours_off_sends_what_they_held_now(acme, admin, in_tenant, run_worker, smtp_on,
                                                            shipped_at_night):
    orders, _end = shipped_at_night
    save_quiet_hours(admin, acme, None)
    now = datetime.now(UTC)
    rows = held_messages(in_tenant, acme)
    assert [(status, held) for status, held, _due, _line in rows] == [("scheduled", False)] * 2
    assert all(now - timedelta(seconds=5) < due <= now and line == due for _status, _held, due, line in rows)
    run_worker()
    assert sorted(m["To"] for m in smtp_on.messages) == ["late@c.example", "night@c.example"]
    assert [status for status, *_rest in held_messages(in_tenant, acme)] == ["sent", "sent"]
    assert 'id="held-note"' not in admin.get(f"/{acme.slug}/orders/{orders[0]}").text


def test_shortened_quiet_hours_hold_messages_until_their_new_end(app, acme, admin, in_tenant, run_worker, smtp_on,
                                                                 shipped_at_night):
    from crm.jobs import queue
    from crm.notify import outbox

    _orders, end = shipped_at_night
    save_quiet_hours(admin, acme, clock(timedelta(hours=-1)), clock(timedelta(hours=1)))
    sooner = end - timedelta(hours=1)
    rows = held_messages(in_tenant, acme)
    assert [(status, held) for status, held, _due, _line in rows] == [("scheduled", True)] * 2
    assert all(same_minute(due, sooner) and line == due for _status, _held, due, line in rows)
    # Their send jobs wait for the new end too.
    ids = in_tenant(acme, lambda: list(db.session.scalars(select(Notification.id).where(
        Notification.kind == "order_status"))))
    with app.app_context():
        registry = queue("notify").scheduled_job_registry
        for notification_id in ids:
            scheduled = registry.get_scheduled_time(outbox.job_id(acme.id, notification_id))
            assert same_minute(scheduled.replace(tzinfo=UTC), sooner)

    # Shortened to have ended already: they go now.
    save_quiet_hours(admin, acme, clock(timedelta(hours=-2)), clock(timedelta(minutes=-1)))
    run_worker()
    assert len(smtp_on.messages) == 2
