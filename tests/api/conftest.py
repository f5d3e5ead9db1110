"""The API tests' client (no cookies: the API reads only bearer tokens) and Acme's admin token."""
import pytest


@pytest.fixture
def api(app):
    return app.test_client()


@pytest.fixture
def token(acme, make_api_token):
    return make_api_token(acme)
