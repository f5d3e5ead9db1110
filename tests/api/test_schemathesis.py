"""Schemathesis reads /api/v1/openapi.json and calls every operation with generated data, as an admin and as a
sales rep (their own tokens, in a workspace with customers of several owners): no answer is a 5xx, every answer
matches the document (status, content type, headers, body), and an operation called without the token is refused."""
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.routes import make_records, make_world
from tests.test_permissions import api_token

schema = schemathesis.pytest.from_fixture("api_schema")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, ignored_auth]


@pytest.fixture(scope="module")
def callers(app):
    """Bearer headers of an admin and a sales rep of one workspace with customers to find (the rep owns one)."""
    world = make_world(app)
    rep = world["actors"]["sales_rep"][1]
    make_records(app, world, rep)
    limit = app.config["API_RATE_LIMIT"]
    app.config["API_RATE_LIMIT"] = "100000 per minute"  # generated calls come fast; the limit has its own test
    yield {role: {"Authorization": f"Bearer {api_token(app, world, world['actors'][role][1])}"}
           for role in ("admin", "sales_rep")}
    app.config["API_RATE_LIMIT"] = limit


@pytest.fixture
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented_for_an_admin_and_a_rep(case, callers):
    for headers in callers.values():
        case.call_and_validate(headers=headers, checks=CHECKS)
