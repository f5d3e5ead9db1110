"""Pipelines and stages named in one language: accepted, refused only with no name at all, and shown in the
other language's name to readers of the language left empty (board, settings, timeline, audit log)."""
from sqlalchemy import select

from crm.audit.models import AuditEntry
from crm.deals.models import Pipeline, Stage
from crm.extensions import db
from tests.conftest import HX


def named(in_tenant, acme, model, **where):
    return in_tenant(acme, lambda: db.session.execute(
        select(model.id, model.name_en, model.name_zh).filter_by(**where)).one())


def test_a_pipeline_and_a_stage_named_only_in_chinese_show_to_english_readers(
        acme, admin, in_tenant, make_deal):
    admin.post("/language", data={"language": "zh"})
    assert admin.post(f"/{acme.slug}/deals/pipelines", data={"name_en": "", "name_zh": "外贸"}).status_code == 303
    pipeline_id, english, _chinese = named(in_tenant, acme, Pipeline, name_zh="外贸")
    assert english == ""
    assert admin.post(f"/{acme.slug}/deals/pipelines/{pipeline_id}/stages", data={
        "name_en": "", "name_zh": "样品寄送", "probability": "30", "kind": "open"}).status_code == 303
    stage_id, english, _chinese = named(in_tenant, acme, Stage, name_zh="样品寄送")
    assert english == ""

    admin.post("/language", data={"language": "en"})
    board = admin.get(f"/{acme.slug}/deals/?pipeline_id={pipeline_id}").text
    assert ">样品寄送</h2>" in board and 'aria-current="page">外贸</a>' in board and ">Lead</h2>" in board
    settings = admin.get(f"/{acme.slug}/deals/pipelines").text
    assert 'aria-label="Move 样品寄送 up"' in settings
    summaries = in_tenant(acme, lambda: list(db.session.scalars(select(AuditEntry.summary).where(
        AuditEntry.entity.in_(("pipeline", "stage"))).order_by(AuditEntry.id))))
    assert summaries == ["外贸", "外贸: 样品寄送"]


def test_a_stage_named_only_in_english_shows_to_chinese_readers(acme, admin, in_tenant):
    assert admin.post(f"/{acme.slug}/deals/pipelines/1/stages", data={
        "name_en": "Demo", "probability": "40", "kind": "open"}).status_code == 303
    assert named(in_tenant, acme, Stage, name_en="Demo")[2] == ""
    admin.post("/language", data={"language": "zh"})
    board = admin.get(f"/{acme.slug}/deals/").text
    assert ">Demo</h2>" in board and ">线索</h2>" in board


def test_no_name_in_either_language_is_refused_at_the_form(acme, admin, in_tenant, stage_ids):
    lead = stage_ids(acme)["Lead"]
    for url, data, start, end in (
            (f"/{acme.slug}/deals/pipelines", {"name_en": " ", "name_zh": ""}, 'new-pipeline-form">', "</form>"),
            (f"/{acme.slug}/deals/pipelines/1/stages", {"probability": "10"}, 'add-stage-form">', "</form>"),
            (f"/{acme.slug}/deals/stages/{lead}", {"name_en": "", "name_zh": "", "probability": "10"},
             f'id="stage-{lead}">', "</li>")):
        refused = admin.post(url, data=data)
        assert refused.status_code == 422
        at_the_form = refused.text.split(start, 1)[1].split(end, 1)[0]
        assert '<small class="error" role="alert">Enter a name in English or Chinese.</small>' in at_the_form
    assert in_tenant(acme, lambda: db.session.scalar(select(db.func.count()).select_from(Pipeline))) == 1
    assert named(in_tenant, acme, Stage, id=lead)[1:] == ("Lead", "线索")


def test_the_timeline_names_a_one_language_stage_in_both_languages(acme, admin, in_tenant, make_deal, stage_ids):
    admin.post(f"/{acme.slug}/deals/pipelines/1/stages", data={"name_zh": "样品寄送", "probability": "30"})
    sample = named(in_tenant, acme, Stage, name_zh="样品寄送")[0]
    deal_id = make_deal(acme, title="Tea order")
    assert admin.post(f"/{acme.slug}/deals/{deal_id}/move", data={"stage_id": sample}, headers=HX).status_code == 200
    assert "Deal Tea order moved from Lead to 样品寄送" in admin.get(f"/{acme.slug}/deals/{deal_id}").text
    admin.post("/language", data={"language": "zh"})
    assert "样品寄送" in admin.get(f"/{acme.slug}/deals/{deal_id}").text
