"""Pipeline and deal rules: stage moves, lost reasons, retired and foreign stages, probabilities, column
totals with Decimal, and retiring a stage that still holds deals."""
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from werkzeug.exceptions import NotFound

from crm.audit.models import AuditEntry
from crm.errors import Invalid
from crm.extensions import db
from crm.members.models import Member
from crm.deals import deal_queries, deals, stages
from crm.deals.models import Deal, DealStageChange, Pipeline, Stage
from crm.timeline.models import TimelineEvent


@pytest.fixture
def run(in_tenant):
    """run(tenant, fn, member_id=None): fn(viewer) inside the tenant; committed when it returns."""
    def call(tenant, fn, member_id=None):
        return in_tenant(tenant, lambda: fn(db.session.get(Member, member_id or tenant.admin_member_id)))

    return call


def deal_row(tenant, in_tenant, deal_id) -> dict:
    def read():
        deal = db.session.get(Deal, deal_id)
        return {"stage": deal.stage.name_en, "status": deal.status, "probability": deal.probability,
                "probability_set": deal.probability_set, "lost_reason": deal.lost_reason,
                "closed": deal.closed_at is not None, "pipeline_id": deal.pipeline_id, "amount": deal.amount}
    return in_tenant(tenant, read)


def events(tenant, in_tenant, deal_id) -> list[tuple[str, dict]]:
    return in_tenant(tenant, lambda: [(e.kind, e.payload) for e in db.session.scalars(
        select(TimelineEvent).where(TimelineEvent.deal_id == deal_id).order_by(TimelineEvent.id))])


def test_new_tenant_has_the_default_pipeline_in_both_languages(acme, in_tenant):
    def read():
        pipeline = db.session.scalar(select(Pipeline))
        return pipeline.name_en, pipeline.name_zh, [(s.name_en, s.name_zh, s.probability, s.kind)
                                                    for s in stages.stages(pipeline.id)]

    name_en, name_zh, default_stages = in_tenant(acme, read)
    assert (name_en, name_zh) == ("Sales", "销售")
    assert default_stages == [
        ("Lead", "线索", 10, "open"), ("Qualified", "已确认", 25, "open"), ("Proposal", "方案", 50, "open"),
        ("Negotiation", "谈判", 75, "open"), ("Won", "赢单", 100, "won"), ("Lost", "输单", 0, "lost")]


def test_a_new_deal_takes_the_stage_probability_and_starts_its_history(acme, make_deal, in_tenant):
    deal_id = make_deal(acme, stage="Qualified", title="ERP 系统", amount="12,500.50")
    assert deal_row(acme, in_tenant, deal_id) == {
        "stage": "Qualified", "status": "open", "probability": 25, "probability_set": False, "lost_reason": None,
        "closed": False, "pipeline_id": 1, "amount": Decimal("12500.50")}
    currency = in_tenant(acme, lambda: db.session.get(Deal, deal_id).currency)
    assert currency == "CNY"  # the workspace's currency setting
    history = in_tenant(acme, lambda: [(c.from_stage_id, c.to_stage_id) for c in db.session.scalars(
        select(DealStageChange).where(DealStageChange.deal_id == deal_id))])
    qualified = in_tenant(acme, lambda: db.session.scalar(select(Stage.id).where(Stage.name_en == "Qualified")))
    assert history == [(None, qualified)]
    assert events(acme, in_tenant, deal_id) == [("deal_created", {
        "deal": "ERP 系统", "stage": {"en": "Qualified", "zh": "已确认"}, "link": ["deals.show", {"deal_id": deal_id}]})]
    audit = in_tenant(acme, lambda: db.session.scalar(select(AuditEntry.summary).where(
        AuditEntry.entity == "deal", AuditEntry.entity_id == deal_id, AuditEntry.action == "create")))
    assert audit == "ERP 系统"


