"""Outgoing webhooks against a real local receiver: signatures checked by the documented snippet, retries after an
outage, replay, automatic disabling with an email, the SSRF guard, and which changes emit what."""
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from crm.extensions import db


def documented_verify():
    """The receiver's check exactly as docs/api.md shows it."""
    text = (Path(__file__).parents[2] / "docs" / "api.md").read_text()
    code = re.search(r"```python\n(import hashlib.*?def verify_webhook.*?)```", text, re.S).group(1)
    scope = {}
    exec(code, scope)  # noqa: S102 - the documentation's own snippet is what is tested
    return scope["verify_webhook"]


def retries_come_due(in_tenant, tenant, run_webhooks):
    """The retries' wait passes: each is due now and handed to the worker, as when its scheduled time comes."""
    from crm.extensions import utcnow
    from crm.webhooks import outbox
    from crm.webhooks.models import WebhookDelivery

    def due_now():
        for delivery in db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.status == "scheduled")):
            delivery.due_at = utcnow()
            outbox.reindex(delivery)

    in_tenant(tenant, due_now)
    run_webhooks()


def sweep_and_run(app, run_webhooks):
    from crm.webhooks.jobs import sweep

    with app.app_context():
        sweep(stale_seconds=0)
    run_webhooks()


def test_signed_event_passes_the_documented_check(admin, acme, receiver, subscribe, run_webhooks):
    _id, secret = subscribe(receiver.url, ["customer.created"])
    page = admin.post(f"/{acme.slug}/customers/", data={"name": "王芳", "kind": "person", "stage": "lead",
                                                       "preferred_channel": "sms"})
    assert page.status_code in (200, 303), page.text
    run_webhooks()
    [request] = receiver.requests
    event = receiver.events()[0]
    assert event["type"] == "customer.created" and event["api_version"] == "v1"
    assert event["data"]["object"]["name"] == "王芳" and event["id"] == request["headers"]["Webhook-Id"]
    verify = documented_verify()
    assert verify(secret, request["body"], request["headers"]["Webhook-Signature"])
    assert not verify("whsec_wrong", request["body"], request["headers"]["Webhook-Signature"])
    assert not verify(secret, request["body"] + b" ", request["headers"]["Webhook-Signature"])


def test_outage_then_recovery_loses_nothing(app, acme, receiver, subscribe, run_webhooks, make_customer, in_tenant,
                                            deliveries, webhook_config):
    webhook_config(WEBHOOK_BACKOFF=[3600])
    subscribe(receiver.url, ["customer.created"])
    receiver.status = 503
    made = [make_customer(acme, name=f"Outage {n}") for n in range(3)]
    run_webhooks()
    assert [status for _t, status, _a in deliveries(acme)] == ["scheduled"] * 3
    assert len(receiver.requests) == 3
    receiver.status = 200
    retries_come_due(in_tenant, acme, run_webhooks)
    assert [(status, attempts) for _t, status, attempts in deliveries(acme)] == [("delivered", 2)] * 3
    taken = receiver.events()[3:]
    assert sorted(e["data"]["object"]["id"] for e in taken) == sorted(made)
    assert len({e["id"] for e in taken}) == 3
    assert {e["id"] for e in taken} == {e["id"] for e in receiver.events()[:3]}  # same ids: receivers dedup


def test_worker_killed_after_its_claim_is_handed_over(app, acme, receiver, subscribe, make_customer, in_tenant,
                                                      run_webhooks, deliveries, webhook_config):
    from crm.jobs import queue
    from crm.webhooks import jobs
    from crm.webhooks.models import WebhookDelivery

    subscribe(receiver.url, ["customer.created"])
    make_customer(acme, name="Claimed")
    with app.app_context():
        queue("webhooks").empty()  # Redis lost the job...
    delivery_id = in_tenant(acme, lambda: db.session.scalar(select(WebhookDelivery.id)))
    in_tenant(acme, lambda: jobs._claim(delivery_id))  # ...and the worker that claimed it died before posting
    assert deliveries(acme) == [("customer.created", "sending", 1)]
    webhook_config(WEBHOOK_STALE_SECONDS=0)
    sweep_and_run(app, run_webhooks)
    assert deliveries(acme) == [("customer.created", "delivered", 2)]
    assert len(receiver.events()) == 1


def test_replay_sends_the_same_event_again(admin, acme, receiver, subscribe, make_customer, run_webhooks):
    subscription_id, _secret = subscribe(receiver.url, ["customer.created"])
    make_customer(acme, name="Replayed")
    run_webhooks()
    page = admin.get(f"/{acme.slug}/settings/integrations/{subscription_id}")
    assert "customer.created" in page.text and "200" in page.text and "received" in page.text
    replay = re.search(r'action="([^"]+/replay)"', page.text).group(1)
    assert admin.post(replay).status_code == 303
    run_webhooks()
    first, again = receiver.events()
    assert first == again


