"""Custom fields of deals and orders: defined in Settings > Fields (?entity=), filled in on the deal and order
forms with the customers' rules (422 at the field, nothing saved), shown on their pages, audited."""
import re

import pytest
from sqlalchemy import func, select

from crm.audit.models import AuditEntry
from crm.extensions import db
from crm.fields.models import CustomField
from crm.orders.models import Order
from crm.deals.models import Deal, Stage
from tests.conftest import HX

LINE = {"line_key": "a0", "line_product_id": "", "line_description": "Green tea", "line_unit": "",
        "line_quantity": "3", "line_unit_price": "19.99", "line_discount": ""}


def add_field(admin, acme, entity: str | None, **form):
    """Add a field through Settings > Fields; it goes back to the tab of its record kind."""
    data = {"label_en": "Field", "type": "text", **form}
    if entity:
        data["entity"] = entity
    response = admin.post(f"/{acme.slug}/settings/fields/", data=data)
    assert response.status_code == 303, response.text
    wanted = f"/{acme.slug}/settings/fields/" + (f"?entity={entity}" if entity and entity != "customer" else "")
    assert response.headers["Location"] == wanted
    assert f"Field {data['label_en']} added." in admin.get(wanted).text  # (the message is shown, and gone)
    return response


@pytest.fixture
def defined(acme, admin):
    """A customer field, and for deals and for orders a required select and a number field."""
    add_field(admin, acme, None, label_en="Loyalty tier", key="tier", type="select", new_options="Bronze\nIron")
    add_field(admin, acme, "deal", label_en="Deal tier", key="tier", type="select", required="on",
              new_options="Gold | 金牌\nSilver | 银牌")
    add_field(admin, acme, "deal", label_en="Seats", key="seats", type="number")
    add_field(admin, acme, "order", label_en="Sales channel", key="channel", type="select", required="on",
              new_options="Online | 网店\nShop | 门店")
    add_field(admin, acme, "order", label_en="Boxes", key="boxes", type="number")


def at_field(page: str, name: str) -> str:
    """The markup of the form field that holds the input `name` (its label, input, hint and error)."""
    chunks = [c for c in page.split('<div class="field')[1:] if f'name="{name}"' in c]
    assert len(chunks) == 1, f"{name} is not in the form once"
    return chunks[0]


def first_stage(in_tenant, acme) -> int:
    return in_tenant(acme, lambda: db.session.scalar(select(Stage.id).where(Stage.kind == "open")
                                                      .order_by(Stage.pipeline_id, Stage.position)))


def count(in_tenant, acme, model, *where) -> int:
    return in_tenant(acme, lambda: db.session.scalar(select(func.count()).select_from(model).where(*where)))


def deal_form(customer_id, stage_id, **custom) -> dict:
    return {"title": "Office chairs", "customer_id": str(customer_id), "stage_id": str(stage_id), "amount": "100",
            "currency": "CNY", **custom}


def order_form(customer_id, **custom) -> dict:
    return {"customer_id": str(customer_id), "currency": "CNY", "delivery_date": "", "notes": "", **LINE, **custom}