def test_moves_keep_status_history_and_timeline_in_step(acme, make_deal, stage_ids, run, in_tenant):
    ids = stage_ids(acme)
    deal_id = make_deal(acme, title="Big one")
    move = lambda stage, reason=None: run(acme, lambda viewer: deals.move_deal_to_stage(
        viewer, deal_queries.get_deal(viewer, deal_id, "edit"), ids[stage], reason))

    move("Proposal")
    assert deal_row(acme, in_tenant, deal_id)["probability"] == 50
    move("Won")
    won = deal_row(acme, in_tenant, deal_id)
    assert (won["status"], won["probability"], won["closed"]) == ("won", 100, True)
    move("Negotiation")
    reopened = deal_row(acme, in_tenant, deal_id)
    assert (reopened["status"], reopened["closed"]) == ("open", False)

    kinds = [(kind, payload.get("from"), payload.get("to")) for kind, payload in events(acme, in_tenant, deal_id)]
    assert kinds == [("deal_created", None, None),
                     ("deal_stage", {"en": "Lead", "zh": "线索"}, {"en": "Proposal", "zh": "方案"}),
                     ("deal_won", None, None),
                     ("deal_stage", {"en": "Won", "zh": "赢单"}, {"en": "Negotiation", "zh": "谈判"})]
    history = in_tenant(acme, lambda: [(c.from_stage_id, c.to_stage_id) for c in db.session.scalars(
        select(DealStageChange).where(DealStageChange.deal_id == deal_id).order_by(DealStageChange.id))])
    assert history == [(None, ids["Lead"]), (ids["Lead"], ids["Proposal"]), (ids["Proposal"], ids["Won"]),
                       (ids["Won"], ids["Negotiation"])]


def test_lost_needs_a_reason(acme, make_deal, stage_ids, run, in_tenant):
    ids = stage_ids(acme)
    deal_id = make_deal(acme, title="Small one")

    def lose(reason):
        return lambda viewer: deals.move_deal_to_stage(viewer, deal_queries.get_deal(viewer, deal_id, "edit"),
                                                       ids["Lost"], reason)

    for reason in (None, "", "   "):
        with pytest.raises(Invalid) as refused:
            run(acme, lose(reason))
        assert refused.value.errors == {"lost_reason": "Say why the deal was lost."}
    assert deal_row(acme, in_tenant, deal_id)["status"] == "open"
    run(acme, lose("  价格太高 "))
    lost = deal_row(acme, in_tenant, deal_id)
    assert (lost["status"], lost["lost_reason"], lost["closed"], lost["probability"]) == ("lost", "价格太高", True, 0)
    assert events(acme, in_tenant, deal_id)[-1][0] == "deal_lost"
    assert events(acme, in_tenant, deal_id)[-1][1]["reason"] == "价格太高"
    with pytest.raises(Invalid):
        run(acme, lambda viewer: deals.mark_lost(viewer, deal_queries.get_deal(viewer, deal_id), ""))


def test_retired_stages_and_other_pipelines_are_refused(acme, make_deal, stage_ids, run, in_tenant):
    ids = stage_ids(acme)
    deal_id = make_deal(acme)
    run(acme, lambda viewer: stages.retire_stage(viewer, stages.get_stage(ids["Qualified"]), None))
    other = run(acme, lambda viewer: stages.stages(stages.create_pipeline({"name_en": "Projects"}).id)[0].id)

    for stage_id, message in ((ids["Qualified"], "The stage Qualified is retired; choose another one."),
                              (other, "A deal can only move between stages of its own pipeline."),
                              (999999, "Choose a stage.")):
        with pytest.raises(Invalid) as refused:
            run(acme, lambda viewer, stage_id=stage_id: deals.move_deal_to_stage(
                viewer, deal_queries.get_deal(viewer, deal_id, "edit"), stage_id))
        assert refused.value.errors == {"stage_id": message}
    assert deal_row(acme, in_tenant, deal_id)["stage"] == "Lead"