def test_failures_in_a_row_disable_and_email_the_admins(admin, acme, receiver, subscribe, make_customer, in_tenant,
                                                        run_webhooks, deliveries, outbox_rows, webhook_config,
                                                        smtp_on, run_worker):
    webhook_config(WEBHOOK_DISABLE_AFTER=2, WEBHOOK_BACKOFF=[3600])  # nothing retried during the test
    subscription_id, _secret = subscribe(receiver.url, ["customer.created"])
    receiver.status = 500
    for n in range(3):
        make_customer(acme, name=f"Failing {n}")
    run_webhooks()
    page = admin.get(f"/{acme.slug}/settings/integrations/{subscription_id}")
    assert "Disabled after 2 failures in a row" in page.text
    assert [(c, k) for c, k, *_rest in outbox_rows(acme)] == [("email", "webhook_disabled")]
    run_worker()
    [mail] = [m for m in smtp_on.messages if m["To"] == f"admin@{acme.slug}.example"]
    assert mail["Subject"] == f"Webhook to {receiver.url} disabled"
    assert f"/settings/integrations/{subscription_id}" in mail.get_payload()[0].get_payload(decode=True).decode()
    assert len(receiver.requests) == 2  # the third was held, not sent
    assert sorted(s for _t, s, _a in deliveries(acme)) == ["paused", "scheduled", "scheduled"]
    receiver.status = 200
    assert admin.post(f"/{acme.slug}/settings/integrations/{subscription_id}/enable").status_code == 303
    run_webhooks()
    assert [s for _t, s, _a in deliveries(acme)] == ["delivered"] * 3
    assert "Enabled: events are sent." in admin.get(f"/{acme.slug}/settings/integrations/{subscription_id}").text


def test_production_refuses_http_and_private_addresses(admin, acme, webhook_config):
    webhook_config(MESSAGING_PRIVATE_HOSTS=False)
    url = f"/{acme.slug}/settings/integrations/"
    page = admin.post(url, data={"url": "http://erp.example.com/hook", "events": ["customer.created"]})
    assert page.status_code == 422 and "Enter an address starting with https://." in page.text
    page = admin.post(url, data={"url": "https://localhost/hook", "events": ["customer.created"]})
    assert page.status_code == 422 and "inside a private network" in page.text
    for broken in ("https://[::1/hook", "https://erp.example.com:99999/hook", "ftp://erp.example.com/"):
        page = admin.post(url, data={"url": broken, "events": ["customer.created"]})
        assert page.status_code == 422 and "Enter an address starting with https://." in page.text


def test_ssrf_guard_checks_the_resolved_address_at_delivery(acme, receiver, subscribe, make_customer, run_webhooks,
                                                            in_tenant, webhook_config):
    from crm.webhooks.models import WebhookAttempt

    # Saved while private hosts were allowed, then the app runs as in production: "localhost" is a name that
    # resolves to a loopback address, so it is refused after resolving it, and nothing reaches the receiver.
    subscribe(receiver.url.replace("127.0.0.1", "localhost"), ["customer.created"])
    webhook_config(MESSAGING_PRIVATE_HOSTS=False)
    make_customer(acme, name="Not to localhost")
    run_webhooks()
    assert receiver.requests == []
    [attempt] = in_tenant(acme, lambda: [(a.status_code, a.error) for a in db.session.scalars(select(WebhookAttempt))])
    assert attempt[0] is None and "private address" in attempt[1]


PARTNER = "hooks.partner-erp.com"  # a name only the tests' resolver knows
PUBLIC = "93.184.215.14"  # a public address: the guard lets it through


def resolver(monkeypatch, *answers: str) -> list[str]:
    """socket.getaddrinfo answering PARTNER with each of `answers` in turn (the last one from then on), as a DNS
    server that rebinds the name does; other names go to the resolver in place. Returns the names looked up."""
    import socket

    asked, resolve = [], socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host != PARTNER:
            return resolve(host, port, *args, **kwargs)
        answer = answers[min(len(asked), len(answers) - 1)]
        asked.append(answer)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def connections(monkeypatch, public_goes_to: str | None = None) -> list[tuple]:
    """socket.create_connection noting each address asked for; PUBLIC goes to `public_goes_to` (a local server
    standing in for the public host), or is refused as an unreachable host would be. Returns the addresses."""
    import socket

    made, connect = [], socket.create_connection

    def create_connection(address, *args, **kwargs):
        made.append(address)
        if address[0] == PUBLIC:
            if public_goes_to is None:
                raise ConnectionRefusedError("refused")
            address = (public_goes_to, address[1])
        return connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return made


