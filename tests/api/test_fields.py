"""/api/v1/fields: the custom field definitions of customers, deals and orders as Settings → Fields defines them
(archived ones left out), readable by whoever may view those records."""
from crm.extensions import db
from crm.fields import definitions
from tests.conftest import bearer


def test_each_record_kinds_fields_come_in_their_order_with_their_options(acme, api, token, in_tenant):
    def define():
        definitions.save_field(None, {"key": "erp_code", "label_en": "ERP code", "label_zh": "ERP 编码",
                                      "type": "text", "required": "on", "help_en": "From Kingdee"})
        definitions.save_field(None, {"label_en": "Grade", "type": "select", "new_options": "Gold|金牌\nSilver"})
        retired = definitions.save_field(None, {"key": "old", "label_en": "Old", "type": "text"})
        definitions.archive(retired)
        definitions.save_field(None, {"key": "incoterm", "label_en": "Incoterm", "type": "text"}, entity="order")
        db.session.commit()

    in_tenant(acme, define)
    customer = api.get("/api/v1/fields/", headers=bearer(token))
    assert customer.status_code == 200
    # A new workspace starts with two classifications (crm/fields/models.py PRESET_FIELDS), then its own fields.
    assert [(f["key"], f["type"], f["required"]) for f in customer.json["data"]] == [
        ("customer_value", "select", False), ("relationship", "select", False), ("erp_code", "text", True),
        ("grade", "select", False)]
    erp = customer.json["data"][2]
    assert (erp["entity"], erp["label_en"], erp["label_zh"], erp["help_en"], erp["sensitive"], erp["options"]) == (
        "customer", "ERP code", "ERP 编码", "From Kingdee", False, [])
    assert customer.json["data"][3]["options"] == [{"key": "gold", "en": "Gold", "zh": "金牌", "retired": False},
                                                   {"key": "silver", "en": "Silver", "zh": "", "retired": False}]
    orders = api.get("/api/v1/fields/?entity=order", headers=bearer(token)).json["data"]
    assert [(f["key"], f["entity"]) for f in orders] == [("incoterm", "order")]
    assert api.get("/api/v1/fields/?entity=deal", headers=bearer(token)).json == {"data": []}
    unknown = api.get("/api/v1/fields/?entity=invoice", headers=bearer(token))
    assert unknown.status_code == 422 and unknown.json["errors"] == {"entity": "Choose one of the listed values."}


def test_the_definitions_are_read_by_whoever_may_view_those_records(acme, api, people, add_member, make_api_token):
    rep = make_api_token(acme, people["rep"].member_id)
    assert api.get("/api/v1/fields/?entity=deal", headers=bearer(rep)).status_code == 200
    _account, agent_id = add_member(acme, "support_agent", "Sam Support")
    agent = make_api_token(acme, agent_id)
    assert api.get("/api/v1/fields/?entity=order", headers=bearer(agent)).status_code == 200
    refused = api.get("/api/v1/fields/?entity=deal", headers=bearer(agent))  # a support agent sees no deals
    assert refused.status_code == 403 and refused.content_type == "application/problem+json"
