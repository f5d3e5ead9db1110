"""Order payments through the workspace's own Stripe account, against the local fake Stripe: settings, Pay,
the webhook endpoint (signatures, events once), refunds, and the paid filter."""
import json
import logging
import random
import re
import time
from decimal import Decimal
from urllib.parse import urlsplit

import stripe
from sqlalchemy import select

from crm.extensions import db
from crm.orders.models import Order
from crm.payments.models import Payment, StripeEvent
from tests.fake_stripe import API_KEY
from tests.payments.conftest import WEBHOOK_SECRET, endpoint_path, post_event


def paid_amount(in_tenant, tenant, order_id) -> Decimal:
    return in_tenant(tenant, lambda: db.session.get(Order, order_id).paid_amount)


def order_messages(in_tenant, tenant) -> list[dict]:
    """The payloads of the order messages to customers in the outbox, oldest first."""
    from crm.notify.models import Notification

    return in_tenant(tenant, lambda: [n.payload for n in db.session.scalars(
        select(Notification).where(Notification.kind == "order_status").order_by(Notification.id))])


def pay_through_checkout(app, link: str, fake, method: str = "card") -> dict:
    """What the end customer does: Pay on the status page, then pay on Stripe's page; the completed session."""
    customer = app.test_client()
    page = customer.get(link)
    assert 'id="pay"' in page.text
    answer = customer.post(f"{link}/pay")
    assert answer.status_code == 303
    session_id = urlsplit(answer.headers["Location"]).path.rsplit("/", 1)[1]
    return fake.complete_checkout(session_id, method)


def test_settings_keep_the_key_encrypted_and_masked_and_test_the_connection(app, acme, admin, stripe_on, in_tenant):
    from crm.settings import get_setting

    page = admin.get(f"/{acme.slug}/settings/payments")
    assert page.status_code == 200 and "Connected" in page.text
    assert API_KEY not in page.text and WEBHOOK_SECRET not in page.text
    assert "**** 0001" in page.text  # the key shown masked
    stored = json.dumps(in_tenant(acme, lambda: get_setting("payments")))
    assert API_KEY not in stored and WEBHOOK_SECRET not in stored
    assert "/stripe/" in page.text and "checkout.session.completed" in page.text

    tested = admin.post(f"/{acme.slug}/settings/payments/test")
    assert "Connected: Stripe accepted the key (test mode)." in tested.text
    stripe_on.api_keys = {"rk_test_51AnotherKey9999"}  # the key was rolled in Stripe's dashboard
    tested = admin.post(f"/{acme.slug}/settings/payments/test")
    assert "Stripe refused the key" in tested.text

    refused = admin.post(f"/{acme.slug}/settings/payments", data={"api_key": "sk_live_abcdefghijkl",
                                                                  "webhook_secret": "nope"})
    assert refused.status_code == 422
    assert "Enter a restricted key: it starts with rk_live_ or rk_test_." in refused.text
    assert "Enter the endpoint&#39;s signing secret: it starts with whsec_." in refused.text


def test_the_customer_pays_the_balance_and_the_order_becomes_paid(app, acme, admin, stripe_on, linked_order,
                                                                  in_tenant, run_worker):
    order_id, link = linked_order
    session = pay_through_checkout(app, link, stripe_on, "alipay")
    assert (session["amount_total"], session["currency"]) == (5097, "cny")
    assert session["payment_method_types"] == ["card", "alipay", "wechat_pay"]
    assert session["metadata"] == {"tenant_id": str(acme.id), "order_id": str(order_id), "order_number": "SO-000001"}
    assert session["success_url"].endswith(f"{link}?paid=1")

    path = endpoint_path(admin, acme)
    delivered = post_event(app.test_client(), path, stripe_on.event("checkout.session.completed", session))
    assert delivered.status_code == 200
    run_worker()
    assert paid_amount(in_tenant, acme, order_id) == Decimal("50.97")
    payment = in_tenant(acme, lambda: db.session.execute(
        select(Payment.kind, Payment.amount, Payment.currency, Payment.method, Payment.stripe_id,
               Payment.checkout_session).where(Payment.order_id == order_id)).one())
    assert tuple(payment) == ("payment", Decimal("50.97"), "CNY", "alipay", session["payment_intent"], session["id"])

    public = app.test_client().get(link).text
    assert re.search(r'class="payment-state payment-state-paid">Paid<', public) and 'id="pay"' not in public
    staff = admin.get(f"/{acme.slug}/orders/{order_id}").text
    assert 'id="order-payment-state">Paid<' in staff and "Alipay" in staff
    customer_id = in_tenant(acme, lambda: db.session.get(Order, order_id).customer_id)
    assert "Order SO-000001 paid online: CN¥50.97" in admin.get(f"/{acme.slug}/customers/{customer_id}").text
    # In the workspace's language (Chinese by default).
    assert [payload["status"] for payload in order_messages(in_tenant, acme)] == ["已支付（¥50.97）"]


