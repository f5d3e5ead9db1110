"""Deal pages as a user meets them: the board with its totals, the deal form, moves, the list, the deal page,
Settings > Pipelines, and what a sales rep may see."""
import re

from sqlalchemy import select

from crm.extensions import db
from crm.deals.models import Deal, Stage
from tests.conftest import HX


def deal(in_tenant, tenant, deal_id) -> Deal | None:
    def read():
        found = db.session.get(Deal, deal_id)
        if found is not None:
            db.session.expunge(found)
        return found
    return in_tenant(tenant, read)


def column(page: str, stage_id: int) -> str:
    """The HTML of one board column."""
    match = re.search(rf'<section class="kanban-column[^"]*" id="column-{stage_id}".*?</section>', page, re.DOTALL)
    assert match, f"no column {stage_id}"
    return match.group(0)


def test_board_shows_a_column_per_stage_with_counts_and_totals(acme, admin, make_deal, make_customer, stage_ids):
    ids = stage_ids(acme)
    customer_id = make_customer(acme, name="星辰贸易")
    make_deal(acme, customer_id=customer_id, title="ERP 升级", amount="1000.10", expected_close="2027-03-01")
    make_deal(acme, title="CRM seats", amount="2000.25", probability="33")
    make_deal(acme, stage="Won", title="Signed", amount="99.99")
    page = admin.get(f"/{acme.slug}/deals/")
    assert page.status_code == 200
    for name in ("Lead", "Qualified", "Proposal", "Negotiation", "Won", "Lost"):
        assert f">{name}</h2>" in page.text
    lead = column(page.text, ids["Lead"])
    assert '<span class="kanban-count" title="Deals">2</span>' in lead
    assert "CN¥3,000.35" in lead and "weighted CN¥760.09" in lead
    assert "ERP 升级" in lead and "星辰贸易" in lead and "CN¥1,000.10" in lead and "Mar 1, 2027" in lead
    assert "Signed" in column(page.text, ids["Won"]) and "Signed" not in lead
    assert '<span class="kanban-count" title="Deals">0</span>' in column(page.text, ids["Proposal"])

    # The board in Chinese: stage names from the stage's own Chinese name.
    admin.post("/language", data={"language": "zh", "next": f"/{acme.slug}/deals/"})
    chinese = admin.get(f"/{acme.slug}/deals/").text
    assert ">线索</h2>" in chinese and ">赢单</h2>" in chinese


def test_filters_swap_the_board(acme, admin, make_deal, add_member, in_tenant, stage_ids):
    from crm.customers.models import Customer
    from crm.customers.writes import add_tag
    from crm.tags.service import create_tag

    _a, rep = add_member(acme, "sales_rep", "Rita Rep")
    tagged = make_deal(acme, title="Tagged deal", expected_close="2027-01-15")
    make_deal(acme, member_id=rep, title="Rita's deal", expected_close="2027-06-01")

    def tag():
        vip = create_tag("VIP")
        add_tag([db.session.get(Customer, deal(in_tenant, acme, tagged).customer_id)], vip)
        return vip.id

    vip = in_tenant(acme, tag)
    board = lambda qs: admin.get(f"/{acme.slug}/deals/?{qs}", headers={**HX, "HX-Target": "board"}).text
    assert "<html" not in board("owner=me") and 'id="board"' in board("owner=me")
    assert "Tagged deal" in board("owner=me") and "Rita&#39;s deal" not in board("owner=me")
    assert "Rita&#39;s deal" in board(f"owner={rep}") and "Tagged deal" not in board(f"owner={rep}")
    assert "Tagged deal" in board(f"tag={vip}") and "Rita&#39;s deal" not in board(f"tag={vip}")
    spring = board("close_from=2027-05-01&close_to=2027-12-31")
    assert "Rita&#39;s deal" in spring and "Tagged deal" not in spring
    assert '<span class="kanban-count" title="Deals">1</span>' in column(spring, stage_ids(acme)["Lead"])


