"""The signed public status link: what it shows (only the order's status and dates), to whom (anyone with
the link, signed in or not), and that tampered, foreign, unknown or revoked links are the same 404."""
import re

import pytest

from crm.extensions import db
from crm.orders.models import Order


def make_link(client, tenant, order_id) -> str:
    """Create the order's status link through its page; returns the link's path (/o/...)."""
    response = client.post(f"/{tenant.slug}/orders/{order_id}/link")
    assert response.status_code == 303
    return current_link(client, tenant, order_id)


def current_link(client, tenant, order_id) -> str | None:
    page = client.get(f"/{tenant.slug}/orders/{order_id}")
    base = re.escape(client.application.config["BASE_URL"])  # where the app is served, not the request's host
    found = re.search(rf'id="public-link-url" class="public-link-url" readonly value="{base}(/o/[^"]+)"', page.text)
    return found[1] if found else None


@pytest.fixture
def shipped_order(acme, make_customer, make_order, client_as):
    """An order of 王芳 (with her phone), moved to shipped, with a status link; (order id, link path)."""
    customer_id = make_customer(acme, name="王芳 Wang Fang", phone="13900001234", company="芳华 Ltd")
    order_id = make_order(acme, customer_id, delivery_date="2026-12-24", notes="Secret note for staff")
    client = client_as(acme.admin_account_id)
    client.post(f"/{acme.slug}/orders/{order_id}/status", data={"to": "shipped", "note": "Internal courier note"})
    return order_id, make_link(client, acme, order_id)


def test_the_link_shows_status_history_and_delivery_date_to_anyone(app, acme, shipped_order):
    _order_id, link = shipped_order
    assert re.fullmatch(rf"/o/{acme.id}\.\d+\.[A-Za-z0-9_-]{{43}}", link)
    page = app.test_client().get(link)  # nobody signed in
    assert page.status_code == 200
    assert "SO-000001" in page.text and "Acme 贸易" in page.text
    assert re.search(r'id="order-status">Shipped<', page.text)
    assert re.findall(r'class="order-status order-status-(\w+)">', page.text) == ["shipped", "placed"]
    assert len(re.findall(r"<time ", page.text)) == 2 and "Dec 24, 2026" in page.text
    assert page.headers["Cache-Control"] == "no-store"


def test_the_link_shows_no_customer_data_no_prices_and_no_way_into_the_app(app, acme, shipped_order):
    _order_id, link = shipped_order
    text = app.test_client().get(link).text
    for secret in ("王芳", "Wang Fang", "13900001234", "139 0000 1234", "芳华", "19.99", "50.97", "CN¥", "¥",
                   "Green tea", "Ada Admin", "Secret note", "Internal courier", acme.slug):
        assert secret not in text, secret
    assert all(href.startswith("/static/") for href in re.findall(r'href="([^"]*)"', text))
    assert "<form" not in text and "<script" not in text and "<a " not in text


def test_the_link_follows_the_browsers_language(app, acme, shipped_order):
    _order_id, link = shipped_order
    chinese = app.test_client().get(link, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert chinese.status_code == 200 and '<html lang="zh-CN">' in chinese.text
    assert re.search(r"<time [^>]*>2026/\d{1,2}/\d{1,2}", chinese.text)  # dates the Chinese way
    english = app.test_client().get(link, headers={"Accept-Language": "en-US"})
    assert '<html lang="en">' in english.text


def test_a_signed_in_member_of_another_tenant_sees_the_same_page(app, acme, globex, shipped_order, client_as):
    _order_id, link = shipped_order
    page = client_as(globex.admin_account_id).get(link)
    assert page.status_code == 200 and "SO-000001" in page.text and "Globex" not in page.text


def tampered(token: str) -> list[str]:
    tenant_id, order_id, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return [f"{tenant_id}.{order_id}.{flipped}", f"{tenant_id}.{order_id}.{signature[:-1]}",
            f"{tenant_id}.{order_id}.{signature}x", f"{tenant_id}.{int(order_id) + 1}.{signature}",
            f"{tenant_id}.{order_id}", f"{tenant_id}.0{order_id}.{signature}", token.upper(), "x", "1.1.1",
            f"{tenant_id}.{order_id}.{signature}.", f"99999999.{order_id}.{signature}",
            f"{tenant_id}.99999999999.{signature}"]


def same_page(text: str) -> str:
    """The page without what differs per request: the address asked for and the time-signed CSRF tokens."""
    text = re.sub(r'name="(next|csrf_token)" value="[^"]*"', "", text)
    return re.sub(r'"X-CSRFToken": "[^"]*"', "", text)


def test_tampered_and_malformed_tokens_are_not_found(app, acme, shipped_order):
    _order_id, link = shipped_order
    client = app.test_client()
    not_found = client.get("/o/nothing-here")
    assert not_found.status_code == 404
    for token in tampered(link.removeprefix("/o/")):
        response = client.get(f"/o/{token}")
        assert response.status_code == 404, token
        assert same_page(response.text) == same_page(not_found.text), token


def test_another_orders_signature_does_not_open_this_order(app, acme, make_customer, make_order, client_as):
    client = client_as(acme.admin_account_id)
    first = make_order(acme, make_customer(acme))
    second = make_order(acme, make_customer(acme))
    first_link, second_link = make_link(client, acme, first), make_link(client, acme, second)
    tenant_id, _id, first_signature = first_link.removeprefix("/o/").split(".")
    assert app.test_client().get(f"/o/{tenant_id}.{second}.{first_signature}").status_code == 404
    assert app.test_client().get(second_link).status_code == 200


def test_a_token_naming_another_tenant_is_not_found(app, acme, globex, make_customer, make_order, client_as):
    """Globex has an order with the same id and a live link; Acme's signature does not open it."""
    acme_link = make_link(client_as(acme.admin_account_id), acme, make_order(acme, make_customer(acme)))
    globex_order = make_order(globex, make_customer(globex, name="Globex buyer"))
    globex_link = make_link(client_as(globex.admin_account_id), globex, globex_order)
    _tenant, order_id, signature = acme_link.removeprefix("/o/").split(".")
    assert int(order_id) == globex_order
    assert app.test_client().get(f"/o/{globex.id}.{order_id}.{signature}").status_code == 404
    assert app.test_client().get(globex_link).status_code == 200


def test_revoked_and_replaced_links_are_not_found(app, acme, shipped_order, client_as, in_tenant):
    order_id, link = shipped_order
    client = client_as(acme.admin_account_id)
    replaced = make_link(client, acme, order_id)
    assert replaced != link
    assert app.test_client().get(link).status_code == 404
    assert app.test_client().get(replaced).status_code == 200

    assert client.post(f"/{acme.slug}/orders/{order_id}/link/revoke").status_code == 303
    assert app.test_client().get(replaced).status_code == 404
    assert current_link(client, acme, order_id) is None
    assert in_tenant(acme, lambda: db.session.get(Order, order_id).link_nonce) is None
    assert "Create status link" in client.get(f"/{acme.slug}/orders/{order_id}").text


def test_a_suspended_workspaces_links_are_not_found(app, acme, shipped_order):
    from sqlalchemy import update

    from tenants.models import Tenant

    _order_id, link = shipped_order
    with app.app_context():
        db.session.execute(update(Tenant).where(Tenant.id == acme.id).values(status="suspended"))
        db.session.commit()
    assert app.test_client().get(link).status_code == 404
