"""The product catalogue: modal create/edit with errors at the field, unique SKUs, search, deactivation and
who may do what."""
import re
from decimal import Decimal

from sqlalchemy import select

from crm.audit.models import AuditEntry
from crm.extensions import db
from crm.products.models import Product


def products(in_tenant, tenant) -> list[tuple]:
    return in_tenant(tenant, lambda: [(p.name, p.sku, p.unit, p.price, p.active) for p in
                                      db.session.scalars(select(Product).order_by(Product.id))])


def test_admin_adds_a_product_from_the_modal(app, acme, client_as, in_tenant):
    client = client_as(acme.admin_account_id)
    form = client.get(f"/{acme.slug}/products/new", headers={"HX-Request": "true"})
    assert form.status_code == 200 and 'id="modal-title"' in form.text and "<html" not in form.text
    response = client.post(f"/{acme.slug}/products/", headers={"HX-Request": "true"},
                           data={"name": " 龙井 Longjing ", "sku": "LJ-250", "unit": "tin", "price": "1,288.5"})
    assert response.status_code == 204 and response.headers["HX-Location"].endswith(f"/{acme.slug}/products/")
    assert products(in_tenant, acme) == [("龙井 Longjing", "LJ-250", "tin", Decimal("1288.50"), True)]
    page = client.get(f"/{acme.slug}/products/")
    assert "Product 龙井 Longjing added." in page.text and "CN¥1,288.50" in page.text
    assert in_tenant(acme, lambda: db.session.scalar(select(AuditEntry.summary).where(
        AuditEntry.entity == "product", AuditEntry.action == "create"))) == "龙井 Longjing"


def test_bad_product_input_answers_422_at_the_field(app, acme, make_product, client_as, in_tenant):
    make_product(acme, name="Existing", sku="SKU-1")
    client = client_as(acme.admin_account_id)
    for data, message in (({"name": "", "price": "1"}, "Name is required."),
                          ({"name": "X", "sku": "SKU-1", "price": "1"}, "Another product already has this SKU."),
                          ({"name": "X", "price": "abc"}, "Enter an amount like 19.99"),
                          ({"name": "X", "price": "1.999"}, "Enter an amount like 19.99"),
                          ({"name": "X", "price": "-3"}, "Enter an amount like 19.99"),
                          ({"name": "X", "price": ""}, "Enter an amount."),
                          ({"name": "X", "price": "1000000000000"}, "This amount is too large.")):
        response = client.post(f"/{acme.slug}/products/", data=data, headers={"HX-Request": "true"})
        assert response.status_code == 422, data
        assert message in response.text and 'aria-invalid="true"' in response.text, data
    assert [row[0] for row in products(in_tenant, acme)] == ["Existing"]


def test_skus_are_unique_per_tenant_and_optional(app, acme, globex, make_product, client_as, in_tenant):
    make_product(acme, name="A", sku="SAME")
    make_product(globex, name="B", sku="SAME")
    make_product(acme, name="No SKU 1")
    make_product(acme, name="No SKU 2", sku="  ")
    assert [row[1] for row in products(in_tenant, acme)] == ["SAME", None, None]


def test_edit_keeps_what_past_orders_say(app, acme, make_product, make_customer, make_order, client_as, in_tenant):
    product_id = make_product(acme, name="Black tea", price="10.00")
    order_id = make_order(acme, make_customer(acme), lines=[{"product_id": str(product_id), "quantity": "1"}])
    client = client_as(acme.admin_account_id)
    form = client.get(f"/{acme.slug}/products/{product_id}/edit")
    assert 'value="10.00"' in form.text and 'value="Black tea"' in form.text
    response = client.post(f"/{acme.slug}/products/{product_id}", data={"name": "Black tea 2026", "price": "12"})
    assert response.status_code == 303
    assert products(in_tenant, acme)[0][:4] == ("Black tea 2026", None, None, Decimal("12.00"))
    order_page = client.get(f"/{acme.slug}/orders/{order_id}")
    assert "Black tea" in order_page.text and "Black tea 2026" not in order_page.text and "CN¥10.00" in order_page.text


def test_deactivate_hides_a_product_until_shown_and_reactivated(app, acme, make_product, client_as, in_tenant):
    product_id = make_product(acme, name="Seasonal tea")
    client = client_as(acme.admin_account_id)
    response = client.post(f"/{acme.slug}/products/{product_id}/active", data={"active": "0"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/products/?all=1")
    assert products(in_tenant, acme)[0][4] is False
    shown = client.get(response.headers["Location"])
    assert "Seasonal tea deactivated" in shown.text and re.search(r'class="inactive".*Inactive', shown.text, re.DOTALL)
    assert "Seasonal tea" not in client.get(f"/{acme.slug}/products/").text
    client.post(f"/{acme.slug}/products/{product_id}/active", data={"active": "1"})
    assert products(in_tenant, acme)[0][4] is True


def test_search_by_name_or_sku(app, acme, make_product, client_as):
    make_product(acme, name="Green tea 绿茶", sku="GT-1")
    make_product(acme, name="Oolong", sku="OO-7")
    client = client_as(acme.admin_account_id)

    def names(q: str) -> list[str]:
        page = client.get(f"/{acme.slug}/products/?q={q}", headers={"HX-Request": "true"})
        return re.findall(r'<span class="strong">([^<]+)</span>', page.text)

    assert names("绿茶") == ["Green tea 绿茶"]
    assert names("oo-7") == ["Oolong"]
    assert names("100%_") == []
    assert names("") == ["Green tea 绿茶", "Oolong"]


def test_reps_see_the_catalogue_but_may_not_change_it(app, acme, add_member, make_product, client_as, in_tenant):
    account, _rep = add_member(acme, "sales_rep", "Rita Rep")
    product_id = make_product(acme, name="Tea for all")
    client = client_as(account)
    page = client.get(f"/{acme.slug}/products/")
    assert page.status_code == 200 and "Tea for all" in page.text and "New product" not in page.text
    assert client.get(f"/{acme.slug}/products/new").status_code == 403
    assert client.post(f"/{acme.slug}/products/", data={"name": "Mine", "price": "1"}).status_code == 403
    assert client.post(f"/{acme.slug}/products/{product_id}/active", data={"active": "0"}).status_code == 403
    assert products(in_tenant, acme)[0][4] is True
