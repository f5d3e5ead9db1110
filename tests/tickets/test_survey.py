"""The customer's satisfaction page behind a closed ticket's link: a rating from 1 to 5 with an optional comment,
refused at the field when wrong, one per ticket, for 30 days; a tampered or foreign link is a 404."""
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from crm.audit.models import AuditEntry
from crm.extensions import db, utcnow
from crm.tickets.models import Ticket


def link(app, tenant_id: int, ticket_id: int, purpose: str = "ticket-satisfaction") -> str:
    from crm import public_links

    with app.app_context():
        return f"/s/{public_links.make_token(purpose, tenant_id, ticket_id)}"


@pytest.fixture
def closed(acme, make_customer, make_ticket):
    """A closed ticket of Acme's, about a printer."""
    return make_ticket(acme, make_customer(acme, name="Wang Fang"), status="closed", subject="Printer jams")


def test_the_customer_rates_once_and_the_agent_sees_it(app, acme, closed, admin, ticket_row, in_tenant):
    url, customer = link(app, acme.id, closed), app.test_client()
    page = customer.get(url)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert acme.name in page.text and f"TK-{closed:06d}" in page.text and "Printer jams" in page.text
    assert page.text.count('type="radio" name="rating"') == 5 and "Ada Admin" not in page.text

    done = customer.post(url, data={"rating": "4", "comment": "  Quick and friendly  "})
    assert done.status_code == 200 and "Thank you for your rating." in done.text and "4 of 5" in done.text
    row = ticket_row(acme, closed)
    assert (row.satisfaction, row.satisfaction_comment) == (4, "Quick and friendly")
    entry = in_tenant(acme, lambda: db.session.scalars(select(AuditEntry.changes).where(
        AuditEntry.entity == "ticket", AuditEntry.entity_id == closed).order_by(AuditEntry.id.desc())).first())
    assert entry == {"satisfaction": [None, 4], "satisfaction_comment": [None, "Quick and friendly"]}

    again = customer.post(url, data={"rating": "1", "comment": "Changed my mind"})
    assert again.status_code == 200 and "You have already rated this request." in again.text
    assert "4 of 5" in again.text and ticket_row(acme, closed).satisfaction == 4
    assert "You have already rated this request." in customer.get(url).text

    ticket_page = admin.get(f"/{acme.slug}/tickets/{closed}").text
    assert '<span class="rating rating-4">4 of 5</span>' in ticket_page and "“Quick and friendly”" in ticket_page


@pytest.mark.parametrize("rating", ["0", "6", "", "x", "4.5", "-1", "١"])
def test_a_rating_outside_one_to_five_is_refused_at_the_field(app, acme, closed, ticket_row, rating):
    page = app.test_client().post(link(app, acme.id, closed), data={"rating": rating, "comment": "Kept as typed"})
    assert page.status_code == 422
    assert 'id="rating-error">Choose a rating from 1 to 5.' in page.text
    assert "Kept as typed" in page.text
    assert ticket_row(acme, closed).satisfaction is None


def test_a_bad_comment_is_refused_at_its_field_with_the_rating_kept(app, acme, closed, ticket_row):
    page = app.test_client().post(link(app, acme.id, closed), data={"rating": "5", "comment": "x" * 1001})
    assert page.status_code == 422 and 'id="comment-error">Use at most 1000 characters.' in page.text
    assert 'value="5" checked' in page.text
    control = app.test_client().post(link(app, acme.id, closed), data={"rating": "5", "comment": "bell\x07"})
    assert control.status_code == 422 and 'id="comment-error">' in control.text
    assert ticket_row(acme, closed).satisfaction is None


def test_tampered_foreign_or_unfinished_links_are_404(app, acme, globex, make_customer, make_ticket, closed,
                                                      ticket_row):
    good = link(app, acme.id, closed)
    client = app.test_client()
    open_ticket = make_ticket(acme, make_customer(acme))
    theirs = make_ticket(globex, make_customer(globex), status="closed")
    signature = good.rsplit(".", 1)[1]
    for url in (good[:-1] + ("A" if good[-1] != "A" else "B"),  # one character changed
                f"/s/{globex.id}.{theirs}.{signature}",  # another tenant's ticket under this signature
                link(app, acme.id, closed, purpose="order-status-link"),  # a link made for something else
                link(app, acme.id, closed, purpose="unsubscribe"),
                link(app, acme.id, open_ticket),  # signed, but the ticket is not closed
                link(app, acme.id, 999999), "/s/x", "/s/1.2"):
        assert client.get(url).status_code == 404, url
        assert client.post(url, data={"rating": "5"}).status_code == 404, url
    assert ticket_row(acme, closed).satisfaction is None and ticket_row(globex, theirs).satisfaction is None


def test_the_link_expires_thirty_days_after_closing(app, acme, closed, in_tenant, ticket_row):
    url = link(app, acme.id, closed)
    in_tenant(acme, lambda: db.session.execute(update(Ticket).where(Ticket.id == closed).values(
        closed_at=utcnow() - timedelta(days=29, hours=23))))
    assert app.test_client().get(url).status_code == 200
    in_tenant(acme, lambda: db.session.execute(update(Ticket).where(Ticket.id == closed).values(
        closed_at=utcnow() - timedelta(days=30, minutes=1))))
    page = app.test_client().get(url)
    assert page.status_code == 404 and "This link has expired" in page.text and 'name="rating"' not in page.text
    assert app.test_client().post(url, data={"rating": "5"}).status_code == 404
    assert ticket_row(acme, closed).satisfaction is None


def test_the_page_speaks_the_messages_language(app, acme, closed):
    page = app.test_client().get(link(app, acme.id, closed) + "?lang=zh")
    assert page.status_code == 200 and '<html lang="zh-CN">' in page.text and "您对我们的处理满意吗" in page.text
    done = app.test_client().post(link(app, acme.id, closed) + "?lang=zh", data={"rating": "5"})
    assert "感谢您的评价" in done.text