def test_new_deal_form_refuses_bad_input_at_the_field(acme, admin, make_customer, stage_ids, in_tenant):
    customer_id = make_customer(acme, name="李雷")
    form = admin.get(f"/{acme.slug}/deals/new?customer_id={customer_id}", headers=HX)
    assert form.status_code == 200 and "<html" not in form.text
    assert re.search(rf'<option value="{customer_id}" selected>李雷', form.text)

    bad = admin.post(f"/{acme.slug}/deals/", headers=HX, data={
        "title": "Big one", "customer_id": "", "stage_id": stage_ids(acme)["Lead"], "amount": "12.345",
        "currency": "CNY", "expected_close": "soon"})
    assert bad.status_code == 422
    assert '<small class="error" id="amount-error">Enter an amount like 19.99 (at most two decimals).</small>' in bad.text
    assert 'id="customer_id-error">Choose a customer.</small>' in bad.text
    assert 'id="expected_close-error">Enter a valid date.</small>' in bad.text
    assert 'value="Big one"' in bad.text and 'value="12.345"' in bad.text  # what was typed stays
    assert in_tenant(acme, lambda: db.session.scalar(select(Deal.id))) is None

    good = admin.post(f"/{acme.slug}/deals/", headers=HX, data={
        "title": "Big one", "customer_id": customer_id, "stage_id": stage_ids(acme)["Proposal"],
        "amount": "12,500", "currency": "usd", "expected_close": "2027-01-31", "probability": "",
        "next": f"/{acme.slug}/customers/{customer_id}"})
    assert good.status_code == 204 and good.headers["HX-Location"] == f"/{acme.slug}/customers/{customer_id}"
    saved = in_tenant(acme, lambda: [(d.title, str(d.amount), d.currency, d.probability)
                                     for d in db.session.scalars(select(Deal))])
    assert saved == [("Big one", "12500.00", "USD", 50)]


def test_next_never_leaves_the_workspace(acme, admin, make_customer, stage_ids):
    customer_id = make_customer(acme)
    for evil in ("https://evil.example/", "//evil.example/x", f"/{acme.slug}/..\\evil", "/other/deals/"):
        answer = admin.post(f"/{acme.slug}/deals/", data={
            "title": "x", "customer_id": customer_id, "stage_id": stage_ids(acme)["Lead"], "next": evil})
        assert answer.status_code == 303 and re.fullmatch(rf"/{acme.slug}/deals/\d+", answer.headers["Location"])


def test_moving_a_card_saves_at_once_and_redraws_both_columns(acme, admin, make_deal, stage_ids, in_tenant):
    ids = stage_ids(acme)
    deal_id = make_deal(acme, title="Drag me", amount="100")
    moved = admin.post(f"/{acme.slug}/deals/{deal_id}/move", headers=HX, data={"stage_id": ids["Negotiation"]})
    assert moved.status_code == 200
    assert "Drag me moved to Negotiation." in moved.text
    assert f'id="column-{ids["Lead"]}" hx-swap-oob="true"' in moved.text
    assert "Drag me" in column(moved.text, ids["Negotiation"]) and "Drag me" not in column(moved.text, ids["Lead"])
    assert "weighted CN¥75.00" in column(moved.text, ids["Negotiation"])
    assert deal(in_tenant, acme, deal_id).stage_id == ids["Negotiation"]


