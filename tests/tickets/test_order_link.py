"""A ticket names its order by number (SO-000123), picked with the order chooser among the orders the viewer may
see of the ticket's customer; never by an internal id, never another customer's or workspace's order."""
import html
import re

from tests.conftest import HX


def choices(client, tenant, **args) -> list[str]:
    """The order chooser's option values, the selected one marked with "*", disabled hints as their text."""
    page = client.get(f"/{tenant.slug}/orders/choices", query_string=args, headers=HX)
    assert page.status_code == 200 and "<html" not in page.text
    return [("*" if selected else "") + (value if value is not None and disabled == "" else html.unescape(text))
            for value, selected, disabled, text in re.findall(
                r'<option(?: value="([^"]*)")?( selected)?( disabled)?>([^<]*)</option>', page.text)]


def number(order_id: int) -> str:
    return f"SO-{order_id:06d}"


def test_the_chooser_offers_the_customers_orders_newest_first_and_finds_by_number(acme, admin, make_customer,
                                                                                  make_order):
    wang, li = make_customer(acme, name="Wang"), make_customer(acme, name="Li")
    first, second = make_order(acme, wang), make_order(acme, wang)
    lis = make_order(acme, li)
    assert choices(admin, acme, customer_id=wang) == ["*", number(second), number(first)]
    assert choices(admin, acme, customer_id=wang, order_q=number(first)) == ["*", number(first)]
    assert choices(admin, acme, customer_id=wang, order_q=str(lis)) == ["*", f"No order matches “{lis}”."]
    assert choices(admin, acme, order_q=f"so-{lis}") == ["*", number(lis)]  # no customer yet: any visible order
    assert choices(admin, acme) == ["*", "Choose the customer first, or type an order number."]
    assert choices(admin, acme, customer_id=wang, order_q="garbage%") == ["*", "No order matches “garbage%”."]
    kept = choices(admin, acme, customer_id=wang, order_number=number(first))
    assert kept == ["", f"*{number(first)}", number(second)]


def test_a_rep_is_offered_only_its_own_orders(acme, add_member, client_as, make_customer, make_order):
    account, rita = add_member(acme, "sales_rep", "Rita Rep")
    customer = make_customer(acme, member_id=rita, name="Shared customer")
    hers, admins = make_order(acme, customer, member_id=rita), make_order(acme, customer)
    rep = client_as(account)
    assert choices(rep, acme, customer_id=customer) == ["*", number(hers)]
    assert choices(rep, acme, order_q=str(admins)) == ["*", f"No order matches “{admins}”."]


def test_a_ticket_refuses_another_customers_order_at_the_field(acme, admin, make_customer, make_order, ticket_row,
                                                               make_ticket):
    wang, li = make_customer(acme, name="Wang"), make_customer(acme, name="Li")
    lis = make_order(acme, li)
    ticket = make_ticket(acme, wang)
    page = admin.post(f"/{acme.slug}/tickets/{ticket}", headers=HX, data={"subject": "Printer jams",
                                                                          "order_number": number(lis)})
    assert page.status_code == 422
    assert 'id="order_number-error">Choose one of this customer&#39;s orders.' in page.text
    assert ticket_row(acme, ticket).order_id is None


def test_another_workspaces_order_cannot_be_linked(acme, globex, admin, make_customer, make_order, make_ticket,
                                                   ticket_row):
    theirs = make_order(globex, make_customer(globex))
    customer = make_customer(acme)
    ticket = make_ticket(acme, customer)
    page = admin.post(f"/{acme.slug}/tickets/{ticket}", headers=HX, data={"order_number": number(theirs)})
    assert page.status_code == 422 and ticket_row(acme, ticket).order_id is None


def test_editing_links_an_order_by_number_shows_it_as_a_link_and_unlinks_it(acme, admin, make_customer,
                                                                            make_order, make_ticket, ticket_row,
                                                                            in_tenant):
    from sqlalchemy import select

    from crm.audit.models import AuditEntry
    from crm.extensions import db

    customer = make_customer(acme)
    order = make_order(acme, customer)
    ticket = make_ticket(acme, customer)
    form = admin.get(f"/{acme.slug}/tickets/{ticket}/edit", headers=HX).text
    assert f'<option value="{number(order)}">{number(order)} · ' in form  # the customer's orders, offered at once
    assert admin.post(f"/{acme.slug}/tickets/{ticket}", headers=HX,
                      data={"order_number": number(order)}).status_code == 204
    assert ticket_row(acme, ticket).order_id == order
    page = admin.get(f"/{acme.slug}/tickets/{ticket}").text
    assert f'<dd id="related-order"><a href="/{acme.slug}/orders/{order}">{number(order)}</a></dd>' in page
    assert admin.post(f"/{acme.slug}/tickets/{ticket}", headers=HX, data={"order_number": ""}).status_code == 204
    assert ticket_row(acme, ticket).order_id is None
    changes = in_tenant(acme, lambda: db.session.scalars(select(AuditEntry.changes).where(
        AuditEntry.entity == "ticket", AuditEntry.action == "update").order_by(AuditEntry.id)).all())
    assert [c["order_id"] for c in changes] == [[None, order], [order, None]]


def test_an_order_the_editor_cannot_see_stays_linked_by_its_number(acme, add_member, client_as, make_customer,
                                                                   make_order, make_ticket, ticket_row, in_tenant):
    from sqlalchemy import update

    from crm.extensions import db
    from crm.tickets.models import Ticket

    account, rita = add_member(acme, "sales_rep", "Rita Rep")
    customer = make_customer(acme, member_id=rita)
    admins = make_order(acme, customer)
    ticket = make_ticket(acme, customer, member_id=rita)
    in_tenant(acme, lambda: db.session.execute(update(Ticket).where(Ticket.id == ticket).values(order_id=admins)))
    rep = client_as(account)
    page = rep.get(f"/{acme.slug}/tickets/{ticket}").text
    assert f'<dd id="related-order">{number(admins)}</dd>' in page  # shown, but no link to a page she may not open
    form = rep.get(f"/{acme.slug}/tickets/{ticket}/edit", headers=HX).text
    assert f'<option value="{number(admins)}" selected>{number(admins)}</option>' in form
    saved = rep.post(f"/{acme.slug}/tickets/{ticket}", headers=HX, data={"subject": "Changed",
                                                                         "order_number": number(admins)})
    assert saved.status_code == 204 and ticket_row(acme, ticket).order_id == admins
