"""Cross-tenant isolation: every route in the URL map, called by another tenant's admin with this
tenant's slug or record ids, never shows or changes this tenant's data. New routes are covered as
they are added: the routes come from app.url_map."""
import re

from sqlalchemy import text

from crm.extensions import db
from tests.conftest import HX, bearer

SECRET = "GLOBEX-SECRET"


def snapshot(app, schema: str) -> dict:
    """Every row of every table in a tenant schema, as text."""
    with app.app_context(), db.engine.connect() as connection:
        tables = connection.execute(text(
            "select table_name from information_schema.tables where table_schema = :s order by 1"),
            {"s": schema}).scalars().all()
        return {t: sorted(map(str, connection.execute(text(f'select * from "{schema}"."{t}"')).all()))
                for t in tables}


def victim_data(globex, make_customer, in_tenant):
    """Globex: the secret customer and tag have ids above any record Acme makes during the test."""
    from crm.customers.models import Customer, Tag
    from crm.customers.writes import add_tag

    for i in range(9):
        make_customer(globex, name=f"{SECRET} filler {i}")
    customer_id = make_customer(globex, name=f"{SECRET} 客户", phone="13700000001", email="secret@globex.example")

    def tag():
        db.session.add_all(Tag(name=f"filler {i}", color="gray") for i in range(4))
        secret_tag = Tag(name=f"{SECRET}-tag", color="red")
        db.session.add(secret_tag)
        db.session.flush()
        add_tag([db.session.get(Customer, customer_id)], secret_tag)
        return secret_tag.id

    ids = {"customer_id": customer_id, "tag_id": in_tenant(globex, tag)}
    ids.update(in_tenant(globex, lambda: secret_records(customer_id, globex.admin_member_id)))
    return ids


def secret_records(customer_id: int, owner_id: int) -> dict:
    """One record of every other kind a route takes an id of, each carrying the secret, with ids above Acme's."""
    from crm.followups.models import Activity
    from crm.campaigns.models import Campaign
    from crm.contacts.models import Contact
    from crm.notify.models import Notification
    from crm.orders.models import Order
    from crm.deals import stages
    from crm.deals.models import Deal
    from crm.pool.models import RecycleRule
    from crm.products.models import Product
    from crm.tickets.models import Ticket
    from crm.extensions import utcnow
    from crm.webhooks import service as webhooks
    from crm.webhooks.models import WebhookDelivery, WebhookSubscription

    pipeline = stages.create_pipeline({"name_en": f"{SECRET} pipeline"})
    stage = stages.stages(pipeline.id)[0]
    made = {}
    for _filler in range(20):  # ids beyond any Acme makes in this test
        rows = {
            "deal_id": Deal(title=f"{SECRET} deal", customer_id=customer_id, pipeline_id=pipeline.id,
                            stage_id=stage.id, currency="CNY", owner_id=owner_id, probability=10, status="open"),
            "order_id": Order(customer_id=customer_id, owner_id=owner_id, currency="CNY", status="placed",
                              notes=f"{SECRET} order"),
            "ticket_id": Ticket(customer_id=customer_id, subject=f"{SECRET} ticket", kind="inquiry",
                                priority="normal", status="open", owner_id=owner_id, due_at=utcnow()),
            "activity_id": Activity(customer_id=customer_id, owner_id=owner_id, method="call", summary=f"{SECRET} call",
                                    outcome="", due_at=utcnow()),
            "product_id": Product(name=f"{SECRET} product {_filler}", price=1),
            "contact_id": Contact(customer_id=customer_id, name=f"{SECRET} contact", mobile="+8613700000002",
                                  is_primary=False),
            "notification_id": Notification(channel="email", kind="reminder", recipient="secret@globex.example",
                                            status="failed", idempotency_key=f"secret:{_filler}", payload={},
                                            language="en", attempts=5, last_error=SECRET),
            "campaign_id": Campaign(name=f"{SECRET} campaign", channel="email", language="en", subject=SECRET,
                                    body=SECRET, audience={}, status="draft", owner_id=owner_id, cursor=0, queued=0,
                                    opted_out=0, no_address=0),
            "rule_id": RecycleRule(name=f"{SECRET} rule {_filler}", kind="no_follow_up", days=9, levels=[],
                                   tag_ids=[]),
        }
        rows["subscription_id"] = WebhookSubscription(
            url=f"https://example.com/{SECRET}", events=["customer.created"], enabled=True, failures=0,
            secret_enc=webhooks.encrypt(SECRET, webhooks.secret_context()))
        db.session.add_all(rows.values())
        db.session.flush()
        rows["delivery_id"] = WebhookDelivery(subscription_id=rows["subscription_id"].id, event_id=f"evt_{_filler}",
                                              type="customer.created", payload={"secret": SECRET}, status="failed",
                                              attempts=8, last_error=SECRET)
        db.session.add(rows["delivery_id"])
        db.session.flush()
        made = {name: row.id for name, row in rows.items()}
    return {**made, "pipeline_id": pipeline.id, "stage_id": stage.id}


def fill(rule, slug: str, ids: dict) -> dict:
    values = {}
    for name in rule.arguments:
        if name == "slug":
            values[name] = slug
        elif name.endswith("_id"):
            values[name] = ids.get(name, ids["customer_id"])
        elif name == "name":
            values[name] = "name"
        else:
            values[name] = "x"
    return values


def form_for(ids: dict) -> dict:
    """A form that would do damage if any route accepted the other tenant's ids."""
    return {"name": "Overwritten", "value": "overwritten", "ids": [ids["customer_id"]],
            "tag_id": ids["tag_id"], "action": "delete", "owner_id": "", "color": "red", "email": "a@b.example",
            "password": "password-123", "company": "x", "slug": "x", "language": "en"}


