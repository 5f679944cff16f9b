"""Leaderboards: the HTML page and the maintainer JSON API.

Both read stored rating snapshots (``rating_snapshots``), which the
``recompute_ratings`` job writes; nothing is computed on request.

``GET /leaderboard``                 the page (table and chart), ?category=&source=
``GET /api/v1/leaderboard``          the newest snapshot for a scope, as ``arena rate`` JSON
``GET /api/v1/leaderboard/scopes``   which scopes have snapshots
``GET /vendor/plotly.min.js``        plotly's JavaScript, served from the installed package
"""

from __future__ import annotations

from pathlib import Path

import plotly
from flask import Blueprint, render_template, request, send_from_directory
from sqlalchemy import func, select
from sqlmodel import Session

from arena import ratings
from arena.models import RatingSnapshot
from arena.web.common import rt
from arena.web.errors import ApiError

bp = Blueprint("leaderboard", __name__)
api = Blueprint("leaderboard_api", __name__, url_prefix="/api/v1")

METHODS = ("bt", "davidson", "elo")
PLOTLY_DIR = Path(plotly.__file__).parent / "package_data"


def _scope_args() -> dict:
    args = {key: request.args.get(key, "") for key in ("category", "source", "rater_group")}
    method = request.args.get("method", "bt")
    if method not in METHODS:
        raise ApiError(400, f"method must be one of {', '.join(METHODS)}", "bad_method")
    return {"method": method, **args}


def scopes() -> list[dict]:
    """Every (method, category, source, rater_group) with a snapshot, newest time first."""
    with Session(rt().engine) as s:
        rows = s.execute(
            select(RatingSnapshot.method, RatingSnapshot.category, RatingSnapshot.source,
                   RatingSnapshot.rater_group, func.max(RatingSnapshot.created_at),
                   func.count())
            .group_by(RatingSnapshot.method, RatingSnapshot.category, RatingSnapshot.source,
                      RatingSnapshot.rater_group)
            .order_by(RatingSnapshot.method, RatingSnapshot.category, RatingSnapshot.source,
                      RatingSnapshot.rater_group)).all()
    return [{"method": m, "category": c, "source": s, "rater_group": g,
             "updated_at": t.isoformat() if t else None, "snapshots": n}
            for m, c, s, g, t, n in rows]


@api.get("/leaderboard")
def leaderboard_json():
    scope = _scope_args()
    snapshot = ratings.latest_snapshot(rt().engine, **scope)
    if snapshot is None:
        raise ApiError(404, "no rating snapshot for this scope yet (see /api/v1/leaderboard/"
                            "scopes, or run `arena rate --store`)", "no_snapshot")
    if request.args.get("replicates") not in ("1", "true", "yes"):
        snapshot.pop("bootstrap", None)
    return snapshot


@api.get("/leaderboard/scopes")
def scopes_json():
    return {"scopes": scopes()}


@bp.get("/leaderboard")
def page():
    try:
        scope = _scope_args()
    except ApiError as exc:
        return render_template("leaderboard.html", snapshot=None, reason=exc.reason,
                               scope={}, scopes=[]), 400
    snapshot = ratings.latest_snapshot(rt().engine, **scope)
    if snapshot:
        snapshot.pop("bootstrap", None)
    known = scopes()
    updated = next((s["updated_at"] for s in known
                    if all(s[k] == scope[k] for k in scope)), None)
    return render_template("leaderboard.html", snapshot=snapshot, scope=scope, scopes=known,
                           updated=updated, reason=None)


@bp.get("/vendor/plotly.min.js")
def plotly_js():
    return send_from_directory(PLOTLY_DIR, "plotly.min.js", max_age=86400)
