"""The reports page (a pack's reports, each loaded as its own fragment), and for every registered report its
fragment route and its export route (`reports.<key>`, `reports.<key>_export`)."""
from flask import Response, g, render_template, request
from flask_babel import lazy_gettext as _l

from crm import registry
from crm.customers.models import LEVELS
from crm.deals import stages
from crm.members import service as members
from crm.members.access import members_in_reach, require
from crm.reports import export
# The packs register their reports when imported, in the order of their tabs.
from crm.reports import customers, sales, revenue, team, service_desk, campaigns  # noqa: F401
from crm.reports.catalogue import PACKS, REPORTS, Report, pack_reports
from crm.reports.periods import PRESETS, ReportQuery
from crm.reports.results import shown
from crm.reports.service import sources
from crm.tags import service as tags
from crm.web import fragment_of, on_invalid, render
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("reports", __name__, "/reports")
registry.plug(bp, registry.MenuEntry("reports.index", _l("Reports"), order=75, permission=("reports", "view"),
                                     current=("reports.*",)))


@bp.context_processor
def helpers():
    return {"shown": shown}


def _pack() -> str:
    return request.args.get("pack") if request.args.get("pack") in PACKS else next(iter(PACKS))


@bp.get("/")
@require("reports", "view")
def index():
    """One pack's reports under the period and filters; the filter form swaps the reports, each then loads."""
    pack = _pack()
    on_invalid(lambda error: _page(pack, ReportQuery.refused(), error.errors))
    return _page(pack, ReportQuery.from_args(request.args))


def _page(pack: str, query: ReportQuery, errors: dict | None = None):
    whole_page = request.headers.get("HX-Target") != "reports"
    return render("reports/index.html", block=None if whole_page else "reports", pack=pack, packs=PACKS,
                  reports=pack_reports(pack), query=query, errors=errors or {}, presets=PRESETS, levels=LEVELS,
                  members=members_in_reach(g.member, "reports", "view") if whole_page else [],
                  teams=members.teams() if whole_page else [], pipelines=stages.pipelines() if whole_page else [],
                  tags=tags.all_tags() if whole_page else [], sources=sources(g.member) if whole_page else [])


def _fragment(report: Report):
    @require("reports", "view")
    @fragment_of("reports.index")
    def show():
        """One report: figures, chart and table, for the period and filters of the query string."""
        on_invalid(lambda error: render_template("reports/_report.html", report=report, result=None,
                                                 errors=error.errors))
        query = ReportQuery.from_args(request.args)
        return render_template("reports/_report.html", report=report, query=query,
                               result=report.build(g.member, query))

    show.__name__ = report.key
    return show


def _export(report: Report):
    @require("reports", "export")
    def download():
        """The report's table as CSV or XLSX (`format`)."""
        query = ReportQuery.from_args(request.args)
        table = report.build(g.member, query).table
        kind = "xlsx" if request.args.get("format") == "xlsx" else "csv"
        body = export.to_xlsx(table, str(report.title)) if kind == "xlsx" else export.to_csv(table)
        name = f"{report.key}-{query.period.start.isoformat()}-{query.period.end.isoformat()}.{kind}"
        return Response(body, content_type=export.TYPES[kind],
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    download.__name__ = f"{report.key}_export"
    return download


for _report in REPORTS.values():
    _path = f"/{_report.pack}/{_report.key.removeprefix(_report.pack + '_').replace('_', '-')}"
    bp.add_url_rule(_path, _report.key, _fragment(_report), methods=["GET"])
    bp.add_url_rule(f"{_path}/export", f"{_report.key}_export", _export(_report), methods=["GET"])
