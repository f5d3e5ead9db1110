"""Who may own or be assigned a record: every owner list (filters, forms) offers the members in the viewer's
reach for that record kind and action, and a forged owner outside it is refused."""
import re

import pytest

PAGES = ["/customers/", "/customers/new", "/deals/", "/deals/new", "/orders/", "/orders/new", "/tickets/",
         "/tickets/new", "/activities/new?customer_id={customer}", "/campaigns/new"]


def offered(page: str, *names: str) -> set[str]:
    return {name for name in names if re.search(rf"<option[^>]*value=\"\d+\"[^>]*>{name}</option>", page)}


@pytest.mark.parametrize("path", PAGES)
def test_owner_lists_offer_only_members_in_reach(acme, people, client_as, make_customer, path):
    everyone = ("Mia Manager", "Rui Rep", "Ren Rep", "Wes West", "Ada Admin")
    customer = make_customer(acme, owner_id=str(people["rep"].member_id))
    url = f"/{acme.slug}{path.format(customer=customer)}"
    rep_page = client_as(people["rep"].account_id).get(url)
    manager_page = client_as(people["manager"].account_id).get(url)
    admin_page = client_as(acme.admin_account_id).get(url)
    if rep_page.status_code == 200:  # reps may not start campaigns; a form with one choice may hide it
        assert offered(rep_page.text, *everyone) <= {"Rui Rep"} and "Wes West" not in rep_page.text
    assert offered(manager_page.text, *everyone) == {"Mia Manager", "Rui Rep", "Ren Rep"}
    assert offered(admin_page.text, *everyone) == set(everyone)


def test_a_forged_owner_outside_reach_is_refused(acme, people, client_as, make_customer):
    manager = client_as(people["manager"].account_id)
    customer = make_customer(acme, owner_id=str(people["rep"].member_id))
    west = str(people["west"].member_id)
    refused = manager.post(f"/{acme.slug}/orders/", data={"customer_id": customer, "owner_id": west,
                                                         "currency": "CNY", "lines-0-description": "x",
                                                         "lines-0-quantity": "1", "lines-0-unit_price": "1"})
    assert refused.status_code == 422 and "You can only give orders to members you work with." in refused.text
    refused = manager.post(f"/{acme.slug}/customers/", data={"name": "Forged Ltd", "owner_id": west})
    assert refused.status_code == 422 and "members of your own team" in refused.text
