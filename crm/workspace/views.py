"""The workspace home: a short overview and the way into each feature."""
from flask import g
from flask_babel import lazy_gettext as _l

from crm import registry
from crm.followups import service as activities
from crm.customers import queries as customers
from crm.web import render
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("workspace", __name__)
registry.plug(bp, registry.MenuEntry("workspace.index", _l("Home"), order=10, current=("workspace.*",)))


@bp.get("/")
def index():
    """What is due today, the cards features add, counts of the member's customers by stage, and the newest ones."""
    by_stage = customers.count_by_stage(g.member)
    newest, _cursor, _total = customers.list_customers(g.member, customers.CustomerQuery(), limit=5)
    day = activities.my_day(g.member) if g.member.can("activities", "view") else None
    cards, card_data = registry.home_cards(g.member)
    return render("workspace/index.html", by_stage=by_stage, total=sum(by_stage.values()), newest=newest, day=day,
                  cards=cards, **card_data)
