"""The shared pages show what features registered, and only what the member may use."""
import re

import pytest

from crm.registry import AuditEntity, Registry


def menu(page: str) -> list[str]:
    """The main menu's labels, with a * on the current one."""
    nav = re.search(r'<nav class="mainnav".*?</nav>', page, re.S).group(0)
    return [("*" if current else "") + label
            for current, label in re.findall(r'<a href="[^"]+" (aria-current="page")?>([^<]+)</a>', nav)]


def test_a_panel_needing_a_permission_the_viewer_lacks_is_not_shown(acme, add_member, client_as, make_customer):
    customer_id = make_customer(acme, name="Wang Fang")
    agent_account, _agent = add_member(acme, role="support_agent", name="Sue Agent")  # no deals at all
    everything = client_as(acme.admin_account_id).get(f"/{acme.slug}/customers/{customer_id}").text
    agents = client_as(agent_account).get(f"/{acme.slug}/customers/{customer_id}").text
    assert 'id="customer-deals"' in everything and 'id="customer-deals"' not in agents
    for panel in ('id="customer-orders"', 'id="customer-tickets"', 'id="follow-ups"', 'id="timeline"'):
        assert panel in everything and panel in agents, panel
    order = [everything.index(mark) for mark in ("<h2>History</h2>", 'id="customer-deals"', 'id="customer-orders"',
                                                 'id="customer-tickets"', 'id="follow-ups"', 'id="timeline"')]
    assert order == sorted(order)


def test_menu_entries_respect_permissions(acme, add_member, client_as):
    agent_account, _agent = add_member(acme, role="support_agent", name="Sue Agent")
    admin = menu(client_as(acme.admin_account_id).get(f"/{acme.slug}/customers/").text)
    agent = menu(client_as(agent_account).get(f"/{acme.slug}/customers/").text)
    # The bar, then the entries under "More".
    assert admin == ["Home", "My day", "Calendar", "*Customers", "Deals", "Orders", "Reports", "Tickets", "Settings",
                     "Campaigns", "Pool", "Targets", "Products", "Tags"]
    assert agent == ["Home", "My day", "Calendar", "*Customers", "Orders", "Tickets", "Pool", "Tags"]
    assert '<summary class="current">More</summary>' in client_as(acme.admin_account_id).get(f"/{acme.slug}/tags/").text


@pytest.mark.parametrize("path, current", [
    ("pool/", "Pool"), ("pool/rules", "Settings"), ("deals/", "Deals"), ("deals/pipelines", "Settings"),
    ("activities/", "My day"), ("activities/rules", "Settings"), ("settings/audit/", "Settings"), ("", "Home"),
    ("reports/?pack=sales", "Reports"), ("calendar/?view=month", "Calendar"),
])
def test_one_menu_entry_stands_for_the_page(acme, client_as, path, current):
    page = client_as(acme.admin_account_id).get(f"/{acme.slug}/{path}").text
    assert [label for label in menu(page) if label.startswith("*")] == ["*" + current]


def test_settings_tabs_respect_permissions_and_lead_from_the_menu(acme, add_member, client_as):
    manager_account, _manager = add_member(acme, role="sales_manager", name="Max Manager")
    page = client_as(acme.admin_account_id).get(f"/{acme.slug}/settings/audit/").text
    tabs = re.findall(r'<a href="[^"]+" (?:aria-current="page")?>([^<]+)</a>',
                      re.search(r'<nav class="subnav".*?</nav>', page, re.S).group(0))
    assert tabs == ["Workspace", "Members", "Teams", "Roles", "Fields", "Pipelines", "Reminder rules", "Messaging",
                    "Payments", "Message templates", "Integrations", "Integration tokens", "Outbox", "Security", "Data", "Audit log",
                    "Recycle rules", "Billing"]
    manager = client_as(manager_account).get(f"/{acme.slug}/customers/").text
    assert "Settings" not in menu(manager)
    assert client_as(manager_account).get(f"/{acme.slug}/settings/audit/").status_code == 403


def test_a_record_kinds_labels_cannot_be_registered_twice():
    registry = Registry()
    registry.add(AuditEntity("deal", "Deal", fields={"title": "Title"}))
    registry.add(AuditEntity("deal", fields={"pool_reason": "Reason"}))  # another feature adds a field
    assert registry.audit["deal"].fields == {"title": "Title", "pool_reason": "Reason"}
    with pytest.raises(ValueError):
        registry.add(AuditEntity("deal", "Opportunity"))
    with pytest.raises(ValueError):
        registry.add(AuditEntity("deal", fields={"title": "Job title"}))
