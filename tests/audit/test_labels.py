"""Changes read the way the record's own feature names them, in the log and on the record's page, in both languages."""
import pytest

from crm.extensions import db
from crm.members.models import Member


@pytest.fixture
def changed(acme, add_member, make_customer, make_deal, make_order, make_ticket, stage_ids, in_tenant):
    """A deal renamed and moved, an order asked to be refunded, a ticket given to an agent; their ids."""
    from crm.orders import service as orders
    from crm.orders.models import Order
    from crm.deals import deals
    from crm.deals.models import Deal
    from crm.tickets import service as tickets
    from crm.tickets.models import Ticket

    _account, agent_id = add_member(acme, role="support_agent", name="Sue Agent")
    customer_id = make_customer(acme, name="Wang Fang")
    deal_id = make_deal(acme, title="Tea deal", customer_id=customer_id)
    order_id = make_order(acme, customer_id)
    ticket_id = make_ticket(acme, customer_id)
    qualified = stage_ids(acme)["Qualified"]

    def change():
        admin = db.session.get(Member, acme.admin_member_id)
        deals.update_deal(admin, db.session.get(Deal, deal_id), {"title": "Green tea deal", "stage_id": qualified})
        order = db.session.get(Order, order_id)
        orders.move_order(admin, order, "shipped")
        orders.move_order(admin, order, "refund_requested")
        tickets.assign_ticket(admin, db.session.get(Ticket, ticket_id), agent_id)
        db.session.commit()

    in_tenant(acme, change)
    return {"deal": deal_id, "order": order_id, "ticket": ticket_id}


def pages(client, slug, ids) -> dict[str, str]:
    """The audit log and each changed record's page."""
    return {"log": client.get(f"/{slug}/settings/audit/").text,
            "deal": client.get(f"/{slug}/deals/{ids['deal']}").text,
            "order": client.get(f"/{slug}/orders/{ids['order']}").text,
            "ticket": client.get(f"/{slug}/tickets/{ids['ticket']}").text}


def test_changes_read_as_each_feature_names_them(acme, client_as, changed):
    seen = pages(client_as(acme.admin_account_id), acme.slug, changed)
    for where in ("log", "deal"):
        assert "Title:</span> Tea deal → Green tea deal" in seen[where], where
        assert "Stage:</span> Lead → Qualified" in seen[where], where
    for where in ("log", "order"):
        assert "Status:</span> Shipped → Refund requested" in seen[where], where
        assert "shipped → refund_requested" not in seen[where], where
    for where in ("log", "ticket"):
        assert "Assignee:</span> Ada Admin → Sue Agent" in seen[where], where
    assert "Job title" not in seen["log"] and "Owner:" not in seen["log"] and "stage_id" not in seen["log"]
    assert f"Order #{changed['order']}" in seen["log"] and f"Deal #{changed['deal']}" in seen["log"]


def test_changes_read_in_chinese(acme, client_as, changed):
    admin = client_as(acme.admin_account_id)
    admin.post("/language", data={"language": "zh"})
    seen = pages(admin, acme.slug, changed)
    for where in ("log", "deal"):
        assert "标题:</span> Tea deal → Green tea deal" in seen[where], where
        assert "阶段:</span> 线索 → 已确认" in seen[where], where
    for where in ("log", "order"):
        assert "状态:</span> 已发货 → 已申请退款" in seen[where], where
    for where in ("log", "ticket"):
        assert "处理人:</span> Ada Admin → Sue Agent" in seen[where], where
    assert f"订单 #{changed['order']}" in seen["log"] and "顺序" not in seen["log"]
    assert "职位" not in seen["log"] and "负责人:" not in seen["log"]


def test_an_order_total_and_public_link_read_as_words(acme, client_as, make_customer, make_order, in_tenant):
    from crm.orders.models import Order
    from crm.orders.status_link import new_link

    order_id = make_order(acme, make_customer(acme), lines=[
        {"description": "Tea", "quantity": "1000", "unit_price": "12.5", "discount": "0"}])

    def share():
        new_link(db.session.get(Order, order_id))
        db.session.commit()

    in_tenant(acme, share)
    page = client_as(acme.admin_account_id).get(f"/{acme.slug}/orders/{order_id}").text
    assert "Total:</span> — → 12,500.00" in page
    assert "Status link for the customer:</span> — → New link" in page and "public_link" not in page