def test_an_illegal_move_is_refused_and_the_card_goes_back(acme, admin, make_deal, stage_ids, in_tenant):
    ids = stage_ids(acme)
    deal_id = make_deal(acme, title="Stay put")
    refused = admin.post(f"/{acme.slug}/deals/{deal_id}/move", headers=HX, data={"stage_id": ids["Lost"]})
    assert refused.status_code == 422
    assert '<p class="alert alert-error" role="alert">Say why the deal was lost.</p>' in refused.text
    assert "Stay put" in column(refused.text, ids["Lead"]) and "Stay put" not in column(refused.text, ids["Lost"])
    assert deal(in_tenant, acme, deal_id).status == "open"

    admin.post(f"/{acme.slug}/deals/pipelines/1/stages", data={"name_en": "Demo", "probability": "40"})
    demo = in_tenant(acme, lambda: db.session.scalar(select(Stage.id).where(Stage.name_en == "Demo")))
    admin.post(f"/{acme.slug}/deals/stages/{demo}/retire")
    retired = admin.post(f"/{acme.slug}/deals/{deal_id}/move", headers=HX, data={"stage_id": demo})
    assert retired.status_code == 422 and "The stage Demo is retired; choose another one." in retired.text

    # Without JavaScript the same refusal comes back as a message on the board.
    plain = admin.post(f"/{acme.slug}/deals/{deal_id}/move", data={"stage_id": ids["Lost"]}, follow_redirects=True)
    assert "Say why the deal was lost." in plain.text and 'id="board"' in plain.text


def test_losing_asks_for_the_reason_in_a_modal(acme, admin, make_deal, stage_ids, in_tenant):
    ids = stage_ids(acme)
    deal_id = make_deal(acme, title="Long shot")
    ask = admin.get(f"/{acme.slug}/deals/{deal_id}/lose?stage_id={ids['Lost']}&next=/{acme.slug}/deals/", headers=HX)
    assert ask.status_code == 200 and "Why was Long shot lost?" in ask.text
    empty = admin.post(f"/{acme.slug}/deals/{deal_id}/lose", headers=HX, data={"lost_reason": " ", "stage_id": ids["Lost"]})
    assert empty.status_code == 422 and 'id="lost_reason-error">Say why the deal was lost.</small>' in empty.text
    done = admin.post(f"/{acme.slug}/deals/{deal_id}/lose", headers=HX,
                      data={"lost_reason": "Budget cut", "stage_id": ids["Lost"], "next": f"/{acme.slug}/deals/"})
    assert done.status_code == 204 and done.headers["HX-Location"] == f"/{acme.slug}/deals/"
    lost = deal(in_tenant, acme, deal_id)
    assert (lost.status, lost.lost_reason) == ("lost", "Budget cut")
    page = admin.get(f"/{acme.slug}/deals/{deal_id}").text
    assert "Budget cut" in page and "Deal Long shot lost: Budget cut" in page

    won = admin.post(f"/{acme.slug}/deals/{deal_id}/win", follow_redirects=True)
    assert "Deal Long shot won." in won.text and deal(in_tenant, acme, deal_id).status == "won"


def test_deal_page_shows_fields_path_history_and_timeline(acme, admin, make_deal, stage_ids):
    ids = stage_ids(acme)
    deal_id = make_deal(acme, title="合同 A", amount="8800", source="展会", notes="Call after the fair")
    admin.post(f"/{acme.slug}/deals/{deal_id}/move", data={"stage_id": ids["Proposal"]})
    page = admin.get(f"/{acme.slug}/deals/{deal_id}").text
    assert "<h1" in page and "合同 A" in page and "CN¥8,800.00" in page and "展会" in page and "Call after the fair" in page
    assert re.search(r'<li class="kind-open current" aria-current="step">\s*<span>Proposal</span>', page)
    assert "Lead → Proposal" in page and "Created in Lead" in page
    assert "Deal 合同 A moved from Lead to Proposal" in page and "Deal 合同 A created in stage Lead" in page


