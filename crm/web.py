"""Small helpers every feature's views share: page-or-fragment rendering, htmx-aware redirects, how a view
answers when a service refuses its input (`on_invalid`), and the absolute links that messages carry."""
import re
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit, urlunsplit

import flask
from flask import abort, current_app, flash, g, make_response, redirect, render_template, request, url_for
from jinja2_fragments.flask import render_block
from werkzeug.routing import IntegerConverter

from crm.errors import Invalid
from crm.security.events import security_event
from crm.validation import MAX_ID


class RecordId(IntegerConverter):
    """`<id:customer_id>`: a positive integer that fits a database id, so `/customers/99999999999` is a 404."""

    def __init__(self, map):
        super().__init__(map, min=1, max=MAX_ID)


# Browsers drop tabs and line breaks from a URL and read a backslash as a slash, so "/\t/evil.example" and
# "/\\evil.example" both lead to another site; a CR or LF cannot go in a Location header at all.
UNSAFE_IN_PATH = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")
MAX_PATH = 2000
# What no form or link of ours sends and PostgreSQL cannot store: a NUL, or half of a UTF-16 pair.
UNREADABLE = re.compile(r"[\x00\ud800-\udfff]")


FORM_SLACK = 1024 * 1024  # a file's multipart envelope and the form's other fields


def takes_file(limit_key: str, too_large: Callable):
    """Mark a view that receives a file of up to app.config[limit_key] bytes: its requests may be that large (the
    others keep MAX_CONTENT_LENGTH), and a larger one is answered by `too_large(URL values)` instead of the bare
    413 page: usually a redirect to its form saying why. It is called before the tenant, the user or anything
    else of the request is known (the body is refused as it is first read), so it may only build a URL."""
    def mark(view):
        view.file_limit, view.too_large = limit_key, too_large
        return view
    return mark


def _max_content_length(self) -> int | None:
    view = current_app.view_functions.get(self.endpoint or "") if current_app else None
    if self._max_content_length is None and getattr(view, "file_limit", None):
        return current_app.config[view.file_limit] + FORM_SLACK
    return flask.Request.max_content_length.fget(self)


class Request(flask.Request):
    """The app's request: its size limit is the view's (@takes_file) when the view takes a file. The limit is
    known before anything reads the body (the URL is matched first), so no hook parses a file under the wrong cap."""

    max_content_length = property(_max_content_length, flask.Request.max_content_length.fset)


def too_large_answer():
    """The answer of a view marked with @takes_file to a request over its limit, or None."""
    view = current_app.view_functions.get(request.endpoint or "")
    return view.too_large(**(request.view_args or {})) if getattr(view, "too_large", None) else None


def local_path(target: str | None) -> str | None:
    """`target` when it is a path on this site (a `next` parameter, a referrer), else None: one leading slash,
    never two, no control character or backslash, and of sane length."""
    target = target or ""
    if (target.startswith("/") and not target.startswith("//") and len(target) <= MAX_PATH
            and not UNSAFE_IN_PATH.search(target)):
        return target
    return None


def refuse_unreadable(_endpoint, values) -> None:
    """400 for a request whose path values, query string or form carry what no page of ours sends (a NUL, a lone
    surrogate): no view has to expect them. Registered as the first URL value preprocessor, so it runs before
    the tenant is looked up by its slug."""
    texts = [value for value in (values or {}).values() if isinstance(value, str)]
    for submitted in (request.args, request.form):
        for key, items in submitted.lists():
            texts += [key, *items]
    if any(UNREADABLE.search(text) for text in texts):
        security_event("unreadable_input", method=request.method, path=request.path)
        abort(400, description="unreadable")


def absolute_url(target: str, **values) -> str:
    """The full address of an endpoint (with its URL values; a tenant's slug is filled in as url_for does) or of a
    path on this site, on the address the app is really served on: BASE_URL. For every link that leaves the app
    (email, SMS, bot, inbox); a job has no request to take a host from, so neither does this."""
    base = current_app.config["BASE_URL"].rstrip("/")
    if target.startswith("/"):
        return base + target
    current_app.inject_url_defaults(target, values)
    address = urlsplit(base)
    adapter = current_app.url_map.bind(address.netloc, script_name=address.path or "/", url_scheme=address.scheme)
    return adapter.build(target, values, force_external=True)