def test_a_name_rebound_to_a_private_address_after_the_check_is_not_reached(
        acme, receiver, subscribe, make_customer, run_webhooks, in_tenant, webhook_config, monkeypatch):
    from crm.webhooks.models import WebhookAttempt

    port = receiver.server.server_address[1]
    subscribe(f"http://{PARTNER}:{port}/hook", ["customer.created"])
    webhook_config(MESSAGING_PRIVATE_HOSTS=False)
    asked = resolver(monkeypatch, PUBLIC, "127.0.0.1")  # public when checked, the receiver's loopback after
    made = connections(monkeypatch)
    make_customer(acme, name="Rebound")
    run_webhooks()
    assert receiver.requests == []
    assert asked == [PUBLIC] and made == [(PUBLIC, port)]  # resolved once; connected to what was checked
    [attempt] = in_tenant(acme, lambda: [(a.status_code, a.error) for a in db.session.scalars(select(WebhookAttempt))])
    assert attempt[0] is None and f"{PARTNER} cannot be reached" in attempt[1]


def test_a_pinned_delivery_keeps_the_name_in_the_host_header(acme, receiver, subscribe, make_customer, run_webhooks,
                                                             webhook_config, monkeypatch):
    port = receiver.server.server_address[1]
    _id, secret = subscribe(f"http://{PARTNER}:{port}/hook", ["customer.created"])
    webhook_config(MESSAGING_PRIVATE_HOSTS=False)
    asked = resolver(monkeypatch, PUBLIC)
    made = connections(monkeypatch, public_goes_to="127.0.0.1")
    make_customer(acme, name="Pinned")
    run_webhooks()
    [request] = receiver.requests
    assert request["headers"]["Host"] == f"{PARTNER}:{port}" and made == [(PUBLIC, port)] and len(asked) == 1
    assert documented_verify()(secret, request["body"], request["headers"]["Webhook-Signature"])


@pytest.fixture
def tls_receiver(tmp_path):
    """An HTTPS server on 127.0.0.1 with a certificate for PARTNER from a CA of its own; notes the SNI names."""
    import datetime
    import ssl
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def certificate(subject, issuer, public_key, signing_key, ca, names=()):
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(hours=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            builder = builder.add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
                critical=True)
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                                            critical=False)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = certificate(ca_name, ca_name, ca_key.public_key(), ca_key, True)
    leaf = certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, PARTNER)]), ca_name, key.public_key(),
                       ca_key, False, names=[PARTNER])
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    sni, hosts = [], []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hosts.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "leaf.pem")
    context.sni_callback = lambda _socket, name, _context: sni.append(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"port": server.server_address[1], "ca": str(tmp_path / "ca.pem"), "sni": sni, "hosts": hosts}
    server.shutdown()
    server.server_close()


def test_pinned_https_checks_the_certificate_and_sends_sni_for_the_name(ctx, app, tls_receiver, webhook_config,
                                                                       monkeypatch):
    from crm.notify.transport import ChannelError, http_call

    webhook_config(MESSAGING_PRIVATE_HOSTS=False)
    port = tls_receiver["port"]
    resolver(monkeypatch, PUBLIC)
    made = connections(monkeypatch, public_goes_to="127.0.0.1")
    with pytest.raises(ChannelError, match="CERTIFICATE_VERIFY_FAILED"):  # a CA the machine does not trust
        http_call("POST", f"https://{PARTNER}:{port}/hook", body=b"{}")
    monkeypatch.setenv("SSL_CERT_FILE", tls_receiver["ca"])  # now trusted, as a public CA would be
    assert http_call("POST", f"https://{PARTNER}:{port}/hook", body=b"{}").status == 204
    assert tls_receiver["sni"][-1] == PARTNER and tls_receiver["hosts"] == [f"{PARTNER}:{port}"]
    assert made == [(PUBLIC, port), (PUBLIC, port)]


def test_redirects_are_not_followed(acme, receiver, subscribe, make_customer, run_webhooks, in_tenant):
    from crm.webhooks.models import WebhookAttempt

    receiver.redirect_to = "/elsewhere"
    subscribe(receiver.url, ["customer.created"])
    make_customer(acme, name="Redirected")
    run_webhooks()
    assert [r["path"] for r in receiver.requests] == ["/hook"]
    codes = in_tenant(acme, lambda: [a.status_code for a in db.session.scalars(select(WebhookAttempt))])
    assert codes == [302]