def test_settings_keep_each_record_kinds_fields_apart(acme, admin, defined, in_tenant):
    customers = admin.get(f"/{acme.slug}/settings/fields/").text
    deals = admin.get(f"/{acme.slug}/settings/fields/?entity=deal").text
    orders = admin.get(f"/{acme.slug}/settings/fields/?entity=order").text
    assert "Custom fields for customers" in customers and "Loyalty tier" in customers
    assert "Deal tier" not in customers and "Sales channel" not in customers and "Built-in fields" in customers
    assert "Custom fields for deals" in deals and "Deal tier" in deals and "Seats" in deals
    assert "Loyalty tier" not in deals and "Sales channel" not in deals and "Built-in fields" not in deals
    assert "Custom fields for orders" in orders and "Sales channel" in orders and "Boxes" in orders
    assert "Deal tier" not in orders and "Loyalty tier" not in orders
    assert re.search(rf'href="/{acme.slug}/settings/fields/\?entity=deal" aria-current="page"', deals)
    assert f'href="/{acme.slug}/settings/fields/" aria-current="page"' in customers
    # The same key may be used once per record kind, not twice in one.
    again = admin.post(f"/{acme.slug}/settings/fields/", data={"entity": "deal", "label_en": "Tier 2",
                                                               "key": "tier", "type": "text"})
    assert again.status_code == 422 and "A field with this key exists." in again.text
    assert 'name="entity" value="deal"' in again.text
    # The deal form asks nothing that only customers' lists and encrypted values need.
    new_deal_field = admin.get(f"/{acme.slug}/settings/fields/new?entity=deal").text
    assert 'name="entity" value="deal"' in new_deal_field and "Add a field to deals" in new_deal_field
    assert 'name="sensitive"' not in new_deal_field and 'name="in_list"' not in new_deal_field
    assert 'name="sensitive"' in admin.get(f"/{acme.slug}/settings/fields/new").text
    add_field(admin, acme, "order", label_en="Secret", key="secret", type="text", sensitive="on", in_list="on")
    secret = in_tenant(acme, lambda: db.session.execute(select(
        CustomField.entity, CustomField.sensitive, CustomField.in_list).where(CustomField.key == "secret")).one())
    assert tuple(secret) == ("order", False, False)
    # An unknown kind shows the customers' fields.
    assert "Loyalty tier" in admin.get(f"/{acme.slug}/settings/fields/?entity=ticketz").text


def test_forms_show_only_their_own_kinds_fields(acme, admin, defined, make_customer):
    customer_id = make_customer(acme)
    deal = admin.get(f"/{acme.slug}/deals/new", headers=HX).text
    order = admin.get(f"/{acme.slug}/orders/new?customer_id={customer_id}").text
    customer = admin.get(f"/{acme.slug}/customers/new", headers=HX).text
    assert "Deal tier *" in deal and "Seats" in deal and 'value="gold"' in deal
    assert "Loyalty tier" not in deal and "Sales channel" not in deal and "Boxes" not in deal
    assert "Sales channel *" in order and "Boxes" in order and 'value="online"' in order
    assert "Loyalty tier" not in order and "Deal tier" not in order and "Seats" not in order
    assert "Loyalty tier" in customer and "Deal tier" not in customer and "Sales channel" not in customer


