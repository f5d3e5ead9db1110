"""An import tells webhook subscribers of each customer it creates or changes (per row), and nothing when nobody
subscribed."""
from sqlalchemy import select

from crm.extensions import db

FILE = [["姓名", "手机", "公司"], ["Old A", "13800000001", "Alpha New"], ["New B", "13800000002", "Beta"],
        ["New C", "13800000003", "Gamma"]]
FIELDS = {"姓名": "name", "手机": "phone", "公司": "company"}


def _deliveries(in_tenant, tenant) -> list[tuple[str, str]]:
    from crm.webhooks.models import WebhookDelivery

    return in_tenant(tenant, lambda: sorted((d.type, d.payload["data"]["object"]["name"]) for d in db.session.scalars(
        select(WebhookDelivery))))


def test_imported_rows_emit_their_events(acme, make_customer, run_import, in_tenant):
    from crm.members.models import Member
    from crm.webhooks import service

    make_customer(acme, name="Old A", phone="13800000001", company="Alpha")
    in_tenant(acme, lambda: service.create_subscription(db.session.get(Member, acme.admin_member_id),
                                                        "https://erp.example.com/hook",
                                                        ["customer.created", "customer.updated"]))
    done = run_import(acme, FILE, FIELDS, match_on="phone", mode="create_update")
    assert done.status == "done"
    assert _deliveries(in_tenant, acme) == [("customer.created", "New B"), ("customer.created", "New C"),
                                            ("customer.updated", "Old A")]


def test_no_subscription_no_events(acme, run_import, in_tenant):
    assert run_import(acme, FILE, FIELDS, match_on="phone", mode="create_update").status == "done"
    assert _deliveries(in_tenant, acme) == []
