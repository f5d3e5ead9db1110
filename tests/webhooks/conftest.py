"""A real local HTTP receiver (a thread server) for webhook tests, the webhooks worker, and subscriptions made as
the Integrations page makes them."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Receiver:
    """Records every request; answers `status` (a redirect when `redirect_to` is set)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200
        self.redirect_to = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if receiver.redirect_to and self.path != receiver.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", receiver.redirect_to)
                    self.end_headers()
                    return
                answer = b'{"received": true}' if receiver.status < 300 else b"Service Unavailable: try later"
                self.send_response(receiver.status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests if r["path"] == "/hook"]


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.server.shutdown()
    made.server.server_close()


@pytest.fixture
def run_webhooks(app):
    """Run every job waiting on the webhooks queue (scheduled ones included when due), in this process."""
    from rq import SimpleWorker

    from crm.jobs import queue

    def run():
        with app.app_context():
            SimpleWorker([queue("webhooks")], connection=queue().connection).work(burst=True, with_scheduler=True)

    return run


@pytest.fixture
def subscribe(admin, acme):
    """Subscribe through the Integrations page; returns (subscription id, secret shown once)."""
    import re

    from crm.webhooks.events import EVENTS

    def make(url: str, events=tuple(EVENTS)) -> tuple[int, str]:
        page = admin.post(f"/{acme.slug}/settings/integrations/", data={"url": url, "events": list(events)})
        assert page.status_code == 200, page.text
        secret = re.search(r'id="new-secret">(whsec_[^<]+)<', page.text).group(1)
        listing = admin.get(f"/{acme.slug}/settings/integrations/").text
        subscription_id = int(re.findall(r"/settings/integrations/(\d+)", listing)[-1])
        return subscription_id, secret

    return make


@pytest.fixture
def webhook_config(app):
    """Set webhook config for one test, put back after it."""
    missing = object()
    saved = {}

    def set_(**values):
        for name, value in values.items():
            saved.setdefault(name, app.config.get(name, missing))
            app.config[name] = value

    yield set_
    for name, value in saved.items():
        if value is missing:
            del app.config[name]
        else:
            app.config[name] = value


@pytest.fixture
def deliveries(in_tenant):
    """A tenant's deliveries as (type, status, attempts), oldest first."""
    from sqlalchemy import select

    from crm.extensions import db
    from crm.webhooks.models import WebhookDelivery

    def rows(tenant):
        return in_tenant(tenant, lambda: [(d.type, d.status, d.attempts) for d in db.session.scalars(
            select(WebhookDelivery).order_by(WebhookDelivery.id))])

    return rows
