"""Sales targets: who may see and set whose, the targets in force in a month (carried forward on read), saving
them (checked whole, audited) and copying last month's.

Reach follows the Reports permission: `view` decides whose targets and actuals a member sees, `edit` whose targets
they may set, each by its scope (own: their own; team / subteams: the members and teams they reach; all)."""
import re
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert

from crm import validation
from crm.audit.service import record
from crm.errors import Invalid, NotFound
from crm.extensions import db
from crm.members.access import members_in_reach, reached_teams
from crm.members.models import Member, Team
from crm.settings import workspace_currency
from crm.targets import actuals, months
from crm.targets.models import COUNTS, MEASURES, MONEY, SalesTarget
from crm.validation import collect

MAX_COUNT = 1_000_000
SUBJECT_KEY = re.compile(r"(member|team)-(\d{1,10})")


@dataclass(frozen=True)
class Subject:
    """A member or a team, as the targets page lists them."""

    kind: str  # member | team
    id: int
    name: str

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.id}"

    def of(self, stmt):
        """`stmt` on SalesTarget limited to this subject's rows."""
        column = SalesTarget.member_id if self.kind == "member" else SalesTarget.team_id
        return stmt.where(column == self.id)


@dataclass
class Line:
    """One subject's month: the targets in force (its own row, or the latest earlier one), and what was done."""

    subject: Subject
    month: date
    target: SalesTarget | None
    actual: dict
    currency: str
    editable: bool = False

    @property
    def carried_from(self) -> date | None:
        """The earlier month whose targets this month uses; None when it has its own (or none)."""
        return self.target.month if self.target is not None and self.target.month != self.month else None

    def goal(self, measure: str):
        return getattr(self.target, measure) if self.target is not None else None

    def percent(self, measure: str) -> int | None:
        """How much of the target is done, in whole percent (past 100 when beaten); None without a target
        (or with an amount set in another currency than the workspace's now)."""
        goal = self.goal(measure)
        if not goal or (measure in MONEY and self.target.currency != self.currency):
            return None
        return int(self.actual[measure] * 100 // goal)


def teams_in_reach(viewer: Member, action: str) -> list[Team]:
    """The teams whose targets the viewer may see (`view`) or set (`edit`): none under "own"."""
    scope = viewer.role.scope("reports", action)
    stmt = select(Team).order_by(Team.name)
    if scope in ("team", "subteams"):
        stmt = stmt.where(Team.id.in_(reached_teams(viewer, scope == "subteams")))
    elif scope != "all":
        return []
    return list(db.session.scalars(stmt))


def subjects(viewer: Member, action: str = "view") -> list[Subject]:
    """Teams, then members, whose targets the viewer may see or set, each by name."""
    return ([Subject("team", team.id, team.name) for team in teams_in_reach(viewer, action)]
            + [Subject("member", member.id, member.name) for member in members_in_reach(viewer, "reports", action)])


def report_subjects(viewer: Member, owner: str = "", team: int | None = None) -> list[Subject]:
    """Whose targets a report sets its numbers against: the owner filter's member ("me" or an id), else the team
    filter's team, else the top teams the viewer reaches (a team whose parent is out of reach), else the viewer."""
    if owner or team:
        wanted = f"member-{viewer.id if owner == 'me' else owner}" if owner else f"team-{team}"
        return [s for s in subjects(viewer, "view") if s.key == wanted]
    teams = teams_in_reach(viewer, "view")
    reached = {t.id for t in teams}
    top = [Subject("team", t.id, t.name) for t in teams if t.parent_id not in reached]
    return top or [Subject("member", viewer.id, viewer.name)]


def subject(viewer: Member, key, action: str) -> Subject:
    """The member or team a form names ("member-7", "team-2"), when the viewer may `action` its targets."""
    found = SUBJECT_KEY.fullmatch(str(key or ""))
    if found is None:
        raise Invalid({"subject": _("Choose a member or a team.")})
    chosen = next((s for s in subjects(viewer, action) if s.key == found[0]), None)
    if chosen is None:
        raise NotFound()
    return chosen


def in_force(month: date, chosen: list[Subject]) -> dict[str, SalesTarget]:
    """{subject key: the row in force in `month`}: its own, else its latest earlier one (copy-forward on read)."""
    return in_force_by_month([month], chosen)[month]


def in_force_by_month(wanted: list[date], chosen: list[Subject]) -> dict[date, dict[str, SalesTarget]]:
    """{month: in_force(month)} for each of the `wanted` months (first days, in order), from one query: the
    subjects' rows up to the last month (one a month at most), read forward."""
    found = {month: {} for month in wanted}
    if not chosen or not wanted:
        return found
    member_ids = [s.id for s in chosen if s.kind == "member"]
    team_ids = [s.id for s in chosen if s.kind == "team"]
    rows = db.session.scalars(
        select(SalesTarget).where(SalesTarget.month <= wanted[-1], or_(SalesTarget.member_id.in_(member_ids),
                                                                        SalesTarget.team_id.in_(team_ids)))
        .order_by(SalesTarget.month))
    for row in rows:
        key = f"member-{row.member_id}" if row.member_id else f"team-{row.team_id}"
        for month in wanted:
            if row.month <= month:
                found[month][key] = row  # a later row replaces an earlier one
    return found


def lines(viewer: Member, month: date, chosen: list[Subject], editable_keys=frozenset()) -> list[Line]:
    """Target against actual for each of `chosen` in `month` (a few queries, whatever their number)."""
    found = lines_by_month(viewer, [month], chosen)[month]
    for each in found:
        each.editable = each.subject.key in editable_keys
    return found


def lines_by_month(viewer: Member, wanted: list[date], chosen: list[Subject]) -> dict[date, list[Line]]:
    """{month: its lines} for each of the `wanted` months (first days, in order): the same few queries as for
    one month, whatever the number of months and subjects."""
    targets = in_force_by_month(wanted, chosen)
    done = actuals.for_subjects(viewer, wanted, chosen)
    currency = workspace_currency()
    return {month: [Line(s, month, targets[month].get(s.key), done[month][s.key], currency) for s in chosen]
            for month in wanted}


def editable(viewer: Member) -> set[str]:
    """The keys of the members and teams whose targets the viewer may set."""
    return {s.key for s in subjects(viewer, "edit")} if viewer.can("reports", "edit") else set()


def board(viewer: Member, month: date) -> list[Line]:
    """The targets page: every member and team the viewer may see, target against actual."""
    return lines(viewer, month, subjects(viewer, "view"), editable(viewer))


def line(viewer: Member, month: date, key, action: str = "view") -> Line:
    """One row of the targets page, for a subject the viewer may `action`."""
    return lines(viewer, month, [subject(viewer, key, action)], editable(viewer))[0]


def home_lines(viewer: Member) -> list[Line]:
    """This month for the home page: the teams the viewer manages (within their reach), else their own."""
    managed = [Subject("team", team.id, team.name) for team in teams_in_reach(viewer, "view")
               if team.manager_id == viewer.id]
    return lines(viewer, months.current(), managed or [Subject("member", viewer.id, viewer.name)])


def clean(data: dict) -> dict:
    """The four targets a form sent, every one checked before any is kept: amounts in the workspace's currency
    (two decimals), counts whole; empty means no target."""
    errors = {}
    values = {measure: collect(errors, validation.money, data.get(measure), measure) for measure in MONEY}
    values.update({measure: collect(errors, validation.whole_number, data.get(measure), measure, 0, MAX_COUNT,
                                    required=False) for measure in COUNTS})
    if errors:
        raise Invalid(errors)
    return values


def save_targets(viewer: Member, month: date, chosen: Subject, data: dict) -> SalesTarget:
    """Set `chosen`'s targets for `month` (and so for the months after it that have none of their own)."""
    return _write(viewer, month, chosen, clean(data), workspace_currency())


def copy_previous_month(viewer: Member, month: date) -> int:
    """Make `month`'s targets those of the month before, for every member and team the viewer may set targets
    for; returns how many changed."""
    chosen = subjects(viewer, "edit")
    before, now = in_force(months.shift(month, -1), chosen), in_force(month, chosen)
    changed = 0
    for each in chosen:
        source, current = before.get(each.key), now.get(each.key)
        if source is None and current is None:
            continue
        values = _values(source)
        if _values(current) != values:
            changed += 1
        _write(viewer, month, each, values, source.currency if source else workspace_currency())
    return changed


def _values(row: SalesTarget | None) -> dict:
    return {measure: getattr(row, measure, None) for measure in MEASURES}


def _write(viewer: Member, month: date, chosen: Subject, values: dict, currency: str) -> SalesTarget:
    """Store `month`'s own row for `chosen` and audit what changed for that month."""
    before = _values(in_force(month, [chosen]).get(chosen.key))
    subject_ids = {"member_id": chosen.id} if chosen.kind == "member" else {"team_id": chosen.id}
    # Two people saving the same new month at once: the second finds the row instead of failing.
    db.session.execute(insert(SalesTarget).values(month=month, currency=currency, **subject_ids)
                       .on_conflict_do_nothing())
    row = db.session.scalar(chosen.of(select(SalesTarget).where(SalesTarget.month == month)).with_for_update())
    row.currency, row.updated_by = currency, viewer.id
    for measure, value in values.items():
        setattr(row, measure, value)
    db.session.flush()
    changes = {measure: [_plain(before[measure]), _plain(values[measure])] for measure in MEASURES
               if before[measure] != values[measure]}
    if changes:
        record("update", "sales_target", row.id, summary=f"{chosen.name} · {months.key(month)}", changes=changes)
    return row


def _plain(value):
    return str(value) if value is not None and not isinstance(value, int) else value