def test_probability_can_be_overridden_and_then_survives_moves(acme, make_deal, stage_ids, run, in_tenant):
    ids = stage_ids(acme)
    typed = make_deal(acme, probability="40")
    same_as_stage = make_deal(acme, probability="10")
    for deal_id in (typed, same_as_stage):
        run(acme, lambda viewer, deal_id=deal_id: deals.move_deal_to_stage(
            viewer, deal_queries.get_deal(viewer, deal_id), ids["Proposal"]))
    assert (deal_row(acme, in_tenant, typed)["probability"], deal_row(acme, in_tenant, typed)["probability_set"]) == (40, True)
    assert deal_row(acme, in_tenant, same_as_stage)["probability"] == 50  # typing the stage's own value is no override

    # Emptying the field hands the probability back to the stage.
    run(acme, lambda viewer: deals.update_deal(viewer, deal_queries.get_deal(viewer, typed), {"probability": ""}))
    assert deal_row(acme, in_tenant, typed)["probability"] == 50
    with pytest.raises(Invalid) as refused:
        run(acme, lambda viewer: deals.update_deal(viewer, deal_queries.get_deal(viewer, typed),
                                                   {"probability": "101"}))
    assert refused.value.errors == {"probability": "Enter a whole number from 0 to 100."}

    # A stage's new probability reaches the deals that follow it, not the overridden ones.
    run(acme, lambda viewer: deals.update_deal(viewer, deal_queries.get_deal(viewer, typed), {"probability": "45"}))
    run(acme, lambda viewer: stages.update_stage(stages.get_stage(ids["Proposal"]), {
        "name_en": "Proposal", "name_zh": "方案", "probability": "60", "kind": "open"}))
    assert deal_row(acme, in_tenant, same_as_stage)["probability"] == 60
    assert deal_row(acme, in_tenant, typed)["probability"] == 45


def test_bad_input_is_reported_at_every_field_at_once(acme, run, make_customer, stage_ids):
    with pytest.raises(Invalid) as refused:
        run(acme, lambda viewer: deals.create_deal(viewer, {
            "title": "", "customer_id": "", "stage_id": "x", "amount": "-5", "currency": "yuan",
            "expected_close": "31/12/2026", "probability": "50.5"}))
    assert set(refused.value.errors) == {"title", "customer_id", "stage_id", "amount", "currency", "expected_close",
                                         "probability"}
    customer_id, lead = make_customer(acme), stage_ids(acme)["Lead"]
    for amount in ("1e3", "12.345", "1000000000000", "NaN", "abc"):
        with pytest.raises(Invalid) as refused:
            run(acme, lambda viewer, amount=amount: deals.create_deal(viewer, {
                "title": "x", "customer_id": customer_id, "stage_id": lead, "amount": amount}))
        assert set(refused.value.errors) == {"amount"}, amount


def test_column_totals_and_weighted_totals_are_exact_decimals(acme, make_deal, stage_ids, run):
    make_deal(acme, amount="1000.10")
    make_deal(acme, amount="2000.25", probability="33")
    make_deal(acme, amount="0.01")
    make_deal(acme, amount="500", currency="USD")
    make_deal(acme, stage="Won", amount="99.99")

    def columns(viewer):
        pipeline = stages.board_pipeline(None)
        return {c.stage.name_en: (c.count, c.totals, len(c.cards)) for c in
                deal_queries.board(viewer, pipeline, deal_queries.DealQuery(pipeline_id=pipeline.id))}

    result = run(acme, columns)
    # Weighted: (1000.10 x 10 + 2000.25 x 33 + 0.01 x 10) / 100 = 760.0935, rounded to cents.
    assert result["Lead"] == (4, [("CNY", Decimal("3000.36"), Decimal("760.09")),
                                  ("USD", Decimal("500.00"), Decimal("50.00"))], 4)
    assert result["Won"] == (1, [("CNY", Decimal("99.99"), Decimal("99.99"))], 1)
    assert result["Proposal"] == (0, [], 0)
    assert all(isinstance(v, Decimal) for _c, total, weighted in result["Lead"][1] for v in (total, weighted))


