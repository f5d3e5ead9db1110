"""The workspace home: the member's key numbers, a short overview and the way into each feature."""
from flask import g
from flask_babel import lazy_gettext as _l

from crm import registry
from crm.followups import service as activities
from crm.customers import queries as customers
from crm.web import render
from crm.workspace import kpis
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("workspace", __name__)
HEADINGS = {"own": _l("Your numbers"), "team": _l("Your team's numbers"), "subteams": _l("Your team's numbers"),
            "all": _l("The workspace's numbers")}


def _kpi_card(member) -> dict:
    """This month's key numbers of the member's reports scope, and where each leads."""
    numbers = kpis.measure(member, *kpis.this_month(), with_target=True)
    return {"kpis": numbers, "kpi_links": kpis.links(member, numbers),
            "kpi_heading": HEADINGS.get(member.role.scope("reports", "view"), HEADINGS["own"])}


registry.plug(bp, registry.MenuEntry("workspace.index", _l("Home"), order=10, current=("workspace.*",)),
              registry.HomeCard("workspace/_kpis.html", order=5, permission=("reports", "view"), load=_kpi_card))


@bp.get("/")
def index():
    """The cards features add (the key numbers first), counts of the member's customers by stage, and the newest
    ones; a member without reports sees their own follow-ups due instead of the key numbers."""
    by_stage = customers.count_by_stage(g.member)
    newest, _cursor, _total = customers.list_customers(g.member, customers.CustomerQuery(), limit=5)
    day = (activities.my_day(g.member) if g.member.can("activities", "view") and not g.member.can("reports", "view")
           else None)
    cards, card_data = registry.home_cards(g.member)
    return render("workspace/index.html", by_stage=by_stage, total=sum(by_stage.values()), newest=newest, day=day,
                  cards=cards, **card_data)
