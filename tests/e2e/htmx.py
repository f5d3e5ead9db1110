"""Waiting on htmx in browser tests."""
from playwright.sync_api import expect


def htmx_idle(page):
    """No htmx request in flight and no swap still settling. htmx wires the hx-* attributes of new content
    only as it settles, so typing into a modal the moment it shows can fire no request at all."""
    expect(page.locator(".htmx-request, .htmx-settling, .htmx-swapping")).to_have_count(0)


def modal_shown(page, heading: str) -> None:
    """The modal dialog shows `heading` and htmx has wired its fields, so typing and clicking reach htmx."""
    expect(page.locator("dialog#modal").get_by_role("heading", name=heading)).to_be_visible()
    htmx_idle(page)


def page_ready(page) -> None:
    """The page has loaded, so its deferred scripts ran and htmx wired the hx-* attributes: keys typed the moment
    the HTML shows, before htmx listens, fire no request at all."""
    page.wait_for_load_state("load")
    htmx_idle(page)


def switch_language(page, button: str, lang: str) -> None:
    """Click the top bar's language button (`English` or `中文`) and wait for the page it reloads into."""
    page.locator(".lang-switch").get_by_role("button", name=button).click()
    expect(page.locator("html")).to_have_attribute("lang", lang)
    page_ready(page)