def test_a_rolled_back_change_emits_nothing(app, acme, receiver, subscribe, deliveries):
    from crm.customers import writes
    from crm.members.models import Member
    from tenants.binding import tenant_bound

    subscribe(receiver.url, ["customer.created"])
    with pytest.raises(RuntimeError), app.app_context(), tenant_bound(acme.ref):
        writes.create_customer(db.session.get(Member, acme.admin_member_id), {"name": "Never"})
        raise RuntimeError("the request failed after the service")
    assert deliveries(acme) == []


def test_every_event_type_is_emitted(app, acme, admin, receiver, subscribe, run_webhooks, make_api_token, make_ticket,
                                     stage_ids):
    from crm.orders.models import Order
    from crm.webhooks import events
    from crm.webhooks.events import EVENTS
    from tenants.binding import tenant_bound

    subscribe(receiver.url)
    api = app.test_client()
    bearer = {"Authorization": f"Bearer {make_api_token(acme)}"}
    customer = api.post("/api/v1/customers/", json={"name": "李雷"}, headers=bearer).get_json()
    assert api.patch(f"/api/v1/customers/{customer['id']}", json={"company": "Acme"}, headers=bearer).status_code == 200
    stages = stage_ids(acme)
    deal = api.post("/api/v1/deals/", json={"title": "Tea deal", "customer_id": customer["id"], "amount": "100",
                                            "stage_id": stages["Lead"]}, headers=bearer).get_json()
    assert api.post(f"/api/v1/deals/{deal['id']}/move", json={"stage_id": stages["Won"]},
                    headers=bearer).status_code == 200
    lost = api.post("/api/v1/deals/", json={"title": "Lost deal", "customer_id": customer["id"],
                                            "stage_id": stages["Lead"]}, headers=bearer)
    assert api.post(f"/api/v1/deals/{lost.get_json()['id']}/move",
                    json={"stage_id": stages["Lost"], "lost_reason": "Price"}, headers=bearer).status_code == 200
    order = api.post("/api/v1/orders/", json={"customer_id": customer["id"], "lines": [
        {"description": "Tea", "quantity": "1", "unit_price": "9.50"}]}, headers=bearer).get_json()
    assert api.post(f"/api/v1/orders/{order['id']}/status", json={"status": "shipped"},
                    headers=bearer).status_code == 200
    followup = api.post("/api/v1/activities/", json={"customer_id": customer["id"], "method": "call",
                                                     "summary": "Call back", "due_at": "2030-01-01T09:00:00Z"},
                        headers=bearer).get_json()
    assert api.post(f"/api/v1/activities/{followup['id']}/done", json={"outcome": "Reached"},
                    headers=bearer).status_code == 200
    make_ticket(acme, customer_id=customer["id"], status="closed")
    contact = api.post(f"/api/v1/customers/{customer['id']}/contacts", json={"name": "李娜"}, headers=bearer).get_json()
    assert api.patch(f"/api/v1/contacts/{contact['id']}", json={"title": "Buyer"}, headers=bearer).status_code == 200
    gone = api.post(f"/api/v1/customers/{customer['id']}/contacts", json={"name": "王强"}, headers=bearer).get_json()
    assert api.delete(f"/api/v1/contacts/{gone['id']}", headers=bearer).status_code == 204
    assert api.delete(f"/api/v1/customers/{customer['id']}", headers=bearer).status_code == 204
    with app.app_context(), tenant_bound(acme.ref):
        events.emit("order.paid", db.session.get(Order, order["id"]))
    run_webhooks()
    seen = {e["type"]: e["data"]["object"] for e in receiver.events()}
    assert set(seen) == set(EVENTS)
    assert seen["order.status_changed"]["status"] == "shipped"
    assert seen["deal.won"]["status"] == "won" and seen["deal.lost"]["lost_reason"] == "Price"
    assert seen["customer.updated"]["company"] == "Acme"
    assert seen["contact.updated"]["title"] == "Buyer" and seen["contact.created"]["customer_id"] == customer["id"]
    assert seen["contact.deleted"]["name"] == "王强"


