"""The customer chooser's search (deal, order and ticket forms): what was typed, within the viewer's reach."""
import html
import re

HX = {"HX-Request": "true"}


def options(client, tenant, **args) -> list[str]:
    """The chooser's options as the user reads them, the selected one marked with "*"."""
    page = client.get(f"/{tenant.slug}/customers/choices", query_string=args, headers=HX)
    assert page.status_code == 200 and "<html" not in page.text
    return [("*" if selected else "") + html.unescape(text.strip()) for selected, text
            in re.findall(r"<option[^>]*?( selected)?>([^<]*)</option>", page.text)]


def test_each_search_offers_its_own_matches_and_keeps_the_chosen_customer(acme, client_as, make_customer):
    admin = client_as(acme.admin_account_id)
    make_customer(acme, name="欧阳娜娜", company="星辰科技")
    lilei = make_customer(acme, name="李雷", phone="13912345678")
    assert options(admin, acme, customer_q="欧阳") == ["欧阳娜娜 · 星辰科技"]
    assert options(admin, acme, customer_q="1391234") == ["李雷 · +86 139 1234 5678"]
    assert options(admin, acme, customer_q="欧阳", customer_id=lilei) == ["*李雷 · +86 139 1234 5678",
                                                                          "欧阳娜娜 · 星辰科技"]
    assert options(admin, acme, customer_q="nobody") == ["No customer matches “nobody”."]
    assert options(admin, acme) == ["Type a name, phone or company to find the customer."]


def test_a_rep_is_offered_only_the_customers_it_may_see(acme, add_member, client_as, make_customer):
    rita_account, rita = add_member(acme, "sales_rep", "Rita Rep")
    _sam_account, sam = add_member(acme, "sales_rep", "Sam Rep")
    make_customer(acme, member_id=rita, name="李雷 Rita's")
    sams = make_customer(acme, member_id=sam, name="李雷 Sam's")
    make_customer(acme, name="李雷 Admin's")
    rita_client = client_as(rita_account)
    assert options(rita_client, acme, customer_q="李雷") == ["李雷 Rita's"]
    assert options(rita_client, acme, customer_q="Sam", customer_id=sams) == ["No customer matches “Sam”."]


def test_another_workspaces_customers_never_appear(acme, globex, client_as, make_customer):
    theirs = make_customer(globex, name="Globex Secret 秘密")
    make_customer(acme, name="Acme Own")
    admin = client_as(acme.admin_account_id)
    assert options(admin, acme, customer_q="Secret") == ["No customer matches “Secret”."]
    assert options(admin, acme, customer_q="秘密") == ["No customer matches “秘密”."]
    chosen = options(admin, acme, customer_q="Own", customer_id=theirs)  # their id is looked up among ours only
    assert "Globex" not in " ".join(chosen) and "Acme Own" in " ".join(chosen)
    assert admin.get(f"/{globex.slug}/customers/choices?customer_q=Secret", headers=HX).status_code == 404
