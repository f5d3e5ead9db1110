"""Where the tenant comes in: `/<slug>/...` URLs, resolved once per request from a small cache."""
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from blinker import Namespace
from cachetools import TTLCache
from flask import Blueprint, abort, current_app, g
from flask_login import current_user
from redis.exceptions import RedisError
from sqlalchemy import event, select

from crm.extensions import db, login_manager, redis_connection
from tenants.models import Tenant, schema_name


@dataclass(frozen=True)
class TenantRef:
    """What a request needs to know of its tenant; safe to cache and share between requests."""

    id: int
    slug: str
    name: str
    status: str

    @property
    def schema(self) -> str:
        return schema_name(self.id)

    @property
    def active(self) -> bool:
        return self.status == "active"


_cache_lock = threading.Lock()  # cachetools' caches are not thread-safe; threaded servers share this one
# Bumped in Redis whenever a tenant is suspended, restored or renamed: every process empties its cache when it
# sees the stamp move, so the change holds everywhere within TENANT_CACHE_CHECK_SECONDS, not a cache lifetime.
CACHE_STAMP_KEY = "tenants:cache-stamp"
log = logging.getLogger(__name__)


def _cache() -> TTLCache:
    """This app's known tenants by slug: at most TENANT_CACHE_SIZE, least recently used out first, each for
    TENANT_CACHE_SECONDS, emptied when the stamp moved. Call it holding _cache_lock."""
    extensions, config = current_app.extensions, current_app.config
    cache = extensions.get("tenant_cache")
    if cache is None:
        cache = extensions["tenant_cache"] = TTLCache(maxsize=config["TENANT_CACHE_SIZE"],
                                                      ttl=config["TENANT_CACHE_SECONDS"])
    checked_at, stamp = extensions.get("tenant_cache_stamp", (0.0, None))
    if time.monotonic() - checked_at >= config["TENANT_CACHE_CHECK_SECONDS"]:
        try:
            now = redis_connection().get(CACHE_STAMP_KEY)
        except RedisError as error:  # Redis away: the entries' own lifetime still bounds a stale one
            log.warning("tenant cache stamp unreadable: %s", error)
            now = stamp
        if now != stamp:
            cache.clear()
        extensions["tenant_cache_stamp"] = (time.monotonic(), now)
    return cache


def _bump_cache_stamp(_session=None) -> None:
    try:
        redis_connection().incr(CACHE_STAMP_KEY)
    except RedisError as error:
        log.warning("tenant cache stamp not moved (other processes see the change within their cache lifetime): "
                    "%s", error)


def _load_tenant(where) -> TenantRef | None:
    # A connection of its own, so the session's transaction starts after the tenant is bound.
    with db.engine.connect() as connection:
        row = connection.execute(select(Tenant.id, Tenant.slug, Tenant.name, Tenant.status).where(where)).first()
    return TenantRef(*row) if row else None


def tenant_by_id(tenant_id: int) -> TenantRef | None:
    """The tenant with this id, whatever its status, for a job or a signed link; None when there is none."""
    return _load_tenant(Tenant.id == tenant_id)


def find_tenant(slug: str) -> TenantRef | None:
    """The tenant with this slug, from a bounded per-process cache that expires after a few seconds.

    An unknown slug is looked up every time and never kept: scanning random `/<slug>/` addresses neither grows
    memory nor pushes a real workspace out of the cache (such a scan costs one indexed query per request, as a
    cache of misses would for slugs never asked twice), and a workspace signed up a moment ago is found at once
    by every process."""
    with _cache_lock:
        tenant = _cache().get(slug)
    if tenant is None:
        tenant = _load_tenant(Tenant.slug == slug)
        if tenant is not None:
            with _cache_lock:
                _cache()[slug] = tenant
    return tenant


def forget_tenant(slug: str) -> None:
    """Drop a tenant from this process's cache now, and from every process's once the change is committed (after
    a suspension or a rename): earlier, another process could load and keep the row as it was."""
    with _cache_lock:
        _cache().pop(slug, None)
    event.listen(db.session(), "after_commit", _bump_cache_stamp, once=True)


# The member rows live in the features' tables, which tenants/ does not import: crm/members registers how to
# find the signed-in account's row, and whoever cares about a member entering a tenant (crm/accounts records
# the sign-in) listens to `member_bound`.
_find_member: Callable[[int], object] | None = None
member_bound = Namespace().signal("member-bound")


def member_finder(func: Callable[[int], object]) -> Callable[[int], object]:
    """Register `func(account_id)`: that account's active member row in the bound tenant, or None."""
    global _find_member
    _find_member = func
    return func


def pull_tenant(endpoint, values) -> None:
    """Bind the tenant named in the URL; 404 unless the signed-in account is an active member."""
    if values is None or "slug" not in values:
        return
    tenant = find_tenant(values.pop("slug"))
    if tenant is None:
        abort(404)
    g.tenant = tenant
    if not current_user.is_authenticated:
        abort(login_manager.unauthorized())
    member = _find_member(current_user.id)
    if member is None:
        abort(404)
    if not tenant.active:
        abort(403, description="suspended")
    g.member = member
    member_bound.send(tenant, member=member)


def add_tenant(endpoint, values) -> None:
    """Fill in the current tenant's slug, so url_for() never has to name it."""
    if "slug" not in values and "tenant" in g and current_app.url_map.is_endpoint_expecting(endpoint, "slug"):
        values["slug"] = g.tenant.slug


def tenant_blueprint(name: str, import_name: str, path: str = "") -> Blueprint:
    """A blueprint whose routes all live under `/<slug>/path`."""
    bp = Blueprint(name, import_name, url_prefix=f"/<slug>{path}")
    bp.url_value_preprocessor(pull_tenant)
    bp.url_defaults(add_tenant)
    return bp