def test_editing_and_deleting_a_deal(acme, admin, make_deal, in_tenant):
    deal_id = make_deal(acme, title="Old title")
    form = admin.get(f"/{acme.slug}/deals/{deal_id}/edit", headers=HX)
    assert form.status_code == 200 and 'value="Old title"' in form.text
    bad = admin.post(f"/{acme.slug}/deals/{deal_id}", headers=HX, data={"title": "", "amount": "1"})
    assert bad.status_code == 422 and 'id="title-error">This field is required.</small>' in bad.text
    ok = admin.post(f"/{acme.slug}/deals/{deal_id}", headers=HX, data={"title": "New title", "amount": "10"})
    assert ok.status_code == 204
    assert deal(in_tenant, acme, deal_id).title == "New title"
    assert admin.post(f"/{acme.slug}/deals/{deal_id}/delete").status_code == 303
    assert deal(in_tenant, acme, deal_id) is None
    assert admin.get(f"/{acme.slug}/deals/{deal_id}").status_code == 404


def test_list_view_filters_sorts_and_pages(acme, admin, make_customer, stage_ids, in_tenant):
    from crm.members.models import Member
    from crm.deals import deals

    customer_id, lead = make_customer(acme), stage_ids(acme)["Lead"]

    def many():
        viewer = db.session.get(Member, acme.admin_member_id)
        for i in range(55):
            deals.create_deal(viewer, {"title": f"Deal {i:02d}", "customer_id": customer_id, "stage_id": lead,
                                       "amount": str(i * 10)})

    in_tenant(acme, many)
    seen, url = [], f"/{acme.slug}/deals/list?sort=amount"
    while url:
        page = admin.get(url, headers=HX).text
        seen += re.findall(r'id="deal-(\d+)"', page)
        more = re.search(r'<tr class="more" hx-get="([^"]+)"', page)
        url = more.group(1).replace("&amp;", "&") if more else None
    assert len(seen) == 55 and len(set(seen)) == 55
    amounts = in_tenant(acme, lambda: [db.session.get(Deal, int(i)).amount for i in seen])
    assert amounts == sorted(amounts, reverse=True)
    won = admin.get(f"/{acme.slug}/deals/list?status=won", headers={**HX, "HX-Target": "results"}).text
    assert "No deals match." in won and "<html" not in won and 'id="deal-filters"' not in won
    # Any other htmx request (HX-Location after a modal form) gets the whole page.
    assert "<html" in admin.get(f"/{acme.slug}/deals/", headers=HX).text


def test_a_column_loads_more_cards_on_demand(acme, admin, make_customer, stage_ids, in_tenant):
    from crm.members.models import Member
    from crm.deals import deals

    customer_id, lead = make_customer(acme), stage_ids(acme)["Lead"]
    in_tenant(acme, lambda: [deals.create_deal(db.session.get(Member, acme.admin_member_id), {
        "title": f"Card {i:02d}", "customer_id": customer_id, "stage_id": lead}) for i in range(33)])
    board = admin.get(f"/{acme.slug}/deals/").text
    assert board.count('class="deal-card"') == 30 and "Card 32" in board and "Card 02" not in board
    more = re.search(r'<li class="kanban-more"><button [^>]*hx-get="([^"]+)"', board).group(1).replace("&amp;", "&")
    rest = admin.get(more, headers=HX).text
    assert rest.count('class="deal-card"') == 3 and "Card 02" in rest and "Card 00" in rest and "kanban-more" not in rest


def test_a_sales_rep_only_reaches_own_deals(acme, client_as, add_member, make_deal, stage_ids):
    rep_account, rep = add_member(acme, "sales_rep", "Rita Rep")
    _other_account, other = add_member(acme, "sales_rep", "Otto Rep")
    mine = make_deal(acme, member_id=rep, title="Rita deal")
    theirs = make_deal(acme, member_id=other, title="Otto deal")
    rep_client = client_as(rep_account)
    board = rep_client.get(f"/{acme.slug}/deals/").text
    assert "Rita deal" in board and "Otto deal" not in board
    assert "Otto deal" not in rep_client.get(f"/{acme.slug}/deals/list").text
    for method, url in (("GET", f"/deals/{theirs}"), ("GET", f"/deals/{theirs}/edit"), ("POST", f"/deals/{theirs}/move"),
                        ("POST", f"/deals/{theirs}"), ("POST", f"/deals/{theirs}/delete"), ("GET", f"/deals/{theirs}/lose"),
                        ("POST", f"/deals/{theirs}/win")):
        answer = rep_client.open(f"/{acme.slug}{url}", method=method, headers=HX,
                                 data={"stage_id": stage_ids(acme)["Won"], "title": "Hacked"})
        assert answer.status_code == 404, (method, url)
        assert "Otto deal" not in answer.text
    assert rep_client.get(f"/{acme.slug}/deals/{mine}").status_code == 200
    assert rep_client.get(f"/{acme.slug}/deals/pipelines").status_code == 403