def test_the_order_message_carries_the_pay_link_when_payments_are_on(app, acme, admin, stripe_on, linked_order,
                                                                     in_tenant):
    order_id, link = linked_order
    admin.post(f"/{acme.slug}/orders/{order_id}/status", data={"to": "shipped"})
    [message] = order_messages(in_tenant, acme)
    assert message["pay_link"].endswith(f"{link}/pay")
    assert "Pay CN¥50.97" in app.test_client().get(urlsplit(message["pay_link"]).path).text


def test_payment_methods_follow_the_currency_and_the_account(app, acme, admin, stripe_on, make_customer, make_order):
    customer_id = make_customer(acme, name="Li Lei", phone="13900001235")
    for currency, methods in (("USD", ["card", "alipay", "wechat_pay"]), ("BRL", ["card"]), ("JPY", None)):
        order_id = make_order(acme, customer_id, currency=currency)
        admin.post(f"/{acme.slug}/orders/{order_id}/link")
        page = admin.get(f"/{acme.slug}/orders/{order_id}").text
        link = re.search(r'readonly value="https?://[^/]+(/o/[^"]+)"', page)[1]
        answer = app.test_client().post(f"{link}/pay")
        session = stripe_on.objects["checkout.sessions"][answer.headers["Location"].rsplit("/", 1)[1]]
        if methods:
            assert session["payment_method_types"] == methods
        else:  # a zero-decimal currency is sent in whole units
            assert session["amount_total"] == 51
    stripe_on.enabled_methods = {"card"}  # an account that has not turned Alipay or WeChat Pay on
    answer = app.test_client().post(f"{link}/pay")
    assert stripe_on.objects["checkout.sessions"][answer.headers["Location"].rsplit("/", 1)[1]][
        "payment_method_types"] == ["card"]


def test_stripe_down_when_paying_is_a_clear_page_not_an_error(app, stripe_on, linked_order):
    _order_id, link = linked_order
    stripe_on.fail_next = [stripe_error(500)] * 3
    answer = app.test_client().post(f"{link}/pay")
    assert answer.status_code == 503 and "Paying online is not possible right now" in answer.text


def stripe_error(status: int):
    from tests.fake_stripe import StripeError

    return StripeError(status, "Something went wrong on Stripe's end.", type_="api_error")


def test_wrong_missing_or_stale_signatures_are_refused_and_logged(app, acme, admin, stripe_on, linked_order,
                                                                  in_tenant, caplog):
    path = endpoint_path(admin, acme)
    event = stripe_on.event("checkout.session.completed", {"id": "cs_test_x", "object": "checkout.session"})
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="crm.security"):
        assert post_event(client, path, event, secret="whsec_somebodyelse0000").status_code == 400
        assert post_event(client, path, event, header="").status_code == 400
        assert post_event(client, path, event, timestamp=int(time.time()) - 3600).status_code == 400
        assert post_event(client, path, event, header="t=1,v1=abc").status_code == 400
    refusals = [json.loads(r.getMessage()) for r in caplog.records if "stripe_webhook_refused" in r.getMessage()]
    assert len(refusals) == 4 and all(r["tenant"] == acme.slug for r in refusals)
    assert in_tenant(acme, lambda: db.session.scalars(select(StripeEvent)).all()) == []
    # Another workspace's address, or a made-up one, is not found.
    assert post_event(client, path.replace(f"/stripe/{acme.id}.", f"/stripe/{acme.id + 1}."), event).status_code == 404
    assert post_event(client, "/stripe/nothing/webhook", event).status_code == 404


def test_a_failing_stripe_keeps_the_event_shows_it_and_a_retry_applies_it(app, acme, admin, stripe_on, linked_order,
                                                                          in_tenant, run_worker):
    order_id, link = linked_order
    session = pay_through_checkout(app, link, stripe_on)
    path = endpoint_path(admin, acme)
    stripe_on.fail_next = [stripe_error(500)] * 3  # the job's first try: Stripe answers 500 (after its own retries)
    post_event(app.test_client(), path, stripe_on.event("checkout.session.completed", session))
    run_worker()
    assert paid_amount(in_tenant, acme, order_id) == 0
    page = admin.get(f"/{acme.slug}/settings/payments").text
    assert "1 event from Stripe is waiting to be applied." in page and "Last error" in page
    # RQ's retries, or the hourly pass over events still unhandled (here: unhandled since now), apply it.
    from crm.extensions import utcnow
    from crm.payments import webhooks

    assert in_tenant(acme, lambda: webhooks.requeue_unhandled(utcnow())) == 1
    run_worker()
    assert paid_amount(in_tenant, acme, order_id) == Decimal("50.97")
    assert "waiting to be applied" not in admin.get(f"/{acme.slug}/settings/payments").text


