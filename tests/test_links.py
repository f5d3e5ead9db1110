"""Links that leave the app (email, SMS, bots, the inbox) start with BASE_URL, in a request or a job alike; the run
command makes BASE_URL the address it serves on, its PORT included."""
import pytest

from config import Config
from crm.web import absolute_url
from scripts.run import address
from tenants.binding import tenant_bound


def test_an_endpoint_or_a_path_on_the_base_url(app, acme, monkeypatch):
    monkeypatch.setitem(app.config, "BASE_URL", "https://crm.example.com/")
    with app.app_context(), tenant_bound(acme.ref):  # as in a job: no request, the tenant bound
        assert absolute_url("followups.index") == f"https://crm.example.com/{acme.slug}/activities/"
        assert absolute_url("customers.show", customer_id=7) == f"https://crm.example.com/{acme.slug}/customers/7"
        assert absolute_url("unsubscribe.show", token="1.2.x", lang="zh") == "https://crm.example.com/u/1.2.x?lang=zh"
        assert absolute_url("/o/1.2.x") == "https://crm.example.com/o/1.2.x"


def test_a_base_url_with_a_path_keeps_it(app, monkeypatch):
    monkeypatch.setitem(app.config, "BASE_URL", "https://example.com/crm")
    with app.app_context():
        assert absolute_url("accounts.reset_password", token="t") == "https://example.com/crm/password/reset/t"
        assert absolute_url("/o/1.2.x") == "https://example.com/crm/o/1.2.x"


def test_a_request_from_another_host_does_not_change_the_links(app, monkeypatch):
    monkeypatch.setitem(app.config, "BASE_URL", "https://crm.example.com")
    with app.test_request_context("/", base_url="http://attacker.example:8080"):
        assert absolute_url("accounts.login") == "https://crm.example.com/login"


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, (5000, "http://127.0.0.1:5000")),
    ({"PORT": "5123"}, (5123, "http://127.0.0.1:5123")),
    ({"PORT": "5123", "BASE_URL": "https://crm.example.com"}, (5123, "https://crm.example.com")),
])
def test_the_run_command_serves_on_port_and_links_follow(environ, expected):
    assert address(environ) == expected


def test_with_port_5123_a_reminder_links_to_5123(app, acme, monkeypatch):
    """What the run command hands the app and its worker (the environment) reaches the links jobs write."""
    _port, base = address({"PORT": "5123"})
    monkeypatch.setitem(app.config, "BASE_URL", Config({"BASE_URL": base}).BASE_URL)
    with app.app_context(), tenant_bound(acme.ref):
        assert absolute_url("followups.index") == f"http://127.0.0.1:5123/{acme.slug}/activities/"