def test_pool_moves_recycling_and_a_restore_send_customer_updated(app, acme, admin, receiver, subscribe, make_customer,
                                                                  run_webhooks, in_tenant):
    from crm.customers import writes
    from crm.members.models import Member
    from crm.pool import recycle, service as pool
    from crm.pool.models import RecycleRule

    subscribe(receiver.url, ["customer.updated"])
    pooled, trashed = make_customer(acme, name="Pooled"), make_customer(acme, name="Trashed")
    run_webhooks()
    assert receiver.events() == []  # made, not updated

    def as_admin(change):
        def run():
            admin_member = db.session.get(Member, acme.admin_member_id)
            change(admin_member, db.session.get(writes.Customer, pooled))
        in_tenant(acme, run)

    as_admin(lambda me, customer: pool.release(me, customer, "Not answering"))
    as_admin(lambda me, customer: pool.claim(me, [customer.id]))
    as_admin(lambda me, customer: pool.release(me, customer, "Moved away"))
    as_admin(lambda me, customer: pool.assign(me, [customer.id], me.id))

    def recycled():  # a rule returns the customer to the pool, as the nightly run does
        rule = RecycleRule(name="Quiet", kind="no_follow_up", days=1, warn_days_before=0, levels=[], tag_ids=[])
        db.session.add(rule)
        db.session.flush()
        recycle._recycle(db.session.get(writes.Customer, pooled), rule)

    in_tenant(acme, recycled)
    in_tenant(acme, lambda: writes.move_to_trash([db.session.get(writes.Customer, trashed)]))
    in_tenant(acme, lambda: writes.restore([db.session.get(writes.Customer, trashed)]))
    run_webhooks()  # each move was its own transaction: each is sent
    seen = [(e["type"], e["data"]["object"]["id"], e["data"]["object"]["owner_id"]) for e in receiver.events()]
    me = acme.admin_member_id
    assert seen == [("customer.updated", pooled, None), ("customer.updated", pooled, me),
                    ("customer.updated", pooled, None), ("customer.updated", pooled, me),
                    ("customer.updated", pooled, None), ("customer.updated", trashed, me)]


def test_rolled_secret_signs_from_then_on_and_a_disabled_subscription_gets_nothing(
        admin, acme, receiver, subscribe, make_customer, run_webhooks, deliveries):
    subscription_id, old = subscribe(receiver.url, ["customer.created"])
    page = admin.post(f"/{acme.slug}/settings/integrations/{subscription_id}/secret")
    new = re.search(r'id="new-secret">(whsec_[^<]+)<', page.text).group(1)
    assert new != old
    make_customer(acme, name="Signed anew")
    run_webhooks()
    [request] = receiver.requests
    verify = documented_verify()
    assert verify(new, request["body"], request["headers"]["Webhook-Signature"])
    assert not verify(old, request["body"], request["headers"]["Webhook-Signature"])
    assert admin.post(f"/{acme.slug}/settings/integrations/{subscription_id}/disable").status_code == 303
    make_customer(acme, name="Not sent")
    assert len(deliveries(acme)) == 1
    assert admin.post(f"/{acme.slug}/settings/integrations/{subscription_id}/delete").status_code == 303
    assert admin.get(f"/{acme.slug}/settings/integrations/{subscription_id}").status_code == 404


def test_rotate_keys_re_encrypts_signing_and_settings_secrets_and_deliveries_still_pass_the_check(
        app, acme, receiver, subscribe, make_customer, run_webhooks, in_tenant, field_keys):
    from crm.notify import channel_settings
    from crm.payments import settings as payments
    from crm.webhooks.models import WebhookSubscription

    field_keys("old", "dev")
    subscription_id, secret = subscribe(receiver.url, ["customer.created"])
    in_tenant(acme, lambda: (
        payments.save({"api_key": "rk_test_51RotateKey1234", "webhook_secret": "whsec_RotateSecret1234"}),
        channel_settings.save_bot("dingtalk", {"url": "https://oapi.dingtalk.com/robot/send?access_token=abc",
                                               "secret": "SECabc123"})))
    field_keys("new", "old", "dev")
    result = app.test_cli_runner().invoke(args=["tenants", "rotate-keys"])
    # The signing secret, the Stripe key and webhook secret, the bot's address and secret.
    assert result.exit_code == 0 and re.search(rf"t_{acme.id}\s+5 values re-encrypted", result.output), result.output
    field_keys("new")  # the old key is gone
    stored = in_tenant(acme, lambda: db.session.get(WebhookSubscription, subscription_id).secret_enc)
    assert stored.startswith("new:")
    assert in_tenant(acme, lambda: (payments.webhook_secret(), channel_settings.secret_masks()["dingtalk"])) == (
        "whsec_RotateSecret1234", {"url": "https://oapi.dingtalk.com/…=abc", "secret": "**** c123"})
    make_customer(acme, name="After rotation")
    run_webhooks()
    [request] = receiver.requests
    assert documented_verify()(secret, request["body"], request["headers"]["Webhook-Signature"])  # the same secret
