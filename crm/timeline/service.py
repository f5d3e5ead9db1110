"""Write and read timeline events. Producers store values, never sentences: the sentence is made in the
reader's language when the timeline is shown. A value that needs translating is stored in both languages
with `in_both_languages`."""
from collections.abc import Callable
from datetime import datetime

from flask import g, has_request_context
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from crm import listing
from crm.extensions import db
from crm.names import in_language, reader_language
from crm.timeline.models import TimelineEvent

PAGE_SIZE = 30
# When it happened, then the order it was written in: imported history (crm/imports/linked_events.py) comes
# with its own, older times.
NEWEST = (listing.Key(TimelineEvent.at, datetime, descending=True), listing.Key(TimelineEvent.id, descending=True))

# kind -> (sentence, icon class). Sentences use the names of the payload's values.
KINDS = {
    "note": (_l("Note: %(text)s"), "note"),
    "follow_up_logged": (_l("%(method)s logged: %(summary)s"), "activity"),
    "follow_up_done": (_l("%(method)s done: %(outcome)s"), "activity"),
    "deal_created": (_l("Deal %(deal)s created in stage %(stage)s"), "deal"),
    "deal_stage": (_l("Deal %(deal)s moved from %(from)s to %(to)s"), "deal"),
    "deal_won": (_l("Deal %(deal)s won"), "won"),
    "deal_lost": (_l("Deal %(deal)s lost: %(reason)s"), "lost"),
    "order_created": (_l("Order %(number)s placed, total %(total)s"), "order"),
    "order_status": (_l("Order %(number)s moved from %(from)s to %(to)s"), "order"),
    "order_paid": (_l("Order %(number)s paid online: %(amount)s"), "order"),
    "order_refunded_online": (_l("Order %(number)s refunded through Stripe: %(amount)s"), "order"),
    "ticket_opened": (_l("Ticket %(number)s opened: %(subject)s"), "ticket"),
    "ticket_status": (_l("Ticket %(number)s is now %(status)s"), "ticket"),
    "pool_released": (_l("Released to the pool: %(reason)s"), "pool"),
    "pool_claimed": (_l("Claimed from the pool by %(member)s"), "pool"),
    "pool_assigned": (_l("Assigned from the pool to %(member)s"), "pool"),
    "pool_recycled": (_l("Returned to the pool automatically: %(rule)s"), "pool"),
    "file_added": (_l("File %(name)s added to %(record)s"), "note"),
    "file_removed": (_l("File %(name)s removed from %(record)s"), "note"),
}


def in_both_languages(make: Callable[[], str]) -> dict[str, str]:
    """`make()` evaluated in English and in Chinese, for a value the reader's language decides."""
    values = {}
    for key, locale in (("en", "en"), ("zh", "zh_Hans_CN")):
        with force_locale(locale):
            values[key] = str(make())
    return values


def log(kind: str, *, customer_id: int | None = None, deal_id: int | None = None, link: tuple | None = None,
        actor=None, **payload) -> TimelineEvent:
    """Record that `kind` happened; `link` is (endpoint, {args}) of the record it is about."""
    if kind not in KINDS:
        raise ValueError(f"unknown timeline event kind {kind!r}")
    if actor is None and has_request_context():
        actor = g.get("member")
    if link:
        payload["link"] = [link[0], link[1]]
    event = TimelineEvent(kind=kind, customer_id=customer_id, deal_id=deal_id, payload=payload,
                          actor_id=actor.id if actor else None, actor_name=actor.name if actor else "")
    db.session.add(event)
    return event


def events(*, customer_id: int | None = None, deal_id: int | None = None, after: str = "",
           limit: int = PAGE_SIZE) -> tuple[list[TimelineEvent], str]:
    """A page of the newest events of a customer (its deals' events included) or of one deal, and the cursor of
    the older ones ('' on the last page)."""
    if customer_id is None and deal_id is None:
        raise ValueError("events() needs a customer or a deal")
    stmt = select(TimelineEvent)
    if customer_id is not None:
        stmt = stmt.where(TimelineEvent.customer_id == customer_id)
    if deal_id is not None:
        stmt = stmt.where(TimelineEvent.deal_id == deal_id)
    return listing.page(stmt, NEWEST, after, limit)


def forget_deal(deal_id: int) -> None:
    """Remove a deleted deal's events."""
    db.session.execute(TimelineEvent.__table__.delete().where(TimelineEvent.deal_id == deal_id))


class _Values(dict):
    def __missing__(self, key):
        return "—"


def sentence(event: TimelineEvent) -> str:
    """The event told in the reader's language."""
    message, _icon = KINDS.get(event.kind, (event.kind, ""))
    language = reader_language()
    values = _Values()
    for key, value in event.payload.items():
        values[key] = in_language(value.get("en"), value.get("zh"), language) if isinstance(value, dict) else value
    return str(message) % values


def icon(event: TimelineEvent) -> str:
    return KINDS.get(event.kind, ("", "note"))[1]