def test_deal_custom_fields_validate_store_show_and_audit(acme, admin, defined, make_customer, in_tenant):
    customer_id, stage_id = make_customer(acme), first_stage(in_tenant, acme)
    missing = admin.post(f"/{acme.slug}/deals/", headers=HX, data=deal_form(customer_id, stage_id, custom_seats="12"))
    assert missing.status_code == 422
    tier = at_field(missing.text, "custom_tier")
    assert tier.startswith(' has-error"')
    assert '<small class="error" role="alert">This field is required.</small>' in tier
    assert 'value="12"' in at_field(missing.text, "custom_seats")  # what was typed stays
    assert count(in_tenant, acme, Deal) == 0 and count(in_tenant, acme, AuditEntry, AuditEntry.entity == "deal") == 0

    bad = admin.post(f"/{acme.slug}/deals/", headers=HX,
                     data=deal_form(customer_id, stage_id, custom_tier="gold", custom_seats="twelve", title=""))
    assert bad.status_code == 422
    seats = at_field(bad.text, "custom_seats")
    assert "Enter a number, e.g. 12 or 3.5." in seats and 'value="twelve"' in seats
    assert "This field is required." in at_field(bad.text, "title")  # the deal's own errors come too
    assert "This field is required." not in at_field(bad.text, "custom_tier")
    nothing = admin.post(f"/{acme.slug}/deals/", headers=HX,
                         data=deal_form(customer_id, stage_id, custom_tier="platinum", custom_seats="1"))
    assert nothing.status_code == 422 and "Choose one of the listed values." in at_field(nothing.text, "custom_tier")
    assert count(in_tenant, acme, Deal) == 0

    good = admin.post(f"/{acme.slug}/deals/", headers=HX,
                      data=deal_form(customer_id, stage_id, custom_tier="gold", custom_seats="1,234.5"))
    assert good.status_code == 204, good.text
    deal_id = in_tenant(acme, lambda: db.session.scalar(select(Deal.id)))
    assert in_tenant(acme, lambda: db.session.get(Deal, deal_id).custom) == {"tier": "gold", "seats": 1234.5}
    page = admin.get(f"/{acme.slug}/deals/{deal_id}").text
    assert "Deal tier" in page and "Gold" in page and "1234.5" in page and "Loyalty tier" not in page
    created = in_tenant(acme, lambda: db.session.scalar(select(AuditEntry.changes).where(
        AuditEntry.entity == "deal", AuditEntry.action == "create")))
    assert created == {"custom.tier": [None, "gold"], "custom.seats": [None, 1234.5]}

    edit = admin.get(f"/{acme.slug}/deals/{deal_id}/edit", headers=HX).text
    assert 'value="gold" selected' in edit and 'value="1234.5"' in at_field(edit, "custom_seats")
    refused = admin.post(f"/{acme.slug}/deals/{deal_id}", headers=HX,
                         data=deal_form(customer_id, stage_id, custom_tier="silver", custom_seats="a lot"))
    assert refused.status_code == 422 and "Enter a number" in at_field(refused.text, "custom_seats")
    assert in_tenant(acme, lambda: db.session.get(Deal, deal_id).custom) == {"tier": "gold", "seats": 1234.5}
    saved = admin.post(f"/{acme.slug}/deals/{deal_id}", headers=HX,
                       data=deal_form(customer_id, stage_id, custom_tier="silver", custom_seats=""))
    assert saved.status_code == 204
    assert in_tenant(acme, lambda: db.session.get(Deal, deal_id).custom) == {"tier": "silver"}
    changed = in_tenant(acme, lambda: db.session.scalar(select(AuditEntry.changes).where(
        AuditEntry.entity == "deal", AuditEntry.action == "update")))
    assert changed == {"custom.tier": ["gold", "silver"], "custom.seats": [1234.5, None]}
    admin.post("/language", data={"language": "zh"})
    assert "银牌" in admin.get(f"/{acme.slug}/deals/{deal_id}").text


def test_order_custom_fields_validate_store_show_and_audit(acme, admin, defined, make_customer, in_tenant):
    customer_id = make_customer(acme, name="王芳")
    missing = admin.post(f"/{acme.slug}/orders/", headers=HX, data=order_form(customer_id, custom_boxes="4"))
    assert missing.status_code == 422
    channel = at_field(missing.text, "custom_channel")
    assert channel.startswith(' has-error"') and "This field is required." in channel
    assert "Nothing was saved." in missing.text and 'value="4"' in at_field(missing.text, "custom_boxes")
    assert count(in_tenant, acme, Order) == 0 and count(in_tenant, acme, AuditEntry, AuditEntry.entity == "order") == 0

    bad = admin.post(f"/{acme.slug}/orders/", headers=HX,
                     data=order_form(customer_id, custom_channel="shop", custom_boxes="four", line_quantity="0"))
    assert bad.status_code == 422
    assert "Enter a number, e.g. 12 or 3.5." in at_field(bad.text, "custom_boxes")
    assert "Enter a quantity above zero" in bad.text  # the lines' errors come too
    assert count(in_tenant, acme, Order) == 0

    good = admin.post(f"/{acme.slug}/orders/", data=order_form(customer_id, custom_channel="shop", custom_boxes="4"))
    assert good.status_code == 303, good.text
    order_id = int(good.headers["Location"].rsplit("/", 1)[1])
    assert in_tenant(acme, lambda: db.session.get(Order, order_id).custom) == {"channel": "shop", "boxes": 4}
    page = admin.get(good.headers["Location"]).text
    assert "Sales channel" in page and "Shop" in page and "Boxes" in page and "Deal tier" not in page
    created = in_tenant(acme, lambda: db.session.scalar(select(AuditEntry.changes).where(
        AuditEntry.entity == "order", AuditEntry.action == "create")))
    assert created["custom.channel"] == [None, "shop"] and created["custom.boxes"] == [None, 4]

    # Custom fields stay editable once the order has left "placed" (its lines do not).
    assert admin.post(f"/{acme.slug}/orders/{order_id}/status", data={"to": "shipped"}).status_code == 303
    edit = admin.get(f"/{acme.slug}/orders/{order_id}/edit").text
    assert 'value="shop" selected' in edit and 'value="4"' in at_field(edit, "custom_boxes")
    refused = admin.post(f"/{acme.slug}/orders/{order_id}", headers=HX,
                         data={"currency": "CNY", "custom_channel": "", "custom_boxes": "5"})
    assert refused.status_code == 422 and "This field is required." in at_field(refused.text, "custom_channel")
    assert in_tenant(acme, lambda: db.session.get(Order, order_id).custom) == {"channel": "shop", "boxes": 4}
    saved = admin.post(f"/{acme.slug}/orders/{order_id}", data={"custom_channel": "online", "custom_boxes": "5"})
    assert saved.status_code == 303
    assert in_tenant(acme, lambda: db.session.get(Order, order_id).custom) == {"channel": "online", "boxes": 5}
    changed = in_tenant(acme, lambda: db.session.scalar(select(AuditEntry.changes).where(
        AuditEntry.entity == "order", AuditEntry.action == "update", AuditEntry.changes.has_key("custom.boxes"))))
    assert changed == {"custom.channel": ["shop", "online"], "custom.boxes": [4, 5]}
    # The customer's status link shows none of it.
    admin.post(f"/{acme.slug}/orders/{order_id}/link")
    link = re.search(r'id="public-link-url" class="public-link-url" readonly value="http://[^/]+(/o/[^"]+)"',
                     admin.get(f"/{acme.slug}/orders/{order_id}").text)[1]
    public = admin.get(link).text
    assert "SO-" in public and "Online" not in public and "Sales channel" not in public


