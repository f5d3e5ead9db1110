"""The deal board in a real browser: drag a card to another stage, drop one on "Lost" and give the reason,
a refused move puts the card back, and a phone moves a deal with the card's "Move to…" control.
Run: pytest tests/e2e/test_deals_browser.py -q -p no:randomly"""
import pytest
from playwright.sync_api import expect

from tests.e2e.htmx import modal_shown
from sqlalchemy import select

from crm.extensions import db

pytestmark = pytest.mark.e2e


@pytest.fixture
def board(make_tenant, make_customer, in_tenant):
    """A tenant with two deals in Lead; returns (tenant, {stage name: id}, {title: deal id})."""
    from crm.members.models import Member
    from crm.deals.deals import create_deal
    from crm.deals.models import Stage

    tenant = make_tenant("星辰贸易 Stellar")
    customer_id = make_customer(tenant, name="欧阳娜娜")

    def make():
        viewer = db.session.get(Member, tenant.admin_member_id)
        stages = dict(db.session.execute(select(Stage.name_en, Stage.id)).all())
        deals = {title: create_deal(viewer, {"title": title, "customer_id": customer_id,
                                             "stage_id": stages["Lead"], "amount": amount}).id
                 for title, amount in (("ERP 升级", "12500"), ("CRM seats", "800"))}
        return stages, deals

    stages, deals = in_tenant(tenant, make)
    return tenant, stages, deals


def card(page, deal_id):
    return page.locator(f'.deal-card[data-deal-id="{deal_id}"]')


def column(page, stage_id):
    return page.locator(f"#column-{stage_id}")


def stage_of(in_tenant, tenant, deal_id) -> int:
    from crm.deals.models import Deal

    return in_tenant(tenant, lambda: db.session.get(Deal, deal_id).stage_id)


def drag(page, source, target) -> None:
    """Press on the card, move to the target column in steps, release (as a hand on a mouse would)."""
    start, end = source.bounding_box(), target.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + 12)
    page.mouse.down()
    page.mouse.move(start["x"] + start["width"] / 2 + 10, start["y"] + 20, steps=5)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + 40, steps=20)
    page.mouse.up()


def test_drag_a_deal_to_another_stage(page, board, login, in_tenant, shot):
    tenant, stages, deals = board
    deal_id = deals["ERP 升级"]
    login(page, tenant)
    page.goto(f"/{tenant.slug}/deals/")
    expect(card(page, deal_id)).to_be_visible()
    expect(column(page, stages["Lead"]).locator(".kanban-count")).to_have_text("2")

    with page.expect_response(lambda r: r.url.endswith(f"/deals/{deal_id}/move") and r.request.method == "POST") as moved:
        drag(page, card(page, deal_id), column(page, stages["Proposal"]).locator(".kanban-cards"))
    assert moved.value.status == 200
    expect(page.locator("#board-message")).to_contain_text("ERP 升级 moved to Proposal.")
    expect(column(page, stages["Proposal"]).locator(".kanban-count")).to_have_text("1")
    expect(column(page, stages["Proposal"])).to_contain_text("weighted CN¥6,250.00")
    shot(page, "deals-01-dragged")

    page.reload()
    expect(column(page, stages["Proposal"]).locator(card(page, deal_id))).to_be_visible()
    expect(column(page, stages["Lead"]).locator(card(page, deal_id))).to_have_count(0)
    expect(column(page, stages["Lead"]).locator(".kanban-count")).to_have_text("1")
    assert stage_of(in_tenant, tenant, deal_id) == stages["Proposal"]


def test_dropping_on_lost_asks_why_first(page, board, login, in_tenant, shot):
    tenant, stages, deals = board
    deal_id = deals["CRM seats"]
    login(page, tenant)
    page.goto(f"/{tenant.slug}/deals/")
    with page.expect_response(lambda r: f"/deals/{deal_id}/lose" in r.url):
        drag(page, card(page, deal_id), column(page, stages["Lost"]).locator(".kanban-cards"))
    modal = page.locator("dialog#modal")
    expect(modal).to_be_visible()
    modal_shown(page, "Why was CRM seats lost?")
    expect(column(page, stages["Lead"]).locator(card(page, deal_id))).to_be_visible()  # not moved yet
    assert stage_of(in_tenant, tenant, deal_id) == stages["Lead"]

    with page.expect_response(lambda r: r.request.method == "POST" and r.status == 422):
        modal.get_by_role("button", name="Mark lost").click()
    expect(modal.locator("#lost_reason-error")).to_have_text("Say why the deal was lost.")
    modal.get_by_label("Lost reason").fill("预算取消 Budget cut")
    shot(page, "deals-02-lost-reason")
    modal.get_by_role("button", name="Mark lost").click()
    expect(modal).to_be_hidden()
    expect(page.locator("#flashes")).to_contain_text("Deal CRM seats lost.")
    expect(column(page, stages["Lost"]).locator(card(page, deal_id))).to_be_visible()
    assert stage_of(in_tenant, tenant, deal_id) == stages["Lost"]


def test_a_refused_move_puts_the_card_back(page, board, login, in_tenant):
    from crm.members.models import Member
    from crm.deals.deal_queries import get_deal
    from crm.deals.deals import delete_deal

    tenant, stages, deals = board
    deal_id = deals["CRM seats"]
    login(page, tenant)
    page.goto(f"/{tenant.slug}/deals/")
    expect(card(page, deal_id)).to_be_visible()
    # Someone else deletes the deal while this board is open: the move answers 404.
    in_tenant(tenant, lambda: delete_deal(get_deal(
        db.session.get(Member, tenant.admin_member_id), deal_id, "delete")))
    with page.expect_response(lambda r: r.url.endswith(f"/deals/{deal_id}/move")) as refused:
        drag(page, card(page, deal_id), column(page, stages["Negotiation"]).locator(".kanban-cards"))
    assert refused.value.status == 404
    expect(column(page, stages["Lead"]).locator(card(page, deal_id))).to_be_visible()
    expect(column(page, stages["Negotiation"]).locator(".deal-card")).to_have_count(0)
    expect(page.locator("#flashes .alert-error")).to_be_visible()


def test_a_phone_moves_a_deal_with_the_move_to_control(new_page, board, login, in_tenant, shot):
    tenant, stages, deals = board
    deal_id = deals["ERP 升级"]
    page = new_page(390, 844)
    login(page, tenant)
    page.goto(f"/{tenant.slug}/deals/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), "board wider than the phone"
    expect(card(page, deal_id)).to_be_visible()
    shot(page, "deals-03-board-390px")

    with page.expect_response(lambda r: r.url.endswith(f"/deals/{deal_id}/move") and r.request.method == "POST") as moved:
        card(page, deal_id).get_by_label("Move ERP 升级 to").select_option(label="Negotiation")
    assert moved.value.status == 200
    expect(column(page, stages["Negotiation"]).locator(card(page, deal_id))).to_be_attached()
    page.reload()
    expect(column(page, stages["Negotiation"]).locator(card(page, deal_id))).to_be_attached()
    expect(column(page, stages["Lead"]).locator(card(page, deal_id))).to_have_count(0)
    assert stage_of(in_tenant, tenant, deal_id) == stages["Negotiation"]

    # The columns scroll sideways inside the board; the Negotiation column can be brought into view.
    column(page, stages["Negotiation"]).scroll_into_view_if_needed()
    expect(card(page, deal_id)).to_be_in_viewport()
    shot(page, "deals-04-moved-390px")
