"""Read-only is enforced in one place for pages (billing's `member_bound` receiver) and one for the API (its
authentication), before any view: every write route of the URL map is refused with the banner's words, without
listing routes, so a new route is covered; every read still answers; nothing is changed."""
from html import unescape

import pytest
from werkzeug.routing import AnyConverter, IntegerConverter

from crm.billing import service
from crm.extensions import db
from tests.billing.conftest import days
from tests.billing.test_standing import api_token
from tests.conftest import HX
from tests.test_isolation import api_rules

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
READ_ONLY = "This workspace is read-only"


def url_for_any(app, rule, slug: str | None = None) -> str:
    """The rule's address with a value of the right kind for each part (the refusal comes before any lookup)."""
    values = {}
    for name, converter in rule._converters.items():
        if name == "slug":
            values[name] = slug
        elif isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0] if hasattr(converter, "items") else "x"
        elif isinstance(converter, IntegerConverter) or converter.regex == r"\d+":
            values[name] = 1
        else:
            values[name] = "x"
    with app.test_request_context():
        return app.url_for(rule.endpoint, **values)


@pytest.fixture
def read_only(app, acme, billing_on):
    with app.app_context():
        service.mark_past_due(acme.id, since=days(-30))
        db.session.commit()
    return acme


def counts(app, tenant) -> str:
    """Every table's row count in the tenant's schema (what a refused write must leave as it was); the audit log
    aside, which records reads too (the sign-in, each export)."""
    with app.app_context(), db.engine.connect() as connection:
        tables = connection.execute(db.text("select tablename from pg_tables where schemaname = :s order by 1"),
                                    {"s": f"t_{tenant.id}"}).scalars().all()
        return ",".join(f"{t}={connection.execute(db.text(f'select count(*) from t_{tenant.id}.{t}')).scalar()}"
                        for t in tables if t not in ("alembic_version", "audit_log"))


def test_every_page_write_is_refused_and_every_read_answers(app, read_only, admin, make_customer):
    make_customer(read_only, name="Kept")
    before = counts(app, read_only)
    with app.test_request_context():
        rules = [r for r in app.url_map.iter_rules() if "slug" in r.arguments]
    refused = 0
    for rule in rules:
        url = url_for_any(app, rule, read_only.slug)
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods & WRITES):
            response = admin.open(url, method=method, data={"name": "Changed"}, headers=HX)
            where = f"{method} {rule.rule} -> {response.status_code}"
            if getattr(view, "open_when_read_only", False):
                assert response.status_code != 402, where
                continue
            assert response.status_code == 402, where
            assert READ_ONLY in unescape(response.text), where
            refused += 1
        if "GET" in rule.methods:
            response = admin.get(url)
            response.get_data()  # a streamed export runs to its end
            assert response.status_code != 402, f"GET {rule.rule} -> {response.status_code}"
    assert refused > 100
    assert counts(app, read_only) == before


def test_every_api_write_is_refused_with_a_problem(app, read_only, in_tenant):
    headers = api_token(app, in_tenant, read_only)
    refused = 0
    for rule in api_rules(app):
        url = url_for_any(app, rule)
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods & WRITES):
            response = app.test_client().open(url, method=method, json={"name": "Changed"}, headers=headers)
            where = f"{method} {rule.rule} -> {response.status_code}"
            if getattr(view, "open_when_read_only", False):
                assert response.status_code != 402, where
                continue
            assert response.status_code == 402 and response.content_type == "application/problem+json", where
            assert READ_ONLY in response.get_json()["detail"], where
            refused += 1
        if "GET" in rule.methods:
            assert app.test_client().get(url, headers=headers).status_code != 402, f"GET {rule.rule}"
    assert refused >= 10
