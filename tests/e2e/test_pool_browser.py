"""The customer pool in a real browser at phone width: claim from a row, claim the selection, release
with a reason."""
import pytest
from playwright.sync_api import expect

from tests.e2e.htmx import modal_shown

pytestmark = pytest.mark.e2e


def test_claim_from_the_pool_and_release_with_a_reason(new_page, make_tenant, make_customer, login, shot):
    tenant = make_tenant("池塘贸易 Pond")
    first = make_customer(tenant, name="池中一号", owner_id="", level="A")
    for name in ("池中二号", "池中三号"):
        make_customer(tenant, name=name, owner_id="")
    page = new_page(width=360, height=760)
    login(page, tenant)
    page.goto(f"/{tenant.slug}/pool/")
    expect(page.locator("#count")).to_have_text("3 customers in the pool")

    page.locator(f"#pool-{first}").get_by_role("button", name="Claim").click()
    expect(page.locator("#flashes")).to_contain_text("You claimed 池中一号.")
    expect(page.locator("#count")).to_have_text("2 customers in the pool")

    page.get_by_label("Select all").check()
    page.get_by_role("button", name="Claim selected").click()
    expect(page.locator("#flashes")).to_contain_text("You claimed 2 customers.")
    expect(page.get_by_text("The pool is empty: every customer has an owner.")).to_be_visible()
    shot(page, "pool-01-claimed")

    page.goto(f"/{tenant.slug}/pool/release/{first}")
    page.get_by_role("button", name="Release", exact=True).click()
    expect(page.locator("#release-form .error")).to_have_text("Say why the customer goes back to the pool.")
    page.get_by_label("Why does the customer go back to the pool?").fill("客户已转行 Changed trade")
    page.get_by_role("button", name="Release", exact=True).click()
    expect(page.locator("#flashes")).to_contain_text("池中一号 is back in the pool.")
    expect(page.locator(f"#pool-{first}")).to_contain_text("客户已转行 Changed trade")
    shot(page, "pool-02-released")


def test_admin_adds_a_recycle_rule_in_the_modal(new_page, make_tenant, login, shot):
    tenant = make_tenant()
    page = new_page(width=360, height=760)
    login(page, tenant)
    page.goto(f"/{tenant.slug}/pool/rules")
    page.get_by_role("link", name="+ New rule").click()
    modal = page.locator("dialog#modal")
    modal_shown(page, "New recycle rule")
    modal.get_by_label("Name").fill("三十天未跟进")
    modal.get_by_label("for this many days").fill("0")
    modal.get_by_label("A", exact=True).check()
    modal.get_by_role("button", name="Save").click()
    expect(modal.locator("#days-error")).to_have_text("Enter a whole number from 1 to 3650.")
    expect(modal.get_by_label("A", exact=True)).to_be_checked()  # what was chosen stays
    expect(modal.get_by_label("for this many days")).to_be_focused()  # the cursor waits in the field to fix
    modal.get_by_label("for this many days").fill("30")
    modal.get_by_role("button", name="Save").click()
    expect(modal).to_be_hidden()
    expect(page.locator("#flashes")).to_contain_text("Rule 三十天未跟进 added.")
    expect(page.locator("table.rules")).to_contain_text("30 days without a follow-up")
    shot(page, "pool-03-rules")
