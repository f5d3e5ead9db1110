"""A campaign's counts read as a sum: every customer of the audience is queued, sent, failed, opted out, without
an address or cancelled, and the page shows customers = the sum of those, whatever the mix of outcomes."""
import re

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from crm.extensions import db, utcnow
from tests.conftest import free_port

PARTS = ("queued", "sent", "failed", "opted-out", "no-address", "cancelled")


class RefusesBounces(Message):
    """An SMTP server that takes every message but refuses the mailbox bounce@ (as a real one refuses a user)."""

    def __init__(self):
        super().__init__()
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bounce@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def handle_message(self, message):
        self.messages.append(message)


@pytest.fixture
def bouncing_smtp(app, monkeypatch):
    handler = RefusesBounces()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{controller.port}")
    monkeypatch.setitem(app.config, "NOTIFY_MAX_ATTEMPTS", 1)  # a refused mailbox fails at once
    yield handler
    controller.stop()


def shown_counts(page) -> dict[str, int]:
    """The numbers the progress card shows, by name (a part that is not shown is 0)."""
    shown = {name: int(n) for name, n in re.findall(r'id="count-([a-z-]+)">(\d+)<', page.text)}
    return {name: shown.get(name, 0) for name in ("audience", *PARTS)}


def adds_up(counts: dict[str, int]) -> bool:
    return counts["audience"] == sum(counts[name] for name in PARTS)


def test_counts_add_up_to_the_audience_with_every_kind_of_outcome(
        app, shop, client_as, make_customer, in_tenant, post_campaign, campaign_id, run_worker, bouncing_smtp):
    from crm.campaigns import jobs
    from crm.customers.models import Customer

    for name in ("Ann", "Bob"):
        make_customer(shop, name=name, email=f"{name.lower()}@c.example")
    make_customer(shop, name="Bounce", email="bounce@c.example")
    opted = make_customer(shop, name="Opted Before", email="before@c.example")
    late = make_customer(shop, name="Opted Later", email="later@c.example")
    make_customer(shop, name="No Email", phone="13800138000")
    in_tenant(shop, lambda: setattr(db.session.get(Customer, opted), "marketing_opt_out_at", utcnow()))
    admin = client_as(shop.admin_account_id)
    assert post_campaign(admin, shop.slug).status_code == 204
    cid = campaign_id(shop)

    # The batches went through everyone; nothing is sent yet.
    with app.app_context():
        assert jobs.expand(shop.id, cid) == "done"
    counts = shown_counts(admin.get(f"/{shop.slug}/campaigns/{cid}"))
    assert counts == {"audience": 6, "queued": 4, "sent": 0, "failed": 0, "opted-out": 1, "no-address": 1,
                      "cancelled": 0}
    assert adds_up(counts)

    # One more opts out before the worker gets to them; one mailbox is refused.
    in_tenant(shop, lambda: setattr(db.session.get(Customer, late), "marketing_opt_out_at", utcnow()))
    run_worker()
    assert sorted(m["To"] for m in bouncing_smtp.messages) == ["ann@c.example", "bob@c.example"]
    page = admin.get(f"/{shop.slug}/campaigns/{cid}")
    counts = shown_counts(page)
    assert counts == {"audience": 6, "queued": 0, "sent": 2, "failed": 1, "opted-out": 2, "no-address": 1,
                      "cancelled": 0}
    assert adds_up(counts)
    card = page.text[page.text.index('id="campaign-counts"'):page.text.index('id="campaign-counts"') + 3000]
    assert re.search(r'count-audience">6</span><span class="stat-l">Customers</span></div>\s*'
                     r'<span class="sum-op">=</span>', card)
    assert card.count('<span class="sum-op">+</span>') == 4  # queued + sent + failed + opted out + no address
    assert "6 of 6 customers done (100%)" in page.text and "bounce@c.example" in page.text  # the failure, listed
    assert "2 / 6" in admin.get(f"/{shop.slug}/campaigns/").text  # the list: sent of the audience