def test_no_route_returns_or_changes_another_tenants_data(app, acme, globex, make_customer, in_tenant, client_as):
    make_customer(acme, name="Acme's own")
    ids = victim_data(globex, make_customer, in_tenant)
    before = snapshot(app, f"t_{globex.id}")
    checked = 0
    with app.test_request_context():
        rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    for rule in rules:
        for method in sorted(rule.methods & {"GET", "POST"}):
            for slug in (acme.slug, globex.slug):
                client = client_as(acme.admin_account_id)
                with app.test_request_context():
                    url = app.url_for(rule.endpoint, **fill(rule, slug, ids))
                for query in ("", f"?q=GLOBEX&tag={ids['tag_id']}&owner=1&edit=1&phone=13700000001"
                                  f"&email=secret@globex.example"):
                    response = client.open(url + query, method=method, data=form_for(ids) if method == "POST" else None,
                                           headers={"HX-Request": "true"})
                    where = f"{method} {url}{query} -> {response.status_code}"
                    assert response.status_code < 500, where
                    assert SECRET not in response.get_data(as_text=True), where
                    assert SECRET not in response.headers.get("Location", ""), where
                    if "slug" in rule.arguments and (slug == globex.slug or rule.arguments & set(ids)):
                        assert response.status_code in (403, 404) or method == "POST" and response.status_code in (
                            303, 422), where
                    checked += 1
    assert snapshot(app, f"t_{globex.id}") == before
    assert checked > 50
    assert {r.endpoint for r in rules} >= {"customers.index", "customers.show", "customers.bulk", "tags.update"}


def test_duplicate_check_never_names_another_tenants_customer(acme, globex, make_customer, client_as):
    make_customer(globex, name=f"{SECRET} dup", phone="13700000002")
    page = client_as(acme.admin_account_id).get(f"/{acme.slug}/customers/duplicates?phone=13700000002",
                                                         headers=HX)
    assert "Possible duplicate" not in page.text and SECRET not in page.text


API_METHODS = ("GET", "POST", "PATCH", "DELETE")


def api_rules(app) -> list:
    """Every API route that reads a token (the OpenAPI document and the reference page need none)."""
    with app.test_request_context():
        return [r for r in app.url_map.iter_rules() if r.rule.startswith("/api/") and r.endpoint.startswith("api_")
                and r.endpoint.split(".")[0] != "api_docs"]


def test_no_api_route_returns_or_changes_another_tenants_data(app, acme, globex, make_customer, in_tenant,
                                                              make_api_token):
    """The API's tenant is the token's: Acme's admin token, sent with Globex's record ids to every API route and
    method, finds none of them and changes nothing there."""
    make_customer(acme, name="Acme's own")
    ids = victim_data(globex, make_customer, in_tenant)
    token = make_api_token(acme)
    before = snapshot(app, f"t_{globex.id}")
    checked = 0
    for rule in api_rules(app):
        values = {**fill(rule, "", ids), **({"name": "id_number"} if "name" in rule.arguments else {})}
        with app.test_request_context():
            url = app.url_for(rule.endpoint, **values)
        for method in sorted(rule.methods & set(API_METHODS)):
            for query in ("", f"?q=GLOBEX&tag={ids['tag_id']}&owner=1&updated_since=2000-01-01T00:00:00Z"):
                body = {"name": "Overwritten", "tags": [ids["tag_id"]], "owner_id": 1}
                response = app.test_client().open(url + query, method=method, headers=bearer(token),
                                                  json=body if method in ("POST", "PATCH") else None)
                where = f"{method} {url}{query} -> {response.status_code}"
                assert response.status_code < 500, where
                assert SECRET not in response.get_data(as_text=True), where
                if rule.arguments & set(ids):
                    assert response.status_code == 404, where
                checked += 1
    assert snapshot(app, f"t_{globex.id}") == before
    assert checked >= 20


def test_every_tenant_route_is_under_the_slug(app):
    """Tenant pages only exist under /<slug>/, where the resolver binds the tenant and checks membership; the API's
    routes under /api/v1/, where the bearer token binds it (crm/api/core.py `authenticate`); the operator console's
    under /platform/, for operators only."""
    public = {"static", "health.healthz", "metrics.scrape", "accounts.home", "accounts.signup", "accounts.check_slug",
              "accounts.login",
              "accounts.signup_places", "accounts.logout", "accounts.workspaces", "accounts.forgot_password",
              "accounts.reset_password",
              "accounts.set_language", "accounts.account", "accounts.change_password", "accounts.end_session",
              "accounts.end_other_sessions", "dev.outbox", "csp.csp_report", "invitations.accept", "order_status.show",
              "order_payment.pay", "stripe_webhooks.receive", "billing_webhook.receive",
              "calendar_feed.show",
              "ticket_survey.show", "ticket_survey.rate",
              "unsubscribe.show", "unsubscribe.confirm", "two_factor.code",
              "two_factor.setup", "two_factor.enable", "two_factor.disable"}
    from crm.api.core import authenticate
    from crm.platform.views import operators_only

    public |= {"api-docs.openapi_json", "api_docs.reference"}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in public:
            continue
        if rule.rule.startswith("/platform/"):  # the operator console: operators only, every tenant's counts
            assert operators_only in app.before_request_funcs.get("platform", []), rule.rule
        elif rule.rule.startswith("/api/v1/"):
            assert authenticate in app.before_request_funcs.get(rule.endpoint.split(".")[0], []), rule.rule
        else:
            assert re.match(r"^/<slug>/", rule.rule), rule.rule
