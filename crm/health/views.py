"""GET /healthz: whether PostgreSQL and Redis answer."""
from flask import Blueprint, jsonify
from sqlalchemy import text

from crm.extensions import db, redis_connection

bp = Blueprint("health", __name__)


def _postgres_ok() -> bool:
    try:
        with db.engine.connect() as connection:
            return connection.execute(text("select 1")).scalar() == 1
    except Exception:  # any failure means "does not answer"
        return False


def _redis_ok() -> bool:
    try:
        return bool(redis_connection().ping())
    except Exception:
        return False


@bp.get("/healthz")
def healthz():
    """200 with both services up; 503 (same JSON) when one does not answer."""
    status = {"postgres": _postgres_ok(), "redis": _redis_ok()}
    status["status"] = "ok" if all(status.values()) else "degraded"
    return jsonify(status), 200 if status["status"] == "ok" else 503
