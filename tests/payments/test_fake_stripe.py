"""The fake Stripe speaks the `stripe` library's protocol: objects, errors, keys, the hosted page and signatures."""
import http.client
import json
import threading
import urllib.request
from urllib.parse import urlsplit

import pytest
import stripe

from tests.fake_stripe import API_KEY, FakeStripe, sign


@pytest.fixture
def fake():
    server = FakeStripe().start()
    yield server
    server.stop()


def client(fake, key=API_KEY):
    return stripe.StripeClient(key, base_addresses={"api": fake.url}, max_network_retries=0)


SESSION = {"mode": "payment", "line_items": [{"quantity": 1, "price_data": {
    "currency": "cny", "unit_amount": 5097, "product_data": {"name": "SO-000001"}}}],
    "payment_method_types": ["card", "alipay"], "metadata": {"order_id": "1"},
    "payment_intent_data": {"metadata": {"order_id": "1"}},
    "success_url": "http://shop.test/done", "cancel_url": "http://shop.test/back"}


def test_checkout_session_payment_and_partial_refunds(fake):
    api = client(fake)
    session = api.v1.checkout.sessions.create(params=SESSION)
    assert session.id.startswith("cs_test_") and session.object == "checkout.session"
    assert (session.amount_total, session.currency, session.status) == (5097, "cny", "open")
    assert session.url == f"{fake.url}/checkout/{session.id}"
    fake.complete_checkout(session.id, "alipay")
    paid = api.v1.checkout.sessions.retrieve(session.id)
    assert (paid.status, paid.payment_status) == ("complete", "paid")
    intent = api.v1.payment_intents.retrieve(paid.payment_intent, params={"expand": ["latest_charge"]})
    assert intent.id.startswith("pi_") and intent.amount_received == 5097 and intent.metadata["order_id"] == "1"
    assert intent.latest_charge.payment_method_details.type == "alipay"
    refund = api.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1000})
    assert refund.id.startswith("re_") and refund.status == "succeeded"
    with pytest.raises(stripe.InvalidRequestError) as refused:
        api.v1.refunds.create(params={"payment_intent": intent.id, "amount": 5000})
    assert refused.value.http_status == 400 and refused.value.code == "amount_too_large"
    assert [r.amount for r in api.v1.refunds.list(params={"payment_intent": intent.id}).data] == [1000]


def test_errors_are_stripe_shaped(fake):
    with pytest.raises(stripe.AuthenticationError) as wrong_key:
        client(fake, "rk_test_wrong").v1.balance.retrieve()
    assert wrong_key.value.http_status == 401
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client(fake).v1.checkout.sessions.retrieve("cs_test_nothing")
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing"
    fake.enabled_methods = {"card"}
    with pytest.raises(stripe.InvalidRequestError) as not_enabled:
        client(fake).v1.checkout.sessions.create(params=SESSION)
    assert not_enabled.value.param == "payment_method_types"


def test_the_hosted_page_pays_and_posts_a_signed_event(fake):
    from werkzeug.serving import make_server

    received = []

    def endpoint(environ, start_response):
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        received.append((body.decode(), environ["HTTP_STRIPE_SIGNATURE"]))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    server = make_server("127.0.0.1", 0, endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        hook = fake.add_webhook(f"http://127.0.0.1:{server.server_port}/hook")
        session = client(fake).v1.checkout.sessions.create(params=SESSION)
        assert "Pay 50.97 CNY" in urllib.request.urlopen(session.url).read().decode()
        assert _post_without_redirect(session.url, "method=card") == (303, "http://shop.test/done")
    finally:
        server.shutdown()
        thread.join()
    payload, header = received[0]
    event = stripe.Webhook.construct_event(payload, header, hook.secret)
    assert event.type == "checkout.session.completed" and event.data.object.payment_status == "paid"
    assert header == sign(payload, hook.secret, int(header.split(",")[0][2:]))
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload, header, "whsec_other")
    assert json.loads(payload)["id"].startswith("evt_")


def _post_without_redirect(url: str, body: str) -> tuple[int, str]:
    """POST a form as a browser does and return (status, Location) without following it."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("POST", parts.path, body, {"Content-Type": "application/x-www-form-urlencoded"})
    answer = connection.getresponse()
    connection.close()
    return answer.status, answer.getheader("Location")