def is_htmx() -> bool:
    return bool(request.headers.get("HX-Request"))


def poll(view):
    """Mark a view that a page calls by itself on a timer (the bell, a progress bar): it is not the user's
    activity, so it does not keep a session from its idle timeout (see crm/accounts/sessions.py)."""
    view.is_poll = True
    return view


def is_poll() -> bool:
    """Whether this request is for a view marked with @poll."""
    return getattr(current_app.view_functions.get(request.endpoint or ""), "is_poll", False)


def render(template: str, block: str | None = None, **context):
    """The whole page, or only `block` when htmx swaps a part of it."""
    if block and is_htmx() and not request.headers.get("HX-Boosted"):
        return render_block(template, block, **context)
    return render_template(template, **context)


def fragment_of(page: str):
    """For a GET view that answers only a part of a page (a poll, a live check, more rows): opened as a page
    itself (a bookmark, a reload, a browser without htmx) it sends the user (303) to `page`, given the view's
    URL values that `page` takes, instead of a bare fragment or a template missing the page's context."""
    def decorate(view):
        @wraps(view)
        def answer(**values):
            if is_htmx() and not request.headers.get("HX-Boosted"):
                return view(**values)
            taken = {k: v for k, v in values.items() if current_app.url_map.is_endpoint_expecting(page, k)}
            return see_other(url_for(page, **taken))
        return answer
    return decorate


def saved(message: str, endpoint: str, **values):
    """Commit the user's action, say so, and go (303) to `endpoint`."""
    from crm.extensions import db

    db.session.commit()
    flash(message)
    return see_other(url_for(endpoint, **values))


def refused(error, url: str | None = None):
    """Undo the user's action, show why (an Invalid's messages), and go (303) to `url`, else back to the page
    the request came from, else the start page."""
    from crm.extensions import db

    db.session.rollback()
    flash(" ".join(error.errors.values()), "error")
    return see_other(url or came_from() or url_for("accounts.home"))


def came_from() -> str | None:
    """The path (and query) of the page this request was sent from, when that page is on this site."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host:
        return None
    return local_path(urlunsplit(("", "", referrer.path, referrer.query, "")))


def on_invalid(answer: Callable) -> None:
    """Call before the service: if it raises Invalid, the session is rolled back and the request is answered with
    `answer(error)`, usually the form again with the messages at its fields (sent as 422, which htmx swaps in)."""
    g.on_invalid = answer


def on_invalid_go_to(endpoint: str, **values) -> None:
    """Call before the service a button calls: if it raises Invalid, nothing is saved, the messages are flashed
    and the user goes (303) to `endpoint`."""
    on_invalid(lambda error: refused(error, url_for(endpoint, **values)))


def check_form(form) -> None:
    """Refuse a posted form that fails its own checks (their messages are already at its fields), so it is
    answered the way the view chose with `on_invalid`, like a service's refusal."""
    if not form.validate_on_submit():
        raise Invalid({})


def answer_invalid(error):
    """The answer the view chose with `on_invalid`: a page is sent as 422, a redirect as it is. A view that chose
    none gets `refused`: the messages flashed, and back to the page the user came from."""
    answer = g.pop("on_invalid", None)
    if answer is None:
        return refused(error)
    response = make_response(answer(error))
    if response.status_code == 200:
        response.status_code = 422
    return response


def see_other(url: str):
    """303 to `url`, a path on this site (any other target is the start page: every redirect passes local_path);
    htmx follows it as a full navigation (HX-Location keeps history right)."""
    url = local_path(url) or url_for("accounts.home")
    if is_htmx() and not request.headers.get("HX-Boosted"):
        response = redirect(url, code=303)
        response.headers["HX-Location"] = url
        response.status_code = 204
        return response
    return redirect(url, code=303)


def open_when_read_only(view):
    """Mark a POST that changes no business data (a preview; a reveal, which only logs itself): it still works while
    the workspace is read-only (crm/billing)."""
    view.open_when_read_only = True
    return view
