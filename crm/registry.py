"""What features add to the shared pages: customer page panels, home page cards, main menu entries, settings tabs,
sections of another feature's page, the audit log's record kinds (their label, field labels and how stored values
read) and the lists that take saved views.

A feature plugs its parts in beside its blueprint, in its views module:

    plug(bp, MenuEntry("orders.index", _l("Orders"), order=50, permission=("orders", "view"),
                       current=("orders.*",)))

The parts join the app when the blueprint is registered, so a blueprint that is not registered adds nothing,
and the hubs (the customer page, the home page, base.html's menu, the settings tabs, the audit log) render what
is there: adding a feature edits no hub.
"""
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from flask import Blueprint, Flask, current_app, g, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

Permission = tuple[str, str] | None  # (resource, action) the member's role must allow, None: anyone


@dataclass(frozen=True)
class CustomerPanel:
    """A part of the customer page: a card in the side column (`place="aside"`) or a button beside Edit
    (`place="actions"`); `load(member, customer)` returns what its template needs."""

    template: str
    order: int
    permission: Permission = None
    load: Callable[..., dict] | None = None
    place: str = "aside"


@dataclass(frozen=True)
class HomeCard:
    """A card on the workspace's home page; `load(member)` returns what its template needs."""

    template: str
    order: int
    permission: Permission = None
    load: Callable[..., dict] | None = None


@dataclass(frozen=True)
class PageSection:
    """A section another feature adds to a page (`page`: its endpoint, e.g. Settings > Data's "backups.index");
    `load(member)` returns what its template needs, which it reads as `section`."""

    page: str
    template: str
    order: int
    permission: Permission = None
    load: Callable[..., dict] | None = None


@dataclass(frozen=True)
class MenuEntry:
    """A link in the main menu. `current`: endpoints ("pool.index") or blueprints ("orders.*") it stands for;
    `more`: listed under the menu's "More" (pages visited less often), so the bar fits a 1280 px screen."""

    endpoint: str
    label: str
    order: int
    permission: Permission = None
    current: tuple[str, ...] = ()
    more: bool = False


@dataclass(frozen=True)
class SettingsTab(MenuEntry):
    """A tab of the settings pages; every page it stands for also lights the menu's Settings."""


@dataclass(frozen=True)
class Notice:
    """A notice above every workspace page (billing's banner); `load(member)` returns its data, None: not shown."""

    template: str
    load: Callable[..., dict | None]


@dataclass(frozen=True)
class SavedList:
    """A list whose filters, sort and columns members save as named views (crm/saved_views), shown as tabs above
    it. `endpoint`: the list page; `read(args)`: the list's own query-string arguments for `args` (its query
    dataclass's `args()`, without the cursor); `filters`: the CSS selector of its filter form."""

    name: str
    endpoint: str
    read: Callable[..., dict]
    filters: str = "#filters"


@dataclass
class AuditEntity:
    """A kind of record in the audit log. `values`: per field, {stored key: label} or a function of the value.

    A feature may add fields to another feature's kind (label None): the pool and opt-outs add to "customer".
    """

    name: str
    label: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping | Callable] = field(default_factory=dict)
    link: tuple[str, str] | None = None  # (endpoint, its id argument) of the record's page, for the log's rows

    def field_label(self, name: str) -> str:
        return self.fields.get(name, name)

    def show(self, name: str, value):
        """A stored value as people read it; empty values stay empty (the page shows a dash)."""
        if value is None or value == "":
            return value
        if isinstance(value, bool):
            return _("Yes") if value else _("No")
        how = self.values.get(name)
        if how is None:
            return value
        if callable(how):
            return how(value)
        return how.get(value, value)


@dataclass
class Registry:
    """Everything the registered blueprints plugged in, for one app."""

    panels: list[CustomerPanel] = field(default_factory=list)
    cards: list[HomeCard] = field(default_factory=list)
    menu: list[MenuEntry] = field(default_factory=list)
    tabs: list[SettingsTab] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    sections: list[PageSection] = field(default_factory=list)
    lists: dict[str, SavedList] = field(default_factory=dict)
    audit: dict[str, AuditEntity] = field(default_factory=dict)

    def add(self, part) -> None:
        if isinstance(part, CustomerPanel):
            self.panels.append(part)
            self.panels.sort(key=lambda p: p.order)
        elif isinstance(part, HomeCard):
            self.cards.append(part)
            self.cards.sort(key=lambda c: c.order)
        elif isinstance(part, SettingsTab):
            self.tabs.append(part)
            self.tabs.sort(key=lambda t: t.order)
        elif isinstance(part, MenuEntry):
            self.menu.append(part)
            self.menu.sort(key=lambda e: e.order)
        elif isinstance(part, Notice):
            self.notices.append(part)
        elif isinstance(part, PageSection):
            self.sections.append(part)
            self.sections.sort(key=lambda p: p.order)
        elif isinstance(part, AuditEntity):
            self._add_audit(part)
        elif isinstance(part, SavedList):
            self.lists[part.name] = part
        else:
            raise TypeError(f"not a registry part: {part!r}")

    def _add_audit(self, part: AuditEntity) -> None:
        """Merge a record kind; one feature's label can never overwrite another's."""
        known = self.audit.setdefault(part.name, AuditEntity(part.name))
        taken = ({"label"} if part.label and known.label else set()) | (known.fields.keys() & part.fields.keys()) | (
            known.values.keys() & part.values.keys())
        if taken:
            raise ValueError(f"audit labels of {part.name!r} registered twice: {sorted(taken)}")
        known.label, known.link = known.label or part.label, known.link or part.link
        known.fields = {**known.fields, **part.fields}
        known.values = {**known.values, **part.values}


