"""The global search: the top bar's box (a dropdown of matches, swapped in as one types) and its full page."""
from flask import g, request

from crm.search import service
from crm.web import render
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("search", __name__, "/search")


@bp.get("/")
def index():
    """Matches of every kind the member may view; htmx (the top bar's box) swaps only the groups."""
    q = service.clean_query(request.args.get("q"))
    return render("search/index.html", block="groups", q=q, groups=service.search(g.member, q))
