"""The reports the page offers, in packs. A pack module registers each report with `@report(...)` on the
function that builds it; `crm/reports/views.py` gives every registered report a fragment route and an export route
(`reports.<key>`, `reports.<key>_export`), and the page loads each report's fragment lazily. Adding a report edits
no view or template:

    @report("revenue", "revenue_by_status", _l("Orders by status"), order=20, filters=("owner", "team", "tag"))
    def by_status(viewer: Member, query: ReportQuery) -> Result:
        ...
"""
from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

PACKS = {"customers": _l("Customers"), "sales": _l("Sales")}  # in the page's order; later packs add themselves
FILTERS = {"owner": _l("Owner"), "team": _l("Team"), "pipeline": _l("Pipeline"), "tag": _l("Customer tag"),
           "level": _l("Level"), "source": _l("Source"), "days": _l("Stalled after")}


@dataclass(frozen=True)
class Report:
    """One report: its key (the endpoint's name and the URL's last part), pack, title, and the function that builds
    its `Result` from the viewer and the `ReportQuery`. `filters`: which of the page's filters it reads (the others
    are shown as not applying); `period`: whether the period counts (a snapshot "now" says so)."""

    key: str
    pack: str
    title: str
    build: Callable
    order: int
    filters: tuple[str, ...] = ()
    period: bool = True

    def ignored(self, query) -> list[str]:
        """The names of the filters set on the page that this report does not read."""
        return [str(label) for name, label in FILTERS.items()
                if name not in self.filters and name in query.args()]

    @property
    def endpoint(self) -> str:
        return f"reports.{self.key}"

    @property
    def export_endpoint(self) -> str:
        return f"reports.{self.key}_export"


REPORTS: dict[str, Report] = {}


def add_pack(key: str, title: str) -> None:
    """A pack of its own (its tab on the reports page), after those already there."""
    PACKS.setdefault(key, title)


def report(pack: str, key: str, title: str, order: int, filters: tuple[str, ...] = (), period: bool = True):
    """Register the decorated function as the builder of a report."""
    if pack not in PACKS or key in REPORTS or not set(filters) <= set(FILTERS):
        raise ValueError(f"report {key!r}: unknown pack or filter, or registered twice")

    def register(build):
        REPORTS[key] = Report(key, pack, title, build, order, filters, period)
        return build

    return register


def pack_reports(pack: str) -> list[Report]:
    return sorted((r for r in REPORTS.values() if r.pack == pack), key=lambda r: r.order)