def init_app(app: Flask) -> None:
    """Give the app its registry (before blueprints register) and the templates their menus."""
    app.extensions["registry"] = Registry()
    app.jinja_env.globals.update(main_menu=main_menu, settings_tabs=settings_tabs, notices=notices,
                                 page_sections=page_sections)


def plug(bp: Blueprint, *parts) -> None:
    """Add `parts` to the app `bp` is registered on, when it is."""
    bp.record_once(lambda state: [state.app.extensions["registry"].add(part) for part in parts])


def _registry() -> Registry:
    return current_app.extensions["registry"]


def allowed(member, permission: Permission) -> bool:
    return permission is None or member.can(*permission)


def customer_panels(member, customer) -> tuple[dict[str, list[str]], dict]:
    """The templates of the panels `member` may see on `customer`'s page by place, in order, and their data."""
    places, context = {"aside": [], "actions": []}, {}
    for panel in _registry().panels:
        if not allowed(member, panel.permission):
            continue
        data = panel.load(member, customer) if panel.load else {}
        if context.keys() & data.keys():
            raise ValueError(f"{panel.template} repeats names of another panel: {sorted(context.keys() & data.keys())}")
        context.update(data)
        places[panel.place].append(panel.template)
    return places, context


def home_cards(member) -> tuple[list[str], dict]:
    """The templates of the home page cards `member` may see, in order, and the data their loads return."""
    templates, context = [], {}
    for card in _registry().cards:
        if not allowed(member, card.permission):
            continue
        data = card.load(member) if card.load else {}
        if context.keys() & data.keys():
            raise ValueError(f"{card.template} repeats names of another card: {sorted(context.keys() & data.keys())}")
        context.update(data)
        templates.append(card.template)
    return templates, context


def _match(patterns: tuple[str, ...], endpoint: str | None) -> int:
    """2 when `endpoint` is named, 1 when its blueprint is, else 0: the most exact entry wins."""
    if not endpoint:
        return 0
    if endpoint in patterns:
        return 2
    return 1 if f"{endpoint.rsplit('.', 1)[0]}.*" in patterns else 0


def settings_tabs() -> list[tuple[SettingsTab, bool]]:
    """The settings tabs the signed-in member may open, each with whether it is the current page."""
    return [(tab, _match(tab.current, request.endpoint) > 0) for tab in _registry().tabs
            if allowed(g.member, tab.permission)]


def main_menu() -> list[tuple[MenuEntry, bool]]:
    """The main menu for the signed-in member, each entry with whether it is the current page.

    Settings comes last and leads to the first tab the member may open; it is there when one is."""
    entries = [entry for entry in _registry().menu if allowed(g.member, entry.permission)]
    tabs = [tab for tab, _current in settings_tabs()]
    if tabs:
        every_tab = tuple(pattern for tab in _registry().tabs for pattern in tab.current)
        entries.append(MenuEntry(tabs[0].endpoint, _l("Settings"), order=1000, current=every_tab))
    scores = [_match(entry.current, request.endpoint) for entry in entries]
    best = max(scores, default=0)
    return [(entry, best > 0 and score == best) for entry, score in zip(entries, scores)]


def notices() -> list[tuple[str, dict]]:
    """The notices to show the signed-in member above the page: (template, its data)."""
    shown = ((notice.template, notice.load(g.member)) for notice in _registry().notices)
    return [(template, data) for template, data in shown if data is not None]


def page_sections(page: str) -> list[tuple[str, dict]]:
    """The sections other features add to `page` that the signed-in member may see: (template, its data)."""
    return [(section.template, section.load(g.member) if section.load else {}) for section in _registry().sections
            if section.page == page and allowed(g.member, section.permission)]
def saved_lists() -> dict[str, SavedList]:
    return _registry().lists


def audit_entities() -> list[AuditEntity]:
    """The record kinds the audit log can be filtered by, in the order their features registered."""
    return [kind for kind in _registry().audit.values() if kind.label]


def audit_entity(name: str) -> AuditEntity:
    """The labels of one record kind; a kind nobody registered shows its stored names."""
    return _registry().audit.get(name) or AuditEntity(name, name)
