"""Small helpers every feature's views share: page-or-fragment rendering and htmx-aware redirects."""
from flask import redirect, render_template, request
from jinja2_fragments.flask import render_block


def is_htmx() -> bool:
    return bool(request.headers.get("HX-Request"))


def render(template: str, block: str | None = None, **context):
    """The whole page, or only `block` when htmx swaps a part of it."""
    if block and is_htmx() and not request.headers.get("HX-Boosted"):
        return render_block(template, block, **context)
    return render_template(template, **context)


def see_other(url: str):
    """303 to `url`; htmx follows it as a full navigation (HX-Location keeps history right)."""
    if is_htmx() and not request.headers.get("HX-Boosted"):
        response = redirect(url, code=303)
        response.headers["HX-Location"] = url
        response.status_code = 204
        return response
    return redirect(url, code=303)