def test_columns_show_thirty_cards_then_load_the_rest(acme, make_customer, stage_ids, run):
    customer_id, lead = make_customer(acme), stage_ids(acme)["Lead"]

    def many(viewer):
        for i in range(deal_queries.PAGE_SIZE + 5):
            deals.create_deal(viewer, {"title": f"Deal {i:02d}", "customer_id": customer_id, "stage_id": lead})

    run(acme, many)

    def load(viewer):
        lead = deal_queries.board(viewer, stages.board_pipeline(None), deal_queries.DealQuery())[0]
        rest = deal_queries.column(viewer, lead.stage, deal_queries.DealQuery(), after=lead.more)
        return lead.count, [d.title for d in lead.cards], [d.title for d in rest.cards], rest.more

    count, first, rest, more = run(acme, load)
    assert count == 35 and len(first) == 30 and first[0] == "Deal 34"
    assert rest == [f"Deal {i:02d}" for i in range(4, -1, -1)] and more == ""


def test_retiring_a_stage_first_moves_its_deals(acme, make_deal, stage_ids, run, in_tenant):
    ids = stage_ids(acme)
    moved = [make_deal(acme, stage="Qualified", title=f"Q{i}") for i in range(2)]
    typed = make_deal(acme, stage="Qualified", title="Typed", probability="90")
    qualified = lambda: stages.get_stage(ids["Qualified"])

    for target, expected in ((None, "to_stage_id"), (ids["Won"], "to_stage_id"), (ids["Qualified"], "to_stage_id")):
        with pytest.raises(Invalid) as refused:
            run(acme, lambda viewer, target=target: stages.retire_stage(viewer, qualified(), target))
        assert set(refused.value.errors) == {expected}
    assert run(acme, lambda viewer: stages.retire_stage(viewer, qualified(), ids["Proposal"])) == 3

    assert [deal_row(acme, in_tenant, d)["stage"] for d in moved + [typed]] == ["Proposal"] * 3
    assert deal_row(acme, in_tenant, moved[0])["probability"] == 50
    assert deal_row(acme, in_tenant, typed)["probability"] == 90
    assert in_tenant(acme, lambda: db.session.get(Stage, ids["Qualified"]).active) is False
    changes = in_tenant(acme, lambda: db.session.scalar(select(func.count()).where(
        DealStageChange.from_stage_id == ids["Qualified"], DealStageChange.to_stage_id == ids["Proposal"])))
    assert changes == 3
    assert events(acme, in_tenant, typed)[-1] == ("deal_stage", {
        "deal": "Typed", "from": {"en": "Qualified", "zh": "已确认"}, "to": {"en": "Proposal", "zh": "方案"},
        "link": ["deals.show", {"deal_id": typed}]})
    assert "Qualified" not in in_tenant(acme, lambda: [s.name_en for s in stages.stages(1)])


def test_a_pipeline_keeps_an_open_a_won_and_a_lost_stage(acme, stage_ids, run):
    ids = stage_ids(acme)
    with pytest.raises(Invalid) as refused:
        run(acme, lambda viewer: stages.retire_stage(viewer, stages.get_stage(ids["Won"]), None))
    assert "kind" in refused.value.errors
    with pytest.raises(Invalid):
        run(acme, lambda viewer: stages.update_stage(stages.get_stage(ids["Lost"]), {
            "name_en": "Lost", "probability": "0", "kind": "open"}))


def test_stages_are_added_before_the_closed_ones_and_reordered(acme, run):
    def add_and_move(viewer):
        pipeline = stages.board_pipeline(None)
        demo = stages.add_stage(pipeline, {"name_en": "Demo", "name_zh": "演示", "probability": "60"})
        stages.move_stage(demo, -1)
        stages.move_stage(stages.stages(pipeline.id)[0], -1)  # the first cannot go further up
        return [s.name_en for s in stages.stages(pipeline.id)]

    assert run(acme, add_and_move) == ["Lead", "Qualified", "Proposal", "Demo", "Negotiation", "Won", "Lost"]
    with pytest.raises(Invalid) as refused:
        run(acme, lambda viewer: stages.add_stage(stages.board_pipeline(None), {"name_en": "", "probability": "x"}))
    assert set(refused.value.errors) == {"name_en", "probability"}


