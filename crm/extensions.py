"""Extensions, created once here and bound to the app in create_app()."""
from datetime import datetime, timezone

import redis
from flask import current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import DateTime, Integer, MetaData, Sequence
from sqlalchemy.orm import DeclarativeBase, MappedColumn, mapped_column, registry

# Constraint names fixed by convention, so migrations and provisioning name them alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    # Every time is stored with its zone (UTC) and shown in the reader's local time.
    registry = registry(metadata=MetaData(naming_convention=NAMING),
                        type_annotation_map={datetime: DateTime(timezone=True)})


def utcnow() -> datetime:
    """Now, in UTC: what every timestamp column stores (tenants/ and every feature use this one clock)."""
    return datetime.now(timezone.utc)


db = SQLAlchemy(model_class=Base)
# The tables of a tenant schema number their rows from this one sequence: a sequence per table was 35 more
# relations in every schema (issue 19, the catalog's weight at 10,000 tenants). Orders and tickets keep their own,
# since their numbers (SO-000001, TK-000001) are made from their ids and people read them.
TENANT_IDS = Sequence("ids", schema="tenant", metadata=db.metadata)


def tenant_pk() -> MappedColumn[int]:
    """A tenant table's id: numbered by the database from the schema's one sequence (inserts omit it and read it
    back, as they did with a serial column)."""
    return mapped_column(Integer, server_default=TENANT_IDS.next_value(), primary_key=True)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(get_remote_address, default_limits=[], strategy="moving-window")


def limiter_storage_uri(redis_url: str) -> str:
    """The limits library spells a unix-socket Redis URL as redis+unix://."""
    if redis_url.startswith("unix://"):
        return "redis+unix://" + redis_url[len("unix://"):]
    return redis_url


def init_redis(app) -> None:
    """One connection pool per process, shared by RQ, the limiter's neighbours and the health check."""
    app.extensions["redis"] = redis.Redis.from_url(app.config["REDIS_URL"])


def redis_connection() -> redis.Redis:
    """The app's Redis client."""
    return current_app.extensions["redis"]
