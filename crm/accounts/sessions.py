"""Server-side sessions: a row per sign-in that sign-out, a password change or a timeout ends at once.

The cookie (Flask's signed session) carries only the session's random token, as Flask-Login's user id; the table
keeps the token's SHA-256, so reading the table opens no session. Each request reads its row and account in one
query by primary key; `last_seen_at` is written at most once a minute, on a connection of its own."""
import hashlib
import re
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.orm.attributes import set_committed_value

from crm.accounts.models import Account, AccountSession
from crm.errors import NotFound
from crm.extensions import db, utcnow
from crm.validation import clipped

SEEN_EVERY = timedelta(minutes=1)  # how stale last_seen_at may get: idle limits are hours, writes are not free


def session_key(token: str) -> str:
    """The stored id of the session whose cookie carries `token`."""
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(account: Account, ip: str | None, user_agent: str | None) -> str:
    """A new session for `account` in one browser; returns its token for the cookie (and sets it on `account`)."""
    now = utcnow()
    dead = [row.id for row in _sessions_of(account) if not _live(row, now)]
    if dead:
        db.session.execute(delete(AccountSession).where(AccountSession.id.in_(dead)))
    token = secrets.token_urlsafe(32)
    db.session.add(AccountSession(id=session_key(token), account_id=account.id, created_at=now, last_seen_at=now,
                                  ip=clipped(ip, 45), user_agent=clipped(user_agent, 300)))
    db.session.flush()
    account.last_login_at = now
    account.session_token = token
    return token


# Built once: the loader runs on every request, and a statement built per call costs more than the query.
_WITH_ACCOUNT = select(AccountSession, Account).join(Account, Account.id == AccountSession.account_id)


def load_session_account(token: str, seen: bool = True) -> Account | None:
    """Flask-Login's loader: the account of the live session with this token, else None (the sign-in page).
    `seen`: this request is the user's activity, which keeps the session from its idle timeout."""
    now = utcnow()
    row = db.session.execute(_WITH_ACCOUNT.where(AccountSession.id == session_key(token))).first()
    if row is None or not _live(row.AccountSession, now):
        return None
    if seen and now - row.AccountSession.last_seen_at >= SEEN_EVERY:
        _mark_seen(row.AccountSession, now)
    row.Account.session_token = token
    return row.Account


def _mark_seen(row: AccountSession, now: datetime) -> None:
    # Its own transaction, so a page that writes nothing still counts as activity; the loaded row learns the
    # time without becoming a change the request's own commit would write again.
    with db.engine.begin() as connection:
        connection.execute(update(AccountSession).where(AccountSession.id == row.id).values(last_seen_at=now))
    set_committed_value(row, "last_seen_at", now)


def _live(row: AccountSession, now: datetime) -> bool:
    """Not ended, used within the idle limit, begun within the absolute limit."""
    config = current_app.config
    return (row.ended_at is None and now - row.last_seen_at < timedelta(hours=config["SESSION_IDLE_HOURS"])
            and now - row.created_at < timedelta(hours=config["SESSION_MAX_HOURS"]))


def _sessions_of(account: Account) -> list[AccountSession]:
    return list(db.session.scalars(select(AccountSession).where(AccountSession.account_id == account.id)))


def live_sessions(account: Account) -> list[AccountSession]:
    """The account's sessions that still open pages, most recently used first."""
    now = utcnow()
    live = [row for row in _sessions_of(account) if _live(row, now)]
    return sorted(live, key=lambda row: (row.last_seen_at, row.created_at), reverse=True)


def _end(*where) -> int:
    ended = db.session.execute(update(AccountSession).where(AccountSession.ended_at.is_(None), *where)
                               .values(ended_at=utcnow()))
    return ended.rowcount


def end_session(token: str) -> None:
    """Sign-out: the session with this token ends."""
    _end(AccountSession.id == session_key(token))


def end_session_of(account: Account, key: str) -> None:
    """End one of the account's sessions (from its list on the account page); another account's is not found."""
    if re.fullmatch("[0-9a-f]{64}", key) is None:  # no key at all (a NUL in it would fail the query)
        raise NotFound()
    if not _end(AccountSession.account_id == account.id, AccountSession.id == key):
        raise NotFound()


def end_other_sessions(account: Account) -> None:
    """Every session of the account but the one this request came with ends."""
    _end(AccountSession.account_id == account.id, AccountSession.id != session_key(account.session_token))


def end_all_sessions(account: Account) -> None:
    _end(AccountSession.account_id == account.id)
