"""Small helpers every feature's views share: page-or-fragment rendering and htmx-aware redirects."""
from flask import flash, redirect, render_template, request, url_for
from jinja2_fragments.flask import render_block
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1  # ids are PostgreSQL integers; anything larger cannot name a record


class RecordId(IntegerConverter):
    """`<id:customer_id>`: a positive integer that fits a database id, so `/customers/99999999999` is a 404."""

    def __init__(self, map):
        super().__init__(map, min=1, max=MAX_ID)


def record_id(value) -> int | None:
    """A query-string value as a record id, or None when it cannot be one."""
    text = str(value or "")
    return int(text) if text.isdigit() and 0 < int(text) <= MAX_ID else None


def local_path(target: str | None) -> str | None:
    """`target` when it is a path on this site (a `next` parameter), else None: no other host, and no
    backslash, which browsers read as a slash ("/\\evil.example")."""
    target = target or ""
    if target.startswith("/") and "//" not in target and "\\" not in target and len(target) < 1000:
        return target
    return None


def is_htmx() -> bool:
    return bool(request.headers.get("HX-Request"))


def render(template: str, block: str | None = None, **context):
    """The whole page, or only `block` when htmx swaps a part of it."""
    if block and is_htmx() and not request.headers.get("HX-Boosted"):
        return render_block(template, block, **context)
    return render_template(template, **context)


def saved(message: str, endpoint: str, **values):
    """Commit the user's action, say so, and go (303) to `endpoint`."""
    from crm.extensions import db

    db.session.commit()
    flash(message)
    return see_other(url_for(endpoint, **values))


def refused(error, endpoint: str, **values):
    """Undo the user's action, show why (an Invalid's messages), and go (303) to `endpoint`."""
    from crm.extensions import db

    db.session.rollback()
    flash(" ".join(error.errors.values()), "error")
    return see_other(url_for(endpoint, **values))


def see_other(url: str):
    """303 to `url`; htmx follows it as a full navigation (HX-Location keeps history right)."""
    if is_htmx() and not request.headers.get("HX-Boosted"):
        response = redirect(url, code=303)
        response.headers["HX-Location"] = url
        response.status_code = 204
        return response
    return redirect(url, code=303)
