"""Refunds: asking for one tells the customer; a refund is whole or partial (its amount checked at the field,
stored and shown) or declined (back to received, with a reason), after which the order can complete."""
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm.audit.models import AuditEntry
from crm.extensions import db
from crm.notify.models import Notification
from crm.orders.models import Order


@pytest.fixture
def asked(acme, make_customer, make_order, client_as, in_tenant):
    """An order of CN¥50.97, shipped, received and its refund asked for through the page; (client, order id)."""
    from crm.settings import put_setting

    in_tenant(acme, lambda: put_setting("quiet_hours", None))
    customer = make_customer(acme, name="周小姐", email="zhou@example.com", preferred_channel="email")
    order_id = make_order(acme, customer)
    client = client_as(acme.admin_account_id)
    for to in ("shipped", "received", "refund_requested"):
        assert client.post(f"/{acme.slug}/orders/{order_id}/status", data={"to": to}).status_code == 303
    return client, order_id


def order_state(in_tenant, tenant, order_id):
    def read():
        order = db.session.get(Order, order_id)
        return order.status, order.refunded_amount, [(c.from_status, c.to_status, c.amount, c.note)
                                                     for c in order.changes]
    return in_tenant(tenant, read)


def customer_news(in_tenant, tenant):
    """(status said, key) of each order message to the customer, oldest first."""
    return in_tenant(tenant, lambda: [(n.payload["status"], n.idempotency_key, n.status) for n in db.session.scalars(
        select(Notification).where(Notification.kind == "order_status").order_by(Notification.id))])


def move(client, tenant, order_id, **form):
    return client.post(f"/{tenant.slug}/orders/{order_id}/status", data=form)


def test_refund_requested_tells_the_customer(acme, asked, in_tenant, run_worker, smtp_on):
    _client, order_id = asked
    news = customer_news(in_tenant, acme)
    assert [said for said, _key, _status in news] == ["已发货", "已收货", "已申请退款"]
    assert news[-1][1].startswith(f"order:{order_id}:refund_requested:")
    run_worker()
    subjects = [m["Subject"] for m in smtp_on.messages]
    assert len(subjects) == 3 and all(status == "sent" for *_rest, status in customer_news(in_tenant, acme))


@pytest.mark.parametrize("amount, message", [
    ("0", "Enter an amount above zero."),
    ("-5", "Enter an amount above zero."),
    ("50.98", "A refund cannot be more than the order&#39;s total, CN¥50.97."),
    ("", "Enter an amount."),
    ("12.345", "Enter an amount like 19.99 (at most two decimals)."),
])
def test_a_refund_amount_out_of_bounds_is_refused_at_the_field(acme, asked, in_tenant, amount, message):
    client, order_id = asked
    before = order_state(in_tenant, acme, order_id)
    refused = move(client, acme, order_id, to="refunded", amount=amount, note="broken lid")
    assert refused.status_code == 422
    field = re.search(r'<input id="refund-amount"[^>]*>', refused.text).group(0)
    assert f'value="{amount}"' in field and 'aria-invalid="true"' in field
    assert f'<small class="error" id="refund-amount-error">{message}</small>' in refused.text
    assert re.search(r'<details class="move-confirm" open>\s*<summary class="button">Mark refunded', refused.text)
    assert 'value="broken lid"' in refused.text  # what was typed is kept
    assert order_state(in_tenant, acme, order_id) == before  # nothing saved
    assert len(customer_news(in_tenant, acme)) == 3


def test_a_partial_refund_is_stored_and_shown_with_its_amount(acme, asked, in_tenant):
    client, order_id = asked
    page = client.get(f"/{acme.slug}/orders/{order_id}")
    assert re.search(r'<input id="refund-amount" name="amount" inputmode="decimal" value="50.97"', page.text)

    done = move(client, acme, order_id, to="refunded", amount="20", note="one cup broken")
    assert done.status_code == 303
    status, refunded, changes = order_state(in_tenant, acme, order_id)
    assert (status, refunded) == ("partially_refunded", Decimal("20.00"))
    assert changes[-1] == ("refund_requested", "partially_refunded", Decimal("20.00"), "one cup broken")

    page = client.get(done.headers["Location"])
    assert "Order SO-000001 is now Partially refunded." in page.text
    assert '<dd id="order-refunded">CN¥20.00</dd>' in page.text and '<dd id="order-total">CN¥50.97</dd>' in page.text
    history = page.text[page.text.index('id="status-history"'):]
    assert re.search(r'Partially refunded</span>\s*<span class="strong">CN¥20.00</span>', history)
    assert "one cup broken" in history
    assert 'name="to"' not in page.text  # final
    assert customer_news(in_tenant, acme)[-1][0] == "已部分退款 (¥20.00)"
    audit = in_tenant(acme, lambda: db.session.scalars(select(AuditEntry.changes).where(AuditEntry.entity == "order")
                                                       .order_by(AuditEntry.id.desc())).first())
    assert audit == {"status": ["refund_requested", "partially_refunded"], "refunded_amount": [None, "20.00"]}


def test_the_whole_total_is_a_refund(acme, asked, in_tenant):
    client, order_id = asked
    assert move(client, acme, order_id, to="refunded", amount="50.97").status_code == 303
    assert order_state(in_tenant, acme, order_id)[:2] == ("refunded", Decimal("50.97"))
    assert customer_news(in_tenant, acme)[-1][0] == "已退款 (¥50.97)"


def test_a_declined_refund_goes_back_to_received_and_the_order_can_complete(acme, asked, in_tenant):
    client, order_id = asked
    page = client.get(f"/{acme.slug}/orders/{order_id}")
    assert re.findall(r'name="to" value="(\w+)"', page.text) == ["refunded", "received"]
    assert "Decline refund…" in page.text and "Reason (optional)" in page.text

    declined = move(client, acme, order_id, to="received", note="outside the 7-day window")
    assert declined.status_code == 303
    status, refunded, changes = order_state(in_tenant, acme, order_id)
    assert (status, refunded) == ("received", None)
    assert changes[-1] == ("refund_requested", "received", None, "outside the 7-day window")
    page = client.get(f"/{acme.slug}/orders/{order_id}")
    history = page.text[page.text.index('id="status-history"'):]
    assert re.search(r'order-status-refund_declined">Refund declined</span>', history)
    assert "outside the 7-day window" in history
    assert customer_news(in_tenant, acme)[-1][0] == "退款申请未通过"

    # Asked again, it is news again; then the order completes.
    assert move(client, acme, order_id, to="refund_requested").status_code == 303
    assert move(client, acme, order_id, to="received").status_code == 303
    assert move(client, acme, order_id, to="completed").status_code == 303
    assert order_state(in_tenant, acme, order_id)[0] == "completed"
    said = [said for said, _key, _status in customer_news(in_tenant, acme)]
    assert said == ["已发货", "已收货", "已申请退款", "退款申请未通过", "已申请退款", "退款申请未通过"]


def test_the_customers_status_page_says_the_refund_was_declined(app, acme, asked, in_tenant):
    client, order_id = asked
    move(client, acme, order_id, to="received")
    page = client.get(f"/{acme.slug}/orders/{order_id}")
    link = re.search(r'id="public-link-url"[^>]*value="http://[^/]+(/o/[^"]+)"', page.text).group(1)
    public = app.test_client().get(link, headers={"Accept-Language": "en"})
    assert public.status_code == 200 and "Refund declined" in public.text
