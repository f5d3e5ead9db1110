"""A service ticket in a real browser: open it from the modal (an error first), comment, resolve, close with
a rating; the pages at phone width. Run: pytest tests/e2e/test_tickets_browser.py -q -p no:randomly"""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.htmx import htmx_idle, modal_shown

pytestmark = pytest.mark.e2e

NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth + 1"


def test_open_comment_resolve_and_close_a_ticket_with_a_rating(page, make_tenant, make_customer, login, shot):
    tenant = make_tenant("星辰贸易 Stellar")
    make_customer(tenant, name="欧阳娜娜", company="阳光科技", phone="13912345678")
    make_customer(tenant, name="Zhang Wei")
    login(page, tenant)
    page.goto(f"/{tenant.slug}/tickets/")
    expect(page.get_by_role("heading", name="Tickets", exact=True)).to_be_visible()

    page.get_by_role("link", name="+ New ticket").click()
    modal = page.locator("dialog#modal")
    modal_shown(page, "New ticket")
    with page.expect_response(lambda r: "/customers/choices" in r.url and r.status == 200):
        modal.get_by_role("searchbox", name="Customer").press_sequentially("欧阳")
    htmx_idle(page)
    customers = modal.get_by_role("listbox", name="Customers found")
    expect(customers.locator("option")).to_have_text(["欧阳娜娜 · 阳光科技 · +86 139 1234 5678"])
    customers.select_option(label="欧阳娜娜 · 阳光科技 · +86 139 1234 5678")
    modal.get_by_label("Priority").select_option(label="Urgent")
    with page.expect_response(lambda r: r.request.method == "POST" and r.status == 422):
        modal.get_by_role("button", name="Open ticket").click()
    expect(modal.locator("#subject-error")).to_have_text("Subject is required.")
    expect(customers.locator("option:checked")).to_have_text("欧阳娜娜 · 阳光科技 · +86 139 1234 5678")
    expect(modal.get_by_label("Priority")).to_have_value("urgent")
    shot(page, "tickets-01-modal-error")

    modal.get_by_label("Subject").fill("打印机卡纸 Printer jams")
    modal.get_by_label("Description").fill("Every A3 page jams.")
    modal.get_by_role("button", name="Open ticket").click()
    expect(page).to_have_url(re.compile(rf"/{tenant.slug}/tickets/\d+$"))
    expect(modal).to_be_hidden()
    expect(page.locator("#flashes")).to_contain_text("Ticket TK-000001 opened.")
    expect(page.locator("h1.ticket-subject")).to_have_text("打印机卡纸 Printer jams")
    expect(page.locator(".ticket-badges")).to_contain_text("Urgent")

    comments = page.locator("#comments")
    comments.get_by_label("Add a comment").fill("A technician comes tomorrow at 10.")
    comments.get_by_label("Reply to the customer").check()
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/comments")) as answer:
        comments.get_by_role("button", name="Add comment").click()
    assert answer.value.status == 200
    reply = page.locator("#comments .comment-customer")
    expect(reply).to_contain_text("A technician comes tomorrow at 10.")
    expect(reply.locator(".comment-label")).to_have_text("To customer")
    expect(page.locator("#comments").get_by_label("Add a comment")).to_have_value("")
    expect(page.locator("#comments").get_by_label("Reply to the customer")).to_be_checked()
    page.locator("#comments").get_by_label("Add a comment").fill("Spare roller ordered.")
    page.locator("#comments").get_by_label("Internal note").check()
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/comments")):
        page.locator("#comments").get_by_role("button", name="Add comment").click()
    expect(page.locator("#comments .comment-internal .comment-label")).to_have_text("Internal note")
    shot(page, "tickets-02-comments")

    page.get_by_role("button", name="Resolve").click()
    expect(page.locator("#flashes")).to_contain_text("Ticket TK-000001 is now Resolved.")
    expect(page.locator(".ticket-badges .ticket-status")).to_have_text("Resolved")

    page.locator("#ticket-moves").get_by_role("link", name="Close").click()
    modal_shown(page, "Close TK-000001")
    modal.get_by_label("Satisfaction").select_option("5")
    modal.get_by_label("Customer's comment").fill("很满意 Very happy")
    modal.get_by_role("button", name="Close ticket").click()
    expect(page.locator("#flashes")).to_contain_text("Ticket TK-000001 is now Closed.")
    expect(modal).to_be_hidden()
    expect(page.locator(".ticket-badges .ticket-status")).to_have_text("Closed")
    expect(page.locator(".satisfaction")).to_contain_text("5 of 5")
    expect(page.locator(".satisfaction")).to_contain_text("很满意 Very happy")
    expect(page.locator("#ticket-moves")).to_have_count(0)  # closed is final
    shot(page, "tickets-03-closed")

    page.reload()
    expect(page.locator("#comments .comment")).to_have_count(2)


def open_ticket(in_tenant, tenant, customer_id: int, late: bool = False, **fields) -> int:
    """A ticket opened by the tenant's admin (and assigned to them); `late` puts its due time in the past."""
    from datetime import timedelta

    from crm.extensions import db
    from crm.members.models import Member
    from crm.tickets import service
    from crm.extensions import utcnow

    def make():
        ticket = service.create_ticket(db.session.get(Member, tenant.admin_member_id),
                                       {"customer_id": customer_id, **fields})
        if late:
            ticket.due_at = utcnow() - timedelta(hours=3)
        return ticket.id

    return in_tenant(tenant, make)


def test_ticket_pages_fit_a_phone(new_page, make_tenant, make_customer, in_tenant, login, shot):
    tenant = make_tenant("星辰贸易 Stellar")
    customer = make_customer(tenant, name="欧阳娜娜", company="阳光科技有限公司")
    late = open_ticket(in_tenant, tenant, customer, late=True, priority="urgent", kind="complaint",
                       subject="退款申请：订单重复扣款，请尽快处理 Refund for a double charge")
    open_ticket(in_tenant, tenant, customer, subject="How do I reset the device?", priority="low")
    page = new_page(360, 740)
    login(page, tenant)

    page.goto(f"/{tenant.slug}/tickets/?view=mine")
    row = page.locator(f"#ticket-{late}")
    expect(row).to_be_visible()
    expect(row.locator(".overdue-label")).to_have_text("Overdue")
    shot(page, "tickets-04-queue-360px")
    assert page.evaluate(NO_OVERFLOW), "the ticket queue is wider than a 360 px phone"

    page.goto(f"/{tenant.slug}/tickets/{late}")
    expect(page.locator("h1.ticket-subject")).to_contain_text("Refund")
    shot(page, "tickets-05-ticket-360px")
    assert page.evaluate(NO_OVERFLOW), "the ticket page is wider than a 360 px phone"

    page.get_by_role("link", name="Edit").click()
    expect(page.locator("dialog#modal").get_by_label("Subject")).to_be_visible()
    assert page.evaluate(NO_OVERFLOW), "the ticket form is wider than a 360 px phone"