def test_a_rep_reaches_only_own_deals(acme, add_member, make_deal, run):
    _a, rep = add_member(acme, "sales_rep", "Rep One")
    _b, other = add_member(acme, "sales_rep", "Rep Two")
    own = make_deal(acme, member_id=rep, title="Mine")
    theirs = make_deal(acme, member_id=other, title="Theirs")
    with pytest.raises(NotFound):
        run(acme, lambda viewer: deal_queries.get_deal(viewer, theirs, "edit"), member_id=rep)
    titles = run(acme, lambda viewer: [d.title for c in deal_queries.board(viewer, stages.board_pipeline(None),
                                                                           deal_queries.DealQuery()) for d in c.cards],
                 rep)
    assert titles == ["Mine"]
    assert run(acme, lambda viewer: deal_queries.get_deal(viewer, own).title, rep) == "Mine"
    with pytest.raises(Invalid) as refused:  # a rep cannot hand a deal to someone else
        run(acme, lambda viewer: deals.update_deal(viewer, deal_queries.get_deal(viewer, own),
                                                   {"owner_id": str(other)}),
            rep)
    assert set(refused.value.errors) == {"owner_id"}


def test_deleting_a_deal_removes_its_history_and_timeline(acme, make_deal, run, in_tenant):
    from crm.extensions import utcnow
    from crm.followups.models import Activity

    deal_id = make_deal(acme)

    def plan():
        deal = db.session.get(Deal, deal_id)
        call = Activity(customer_id=deal.customer_id, deal_id=deal_id, owner_id=acme.admin_member_id, method="call",
                        summary="Call about the deal", outcome="", due_at=utcnow())
        db.session.add(call)
        db.session.flush()
        return call.id
    call_id = in_tenant(acme, plan)
    run(acme, lambda viewer: deals.delete_deal(deal_queries.get_deal(viewer, deal_id, "delete")))
    # The follow-up stays on the customer's day, no longer pointing at a deal that is gone.
    assert in_tenant(acme, lambda: db.session.get(Activity, call_id).deal_id) is None
    assert in_tenant(acme, lambda: db.session.get(Deal, deal_id)) is None
    assert events(acme, in_tenant, deal_id) == []
    assert in_tenant(acme, lambda: db.session.scalar(select(func.count()).where(
        DealStageChange.deal_id == deal_id))) == 0


def test_deals_for_customer_lists_open_deals_first(acme, make_customer, make_deal, add_member, run):
    _a, rep = add_member(acme, "sales_rep")
    customer_id = make_customer(acme, member_id=rep, name="王芳")  # a rep's customer; the admin has deals too
    make_deal(acme, customer_id=customer_id, title="Old win", stage="Won")
    make_deal(acme, customer_id=customer_id, title="Open one")
    make_deal(acme, member_id=rep, customer_id=customer_id, title="Rep's")
    titles = lambda viewer: [d.title for d in deal_queries.deals_for_customer(viewer, customer_id)]
    assert run(acme, titles) == ["Rep's", "Open one", "Old win"]
    assert run(acme, titles, rep) == ["Rep's"]


def test_list_pages_by_keyset_in_every_sort(acme, make_customer, stage_ids, run):
    customer_id, lead = make_customer(acme), stage_ids(acme)["Lead"]

    def many(viewer):
        for i, amount in enumerate(["5", "5", "700", "12.5", "5", "99", "0"]):
            deals.create_deal(viewer, {"title": f"T{i % 3}", "customer_id": customer_id, "amount": amount,
                                       "stage_id": lead,
                                       "expected_close": f"2027-0{1 + i % 2}-0{1 + i % 4}" if i % 3 else ""})

    run(acme, many)
    for sort in deal_queries.SORTS:
        def pages(viewer, sort=sort):
            seen, query = [], deal_queries.DealQuery(sort=sort)
            while True:
                rows, cursor = deal_queries.list_deals(viewer, query, limit=2)
                seen += rows
                if not cursor:
                    return [(d.id, d.title, d.amount, d.expected_close) for d in seen]
                query.after = cursor

        seen = run(acme, pages)
        assert len({row[0] for row in seen}) == 7, sort
        whole = run(acme, lambda viewer, sort=sort: [
            (d.id, d.title, d.amount, d.expected_close)
            for d in deal_queries.list_deals(viewer, deal_queries.DealQuery(sort=sort))[0]])
        assert seen == whole, sort
