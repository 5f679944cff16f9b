"""``GET /healthz``: 200 when the database and Redis both answer."""

from __future__ import annotations

from flask import Blueprint, jsonify

from arena import db
from arena.web.common import rt

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    runtime = rt()
    checks = {}
    try:
        db.ping(runtime.engine)
        checks["database"] = "ok"
    except Exception as exc:  # any failure is a failed check, reported as such
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        runtime.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return jsonify({"status": "ok" if ok else "unavailable", **checks}), 200 if ok else 503