def test_300_shuffled_events_some_twice_apply_once(app, acme, admin, stripe_on, make_customer, make_order, in_tenant,
                                                   run_worker):
    """Payments and refunds over several orders, every event delivered in a random order and 30 % twice: each
    order's paid amount equals what Stripe holds, and each payment and refund is recorded once."""
    api = stripe.StripeClient(API_KEY, base_addresses={"api": stripe_on.url}, max_network_retries=0)
    customer_id = make_customer(acme, name="Zhao Min", phone="13900001236")
    orders = [make_order(acme, customer_id, lines=[{"description": "Tea", "quantity": "1", "unit_price": "1000"}])
              for _ in range(8)]
    rng, events, expected = random.Random(16), [], {order_id: 0 for order_id in orders}
    intents = refunds = 0
    while len(events) < 240:
        order_id = rng.choice(orders)
        metadata = {"tenant_id": str(acme.id), "order_id": str(order_id)}
        amount = rng.randint(100, 9000)
        session = api.v1.checkout.sessions.create(params={
            "mode": "payment", "metadata": metadata, "payment_intent_data": {"metadata": metadata},
            "payment_method_types": ["card", "alipay"],
            "line_items": [{"quantity": 1, "price_data": {"currency": "cny", "unit_amount": amount,
                                                           "product_data": {"name": "x"}}}],
            "success_url": "http://x.test/ok", "cancel_url": "http://x.test/back"})
        paid = stripe_on.complete_checkout(session.id, rng.choice(["card", "alipay"]))
        intent = stripe_on.objects["payment_intents"][paid["payment_intent"]]
        events += [stripe_on.event("checkout.session.completed", paid),
                   stripe_on.event("payment_intent.succeeded", intent)]
        intents += 1
        expected[order_id] += amount
        for _ in range(rng.choice([0, 0, 1, 2])):
            refund = api.v1.refunds.create(params={"payment_intent": intent["id"],
                                                   "amount": rng.randint(1, amount // 3)})
            charge = stripe_on.objects["charges"][intent["latest_charge"]]
            events += [stripe_on.event("charge.refunded", charge),
                       stripe_on.event("refund.created", stripe_on.objects["refunds"][refund.id])]
            refunds += 1
            expected[order_id] -= refund.amount
    deliveries = events + rng.sample(events, k=int(len(events) * 0.3))
    rng.shuffle(deliveries)
    assert len(deliveries) >= 300
    path, client = endpoint_path(admin, acme), app.test_client()
    for event in deliveries:
        assert post_event(client, path, event).status_code == 200
    run_worker()

    def recorded():
        rows = db.session.scalars(select(Payment)).all()
        paid = {order_id: db.session.get(Order, order_id).paid_amount for order_id in orders}
        unhandled = select(db.func.count()).select_from(StripeEvent).where(StripeEvent.handled_at.is_(None))
        return (sum(r.kind == "payment" for r in rows), sum(r.kind == "refund" for r in rows), paid,
                db.session.scalar(unhandled))
    payments, refunded, paid, unhandled = in_tenant(acme, recorded)
    assert (payments, refunded, unhandled) == (intents, refunds, 0)
    assert paid == {order_id: Decimal(cents) / 100 for order_id, cents in expected.items()}
    assert in_tenant(acme, lambda: db.session.scalar(select(db.func.count()).select_from(StripeEvent))) == len(events)


def test_a_refund_from_the_order_page_goes_through_stripe(app, acme, admin, stripe_on, linked_order, in_tenant,
                                                          run_worker):
    order_id, link = linked_order
    session = pay_through_checkout(app, link, stripe_on)
    path = endpoint_path(admin, acme)
    post_event(app.test_client(), path, stripe_on.event("checkout.session.completed", session))
    run_worker()
    payment_id = in_tenant(acme, lambda: db.session.scalar(select(Payment.id).where(Payment.order_id == order_id)))
    url = f"/{acme.slug}/orders/{order_id}/refund"

    too_much = admin.post(url, data={"payment_id": payment_id, "amount": "60", "reason": "Broken cup"},
                          headers={"HX-Request": "true"})
    assert too_much.status_code == 422 and "At most CN¥50.97 is left to refund of this payment." in too_much.text
    no_reason = admin.post(url, data={"payment_id": payment_id, "amount": "10"}, headers={"HX-Request": "true"})
    assert "Say why the money is given back." in no_reason.text
    assert stripe_on.objects.get("refunds", {}) == {}

    done = admin.post(url, data={"payment_id": payment_id, "amount": "20.97", "reason": "Broken cup"})
    assert done.status_code == 303
    [refund] = stripe_on.objects["refunds"].values()
    assert (refund["amount"], refund["payment_intent"]) == (2097, session["payment_intent"])
    assert paid_amount(in_tenant, acme, order_id) == Decimal("30.00")
    page = admin.get(f"/{acme.slug}/orders/{order_id}").text
    assert 'id="order-payment-state">Partly paid<' in page and "Broken cup" in page
    # Stripe's own event about the same refund changes nothing.
    post_event(app.test_client(), path, stripe_on.event("refund.created", refund))
    run_worker()
    assert paid_amount(in_tenant, acme, order_id) == Decimal("30.00")
    public = app.test_client().get(link).text
    assert "Partly paid" in public and "Pay CN¥20.97" in public
    assert [payload["status"] for payload in order_messages(in_tenant, acme)] == [
        "已支付（¥50.97）", "已退款（¥20.97）"]


def test_the_orders_list_filters_paid_unpaid_and_partly_paid_and_the_export_follows(
        app, acme, admin, stripe_on, make_customer, make_order, in_tenant):
    customer_id = make_customer(acme, name="Sun Li", phone="13900001237")
    unpaid, partly, paid = (make_order(acme, customer_id) for _ in range(3))

    def set_paid():
        db.session.get(Order, partly).paid_amount = Decimal("10.00")
        db.session.get(Order, paid).paid_amount = Decimal("50.97")
    in_tenant(acme, set_paid)
    numbers = {order_id: f"SO-{order_id:06d}" for order_id in (unpaid, partly, paid)}
    for state, expected in (("unpaid", unpaid), ("partly_paid", partly), ("paid", paid)):
        page = admin.get(f"/{acme.slug}/orders/?paid={state}").text
        assert [n for n in numbers.values() if n in page] == [numbers[expected]]
        export = admin.get(f"/{acme.slug}/exports/orders?paid={state}&format=csv")
        assert [n for n in numbers.values() if n in export.get_data(as_text=True)] == [numbers[expected]], export.status


def test_the_revenue_pack_counts_orders_by_payment(app, acme, admin, make_customer, make_order, in_tenant):
    from tests.reports.test_reports import fragment, rows_of

    customer_id = make_customer(acme, name="Qian Yu", phone="13900001238")
    unpaid, partly, paid = (make_order(acme, customer_id) for _ in range(3))

    def set_paid():
        db.session.get(Order, partly).paid_amount = Decimal("10.00")
        db.session.get(Order, paid).paid_amount = Decimal("50.97")
    in_tenant(acme, set_paid)
    rows = rows_of(fragment(admin, acme, "revenue/by-payment", "preset=month"))
    assert {label: [cell[0] for cell in cells] for label, cells in rows.items()} == {
        "Unpaid": ["1", "CN¥50.97", "CN¥0.00"], "Partly paid": ["1", "CN¥50.97", "CN¥10.00"],
        "Paid": ["1", "CN¥50.97", "CN¥50.97"]}
    listed = admin.get(rows["Partly paid"][0][1]).text
    assert listed.count('<tr id="order-') == 1 and f'id="order-{partly}"' in listed


def test_a_recorded_payment_sends_order_paid_to_webhook_subscribers(app, acme, admin, stripe_on, linked_order,
                                                                    in_tenant, run_worker):
    from crm.webhooks.models import WebhookDelivery

    order_id, link = linked_order
    made = admin.post(f"/{acme.slug}/settings/integrations/",
                      data={"url": "https://erp.example.com/hook", "events": ["order.paid"]})
    assert made.status_code == 200, made.text
    session = pay_through_checkout(app, link, stripe_on)
    post_event(app.test_client(), endpoint_path(admin, acme), stripe_on.event("checkout.session.completed", session))
    run_worker()
    (kind, payload), = in_tenant(acme, lambda: db.session.execute(
        select(WebhookDelivery.type, WebhookDelivery.payload)).all())
    assert kind == "order.paid"
    order = payload["data"]["object"]
    assert (order["id"], order["paid_amount"], order["payment_state"], order["total"]) == \
        (order_id, "50.97", "paid", "50.97")
