"""The unsubscribe link of campaign messages: it works end to end from a real email, a tampered or foreign
token is a 404, and an unsubscribed customer gets no later campaign."""
import re

from sqlalchemy import select

from crm.extensions import db
from tests.conftest import HX

CAMPAIGN = {"name": "Sale", "channel": "email", "language": "en", "subject": "Sale for {{ customer }}",
            "body": "Hello {{ customer }}", "send_at": "", "action": "send"}


def quiet_hours_off(in_tenant, tenant):
    from crm.settings import put_setting

    in_tenant(tenant, lambda: put_setting("quiet_hours", None))


def unsubscribe_path(message) -> str:
    text = message.get_payload()[0].get_payload(decode=True).decode()
    url = re.search(r"Unsubscribe: (\S+)", text)[1]
    return "/" + url.split("/", 3)[3]


def opted_out_at(in_tenant, tenant, customer_id):
    from crm.customers.models import Customer

    return in_tenant(tenant, lambda: db.session.get(Customer, customer_id).marketing_opt_out_at)


def test_unsubscribe_link_works_end_to_end_and_no_later_campaign_reaches_the_customer(
        app, acme, client_as, make_customer, in_tenant, run_worker, smtp_on):
    from crm.audit.models import AuditEntry

    quiet_hours_off(in_tenant, acme)
    leaving = make_customer(acme, name="Liu Leaving", email="leaving@c.example")
    make_customer(acme, name="Sun Staying", email="staying@c.example")
    admin = client_as(acme.admin_account_id)
    assert admin.post(f"/{acme.slug}/campaigns/", headers=HX, data=CAMPAIGN).status_code == 204
    run_worker()
    mail = next(m for m in smtp_on.messages if m["To"] == "leaving@c.example")
    path = unsubscribe_path(mail)
    assert path.startswith("/u/")

    stranger = app.test_client()  # the customer's browser: no account
    page = stranger.get(path)
    assert page.status_code == 200 and "Stop receiving marketing messages from Acme 贸易?" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert opted_out_at(in_tenant, acme, leaving) is None  # opening the link alone changes nothing
    done = stranger.post(path)
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert opted_out_at(in_tenant, acme, leaving) is not None
    assert "You are unsubscribed" in stranger.get(path).text  # and it stays so
    changes = in_tenant(acme, lambda: db.session.scalar(select(AuditEntry.changes).where(
        AuditEntry.entity == "customer", AuditEntry.entity_id == leaving).order_by(AuditEntry.id.desc())))
    assert changes == {"marketing_opt_out": [None, "unsubscribed (link)"]}

    # The next campaign leaves them out and counts them as opted out.
    smtp_on.messages.clear()
    assert admin.post(f"/{acme.slug}/campaigns/", headers=HX, data={**CAMPAIGN, "name": "Second"}).status_code == 204
    run_worker()
    assert [m["To"] for m in smtp_on.messages] == ["staying@c.example"]
    from crm.campaigns.models import Campaign
    second = in_tenant(acme, lambda: db.session.scalar(select(Campaign.id).where(Campaign.name == "Second")))
    assert 'id="count-opted-out">1<' in admin.get(f"/{acme.slug}/campaigns/{second}").text


def test_a_message_already_queued_is_refused_once_the_customer_unsubscribes(
        app, acme, client_as, make_customer, in_tenant, outbox_rows, run_worker, smtp_on):
    from crm.campaigns import jobs
    from crm.campaigns.models import Campaign
    from crm.customers.unsubscribe import token_for

    quiet_hours_off(in_tenant, acme)
    customer = make_customer(acme, name="Late Leaver", email="late@c.example")
    admin = client_as(acme.admin_account_id)
    admin.post(f"/{acme.slug}/campaigns/", headers=HX, data=CAMPAIGN)
    campaign_id = in_tenant(acme, lambda: db.session.scalar(select(Campaign.id)))
    with app.app_context():
        assert jobs.expand(acme.id, campaign_id) == "done"  # queued, not sent yet
        token = token_for(acme.id, customer)
    stranger = app.test_client()
    stranger.get(f"/u/{token}")
    assert stranger.post(f"/u/{token}").status_code == 200
    run_worker()
    assert smtp_on.messages == []
    assert [row[2] for row in outbox_rows(acme, kind="campaign")] == ["cancelled"]
    page = admin.get(f"/{acme.slug}/campaigns/{campaign_id}")
    assert 'id="count-opted-out">1<' in page.text and 'id="count-sent">0<' in page.text


def test_tampered_or_foreign_tokens_are_404(app, acme, globex, make_customer, in_tenant):
    from crm.customers.unsubscribe import read_token, token_for

    customer = make_customer(acme, name="Target", email="target@c.example")
    with app.app_context():
        good = token_for(acme.id, customer)
    tenant_id, customer_id, signature = good.split(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    bad_tokens = [
        f"{tenant_id}.{customer_id}.{flipped}",  # a changed signature
        f"{tenant_id}.{int(customer_id) + 1}.{signature}",  # another customer with this signature
        f"{globex.id}.{customer_id}.{signature}",  # another tenant with this signature
        f"{tenant_id}.{customer_id}",  # no signature
        "x", f"{tenant_id}.{customer_id}.{signature}x",
    ]
    client = app.test_client()
    for token in bad_tokens:
        assert client.get(f"/u/{token}").status_code == 404, token
        assert client.post(f"/u/{token}").status_code == 404, token
    # A well-signed token of a customer that does not exist (purged) is a 404 too.
    with app.app_context():
        assert client.get(f"/u/{token_for(acme.id, 2**31 - 1)}").status_code == 404
    with app.app_context():
        assert read_token(good) == (acme.id, customer)
        assert read_token(bad_tokens[0]) is None
    assert opted_out_at(in_tenant, acme, customer) is None
    assert client.get(f"/u/{good}").status_code == 200


def test_the_page_speaks_the_campaigns_language(app, acme, make_customer):
    from crm.customers.unsubscribe import unsubscribe_url

    customer = make_customer(acme, name="Chen", email="chen@c.example")
    with app.app_context():
        url = unsubscribe_url(acme.id, customer, "zh")
    assert url.startswith(app.config["BASE_URL"]) and url.endswith("?lang=zh")
    page = app.test_client().get("/" + url.split("/", 3)[3])
    assert page.status_code == 200 and 'lang="zh-CN"' in page.text  # the words follow once translated