def test_admins_manage_pipelines_and_retire_stages_with_their_deals(acme, admin, make_deal, stage_ids, in_tenant):
    ids = stage_ids(acme)
    deals = [make_deal(acme, stage="Qualified") for _ in range(2)]
    page = admin.get(f"/{acme.slug}/deals/pipelines").text
    assert 'value="Qualified"' in page and "2 deals" in page and "Move 2 deals and retire" in page

    assert admin.post(f"/{acme.slug}/deals/stages/{ids['Qualified']}/retire", data={}).status_code == 422
    retired = admin.post(f"/{acme.slug}/deals/stages/{ids['Qualified']}/retire",
                         data={"to_stage_id": ids["Proposal"]}, follow_redirects=True)
    assert "Stage Qualified retired." in retired.text and "Retired stages: Qualified" in retired.text
    assert all(deal(in_tenant, acme, d).stage_id == ids["Proposal"] for d in deals)

    bad = admin.post(f"/{acme.slug}/deals/stages/{ids['Lead']}", data={"name_en": "", "probability": "150",
                                                                       "kind": "open"})
    assert bad.status_code == 422 and "Enter a name in English or Chinese." in bad.text and "Enter a whole number from 0 to 100." in bad.text
    admin.post(f"/{acme.slug}/deals/stages/{ids['Lead']}", data={"name_en": "Inbound", "name_zh": "询盘",
                                                                  "probability": "5", "kind": "open"})
    admin.post(f"/{acme.slug}/deals/stages/{ids['Lead']}/move", data={"direction": "down"})
    assert admin.post(f"/{acme.slug}/deals/pipelines", data={"name_en": "Renewals", "name_zh": "续约"}).status_code == 303
    assert admin.post(f"/{acme.slug}/deals/pipelines/1", data={"name_en": "New sales", "active": "1"}).status_code == 303

    def names():
        from crm.deals import stages
        return [(p.name_en, [s.name_en for s in stages.stages(p.id)]) for p in stages.pipelines()]

    assert in_tenant(acme, names) == [
        ("New sales", ["Proposal", "Inbound", "Negotiation", "Won", "Lost"]),
        ("Renewals", ["Lead", "Qualified", "Proposal", "Negotiation", "Won", "Lost"])]
    board = admin.get(f"/{acme.slug}/deals/").text
    assert ">Renewals</a>" in board and ">Inbound</h2>" in board


def test_customer_deals_partial_lists_deals_and_offers_a_new_one(app, acme, make_customer, make_deal):
    from flask import g, render_template

    from crm.members.models import Member
    from crm.deals import deal_queries
    from tenants.binding import tenant_bound

    customer_id = make_customer(acme, name="王芳")
    make_deal(acme, customer_id=customer_id, title="Ten seats", amount="3000")
    with app.test_request_context(f"/{acme.slug}/customers/{customer_id}"), tenant_bound(acme.ref):
        g.member = db.session.get(Member, acme.admin_member_id)
        html = render_template("deals/_customer_deals.html", customer={"id": customer_id},
                               deals=deal_queries.deals_for_customer(g.member, customer_id))
    assert "Ten seats" in html and "Lead" in html and "CN¥3,000.00" in html
    assert f"/{acme.slug}/deals/new?customer_id={customer_id}" in html