def test_customer_fields_stay_on_customers(acme, admin, defined, in_tenant):
    created = admin.post(f"/{acme.slug}/customers/", headers=HX, data={"name": "Tiered Co", "custom_tier": "iron"})
    assert created.status_code == 204  # the deals' required "tier" is not asked of customers
    page = admin.get(created.headers["HX-Location"]).text
    assert "Loyalty tier" in page and "Iron" in page and "Deal tier" not in page and "Sales channel" not in page
    refused = admin.post(f"/{acme.slug}/customers/", headers=HX, data={"name": "Gold Co", "custom_tier": "gold"})
    assert refused.status_code == 422 and "Choose one of the listed values." in at_field(refused.text, "custom_tier")


def test_type_change_and_order_of_fields_follow_their_kind(acme, admin, defined, make_customer, in_tenant):
    customer_id, stage_id = make_customer(acme), first_stage(in_tenant, acme)
    add_field(admin, acme, "deal", label_en="Code", key="code", type="text")
    admin.post(f"/{acme.slug}/deals/", data=deal_form(customer_id, stage_id, title="Misfit deal", custom_tier="gold",
                                                      custom_code="abc"))
    field_id = in_tenant(acme, lambda: db.session.scalar(select(CustomField.id).where(
        CustomField.entity == "deal", CustomField.key == "code")))
    refused = admin.post(f"/{acme.slug}/settings/fields/{field_id}", data={"label_en": "Code", "type": "number"})
    assert refused.status_code == 422 and "1 stored values do not fit" in refused.text
    assert "Misfit deal" in refused.text
    # Moving a deal field up swaps it with the deal field above, whatever the customers' fields are.
    seats_id = in_tenant(acme, lambda: db.session.scalar(select(CustomField.id).where(
        CustomField.entity == "deal", CustomField.key == "seats")))
    moved = admin.post(f"/{acme.slug}/settings/fields/{seats_id}/move", data={"direction": "up"})
    assert moved.status_code == 303 and moved.headers["Location"].endswith("/settings/fields/?entity=deal")
    form = admin.get(f"/{acme.slug}/deals/new", headers=HX).text
    assert form.index('name="custom_seats"') < form.index('name="custom_tier"') < form.index('name="custom_code"')
    archived = admin.post(f"/{acme.slug}/settings/fields/{field_id}/archive")
    assert archived.headers["Location"].endswith("?entity=deal")
    assert 'name="custom_code"' not in admin.get(f"/{acme.slug}/deals/new", headers=HX).text
