"""Keyset pages, the way every list scrolls: rows strictly after a cursor in the list's order, one row more than
a page fetched to know whether another page follows, and the next page's cursor in the `after` query-string
argument.

A list names its order as `Key`s, the last one unique (the id). A cursor is the last row's key values as
base64 JSON. It is read strictly: anything that is not values of the keys' kinds (garbage, a tampered or
truncated cursor, an id past PostgreSQL's integer, a string with NUL) is ignored and the list starts at its
first page, so a bad link never fails the request."""
import base64
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import and_, false, or_, tuple_

from crm.extensions import db

MAX_CURSOR = 2000  # characters: a deal title of 200 characters, each escaped by JSON, still fits
INTEGERS = range(-2**31, 2**31)  # PostgreSQL integer: a larger number in a query fails the statement
PLAIN_DECIMAL = re.compile(r"-?\d{1,30}(\.\d{1,10})?")  # no exponent, NaN or Infinity


@dataclass(frozen=True)
class Key:
    """One part of a list's order: the SQL expression, the type its value travels as in a cursor (int, str,
    Decimal, date or datetime), its direction, whether it may be NULL (NULLs come last either way), and how to
    read its value off a row (default: the row's attribute named like the column)."""

    column: object
    kind: type = int
    descending: bool = False
    nullable: bool = False
    value: Callable | None = None

    def of(self, row):
        return self.value(row) if self.value else getattr(row, self.column.key)

    def order(self):
        ordered = self.column.desc() if self.descending else self.column.asc()
        return ordered.nulls_last() if self.nullable else ordered


def page(stmt, keys: Sequence[Key], after: str, limit: int, context: Sequence = ()) -> tuple[list, str]:
    """One page of `stmt`'s rows after the cursor `after` and the next page's cursor ('' on the last page)."""
    rows = list(db.session.scalars(keyset(stmt, keys, after, limit, context=context)).unique())
    return next_page(rows, keys, limit, context)


def keyset(stmt, keys: Sequence[Key], after: str, limit: int, order_by: Sequence = (), context: Sequence = ()):
    """`stmt` after the cursor (from the first row when there is none, or it is not one of these keys), in the
    keys' order (or `order_by`, the same order in other SQL), one row more than a page.

    `context` is values a cursor carries ahead of the keys' and must repeat to count: what the order itself
    depends on, like the time the ticket queue judged "overdue" at for its first page."""
    values = read_cursor(after, [type(value) for value in context] + [key.kind for key in keys])
    if values is not None and values[:len(context)] == list(context):
        condition = _after(keys, values[len(context):])
        stmt = stmt if condition is None else stmt.where(condition)
    return stmt.order_by(*(order_by or [key.order() for key in keys])).limit(limit + 1)


def next_page(rows: list, keys: Sequence[Key], limit: int, context: Sequence = ()) -> tuple[list, str]:
    """The first `limit` rows and the cursor after the last of them ('' when no row beyond them was fetched)."""
    if len(rows) <= limit:
        return rows, ""
    return rows[:limit], cursor([*context, *(key.of(rows[limit - 1]) for key in keys)])


def cursor(values: Sequence) -> str:
    """The opaque cursor of key values."""
    text = json.dumps([_plain(value) for value in values], ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).decode()


def read_cursor(text: str, kinds: Sequence[type]) -> list | None:
    """The values a cursor holds, typed as `kinds` (None stays None), or None when it is not such a cursor."""
    if not text or not isinstance(text, str) or len(text) > MAX_CURSOR:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(text.encode()))
        if not isinstance(values, list) or len(values) != len(kinds):
            return None
        return [None if value is None else _typed(value, kind) for value, kind in zip(values, kinds)]
    except (ValueError, TypeError, ArithmeticError, RecursionError):  # RecursionError: "[[[[..." nested deep
        return None


def _plain(value):
    """A key value as JSON can hold it."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


def _typed(value, kind: type):
    """A cursor's JSON value as `kind`; ValueError when it cannot be one a query may compare with."""
    if kind is int and type(value) is int and value in INTEGERS:
        return value
    if kind is str and isinstance(value, str) and "\x00" not in value:
        value.encode("utf-8")  # a lone surrogate ("\ud800") is no text PostgreSQL can compare: ValueError
        return value
    if kind is Decimal and isinstance(value, str) and PLAIN_DECIMAL.fullmatch(value):
        return Decimal(value)
    if kind is date and isinstance(value, str):
        return date.fromisoformat(value)
    if kind is datetime and isinstance(value, str):
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is not None:  # every timestamp column has a time zone
            return moment
    raise ValueError(f"not a cursor value of {kind.__name__}")


def _after(keys: Sequence[Key], values: list):
    """The condition for rows strictly after `values` in the keys' order; None when a value cannot be there."""
    if any(value is None and not key.nullable for key, value in zip(keys, values)):
        return None
    directions = {key.descending for key in keys}
    if len(directions) == 1 and not any(key.nullable for key in keys):
        # One row comparison, which a btree index on the keys (or the id alone) can start from.
        columns, compared = (keys[0].column, values[0]) if len(keys) == 1 else (
            tuple_(*(key.column for key in keys)), tuple_(*values))
        return columns < compared if keys[0].descending else columns > compared
    beyond, same = [], []
    for key, value in zip(keys, values):
        beyond.append(and_(*same, _beyond(key, value)))
        same.append(key.column.is_(None) if value is None else key.column == value)
    return or_(*beyond)


def _beyond(key: Key, value):
    """Rows whose `key` comes strictly after `value`: NULLs come last, and nothing comes after a NULL."""
    if value is None:
        return false()
    beyond = key.column < value if key.descending else key.column > value
    return or_(beyond, key.column.is_(None)) if key.nullable else beyond
