"""A service ticket in a real browser: open it from the modal (an error first), comment, resolve, close; a reply
that reaches the customer's mailbox and the customer's rating through the emailed link; the pages at phone width.
Run: pytest tests/e2e/test_tickets_browser.py -q -p no:randomly"""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.htmx import htmx_idle, modal_shown

pytestmark = pytest.mark.e2e

NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth + 1"


def test_open_comment_resolve_and_close_a_ticket(page, make_tenant, make_customer, login, shot):
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
    expect(reply.locator(".delivery")).to_have_text("Queued · SMS +86 139 1234 5678")
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
    expect(modal.locator("#survey-note")).to_have_text(
        "The customer gets a link by SMS to +86 139 1234 5678 to rate the service from 1 to 5.")
    expect(modal.locator("select, textarea")).to_have_count(0)  # the customer rates, not the agent
    modal.get_by_role("button", name="Close ticket").click()
    expect(page.locator("#flashes")).to_contain_text("Ticket TK-000001 is now Closed.")
    expect(modal).to_be_hidden()
    expect(page.locator(".ticket-badges .ticket-status")).to_have_text("Closed")
    expect(page.locator("#satisfaction")).to_have_text(
        "Not rated yet: the customer rates through the link sent on closing.")
    expect(page.locator("#ticket-moves")).to_have_count(0)  # closed is final
    shot(page, "tickets-03-closed")

    page.reload()
    expect(page.locator("#comments .comment")).to_have_count(2)


def mail_text(message) -> str:
    """The plain-text part of an email as the customer's mail program shows it."""
    part = message.get_payload()[0] if message.is_multipart() else message
    return part.get_payload(decode=True).decode()


def test_a_reply_reaches_the_customers_mailbox_and_the_customer_rates_through_the_link(
        new_page, make_tenant, make_customer, in_tenant, login, shot, smtp_on, run_worker):
    from crm.settings import put_setting

    tenant = make_tenant("星辰贸易 Stellar")
    in_tenant(tenant, lambda: put_setting("quiet_hours", None))  # whatever the hour the tests run at
    customer = make_customer(tenant, name="Wang Fang", email="wang.fang@example.com", phone="13912345678",
                             preferred_channel="email")
    ticket = open_ticket(in_tenant, tenant, customer, subject="Printer jams on A3")
    agent = new_page()
    login(agent, tenant)
    agent.goto(f"/{tenant.slug}/tickets/{ticket}")
    comments = agent.locator("#comments")
    expect(comments.locator("#reply-note")).to_have_text(
        "A reply to the customer is sent by email to wang.fang@example.com.")
    comments.get_by_label("Add a comment").fill("A technician comes tomorrow at 10.")
    comments.get_by_label("Reply to the customer").check()
    with agent.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/comments")):
        comments.get_by_role("button", name="Add comment").click()
    expect(agent.locator("#comments .comment-customer .delivery")).to_have_text(
        "Queued · Email wang.fang@example.com")

    run_worker()
    [reply] = [m for m in smtp_on.messages if m["To"] == "wang.fang@example.com"]
    assert "A technician comes tomorrow at 10." in mail_text(reply) and f"TK-{ticket:06d}" in mail_text(reply)
    agent.reload()
    expect(agent.locator("#comments .comment-customer .delivery .delivery-state")).to_have_text("Sent")

    agent.get_by_role("button", name="Resolve").click()
    expect(agent.locator(".ticket-badges .ticket-status")).to_have_text("Resolved")
    agent.locator("#ticket-moves").get_by_role("link", name="Close").click()
    modal_shown(agent, f"Close TK-{ticket:06d}")
    expect(agent.locator("#survey-note")).to_have_text(
        "The customer gets a link by email to wang.fang@example.com to rate the service from 1 to 5.")
    agent.locator("dialog#modal").get_by_role("button", name="Close ticket").click()
    expect(agent.locator(".ticket-badges .ticket-status")).to_have_text("Closed")

    run_worker()
    survey = [m for m in smtp_on.messages if m["To"] == "wang.fang@example.com"][1]
    link = re.search(r"https?://\S+/s/\S+", mail_text(survey)).group(0)
    customer_page = new_page(375, 740)  # the customer's own phone: no account, no session
    customer_page.goto("/" + link.split("/", 3)[3])
    expect(customer_page.locator("#survey")).to_contain_text("Printer jams on A3")
    assert customer_page.evaluate(NO_OVERFLOW), "the rating page is wider than a 375 px phone"
    customer_page.locator("input[name=rating][value='4']").check()
    customer_page.locator("#comment").fill("Quick and friendly 很快")
    customer_page.locator("form.survey-form button").click()
    expect(customer_page.locator("#survey-done")).to_be_visible()
    expect(customer_page.locator("#survey-rating")).to_contain_text("4")
    shot(customer_page, "tickets-06-customer-rated-375px")
    customer_page.reload()  # the link again: the rating stands, no second form
    expect(customer_page.locator("input[name=rating]")).to_have_count(0)

    agent.reload()
    expect(agent.locator("#satisfaction .rating")).to_have_text("4 of 5")
    expect(agent.locator("#satisfaction")).to_contain_text("Quick and friendly 很快")
    shot(agent, "tickets-07-rated")


def test_a_ticket_names_its_order_through_the_order_chooser(page, make_tenant, make_customer, make_order, login):
    tenant = make_tenant("星辰贸易 Stellar")
    wang = make_customer(tenant, name="Wang Fang")
    li = make_customer(tenant, name="Li Lei")
    first = make_order(tenant, wang)
    make_order(tenant, wang)
    make_order(tenant, li)
    login(page, tenant)
    page.goto(f"/{tenant.slug}/tickets/")
    page.get_by_role("link", name="+ New ticket").click()
    modal = page.locator("dialog#modal")
    modal_shown(page, "New ticket")
    orders = modal.get_by_role("listbox", name="Orders found")
    expect(orders.locator("option:disabled")).to_have_text("Choose the customer first, or type an order number.")
    with page.expect_response(lambda r: "/customers/choices" in r.url and r.status == 200):
        modal.get_by_role("searchbox", name="Customer").press_sequentially("Wang")
    htmx_idle(page)
    with page.expect_response(lambda r: "/orders/choices" in r.url and r.status == 200):
        modal.get_by_role("listbox", name="Customers found").select_option(label="Wang Fang")
    htmx_idle(page)
    expect(orders.locator("option:not([disabled]):not([value=''])")).to_have_count(2)  # Wang's orders only
    with page.expect_response(lambda r: "/orders/choices" in r.url and r.status == 200):
        modal.get_by_role("searchbox", name="Related order").press_sequentially(str(first))
    htmx_idle(page)
    expect(orders.locator("option[value^='SO-']")).to_have_count(1)
    orders.select_option(f"SO-{first:06d}")
    modal.get_by_label("Subject").fill("Wrong colour delivered")
    modal.get_by_role("button", name="Open ticket").click()
    expect(page).to_have_url(re.compile(rf"/{tenant.slug}/tickets/\d+$"))
    related = page.locator("#related-order").get_by_role("link", name=f"SO-{first:06d}")
    expect(related).to_be_visible()
    related.click()
    expect(page).to_have_url(re.compile(rf"/{tenant.slug}/orders/{first}$"))


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
