"""Leaderboards: the HTML page and the maintainer JSON API.

Both read stored rating snapshots (``rating_snapshots``), which the
``recompute_ratings`` job writes; nothing is computed on request.

``GET /leaderboard``                 the page (table and chart), ?category=&source=
``GET /api/v1/leaderboard``          the newest snapshot for a scope, as ``arena rate`` JSON
``GET /api/v1/leaderboard/scopes``   which scopes have snapshots
``GET /api/v1/rank``                 the composite rank, as ``arena rank --format json``
``GET /vendor/plotly.min.js``        plotly's JavaScript, served from the installed package
"""

from __future__ import annotations

import math
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
            select(
                RatingSnapshot.method,
                RatingSnapshot.category,
                RatingSnapshot.source,
                RatingSnapshot.rater_group,
                func.max(RatingSnapshot.created_at),
                func.count(),
            )
            .group_by(
                RatingSnapshot.method,
                RatingSnapshot.category,
                RatingSnapshot.source,
                RatingSnapshot.rater_group,
            )
            .order_by(
                RatingSnapshot.method,
                RatingSnapshot.category,
                RatingSnapshot.source,
                RatingSnapshot.rater_group,
            )
        ).all()
    return [
        {
            "method": m,
            "category": c,
            "source": s,
            "rater_group": g,
            "updated_at": t.isoformat() if t else None,
            "snapshots": n,
        }
        for m, c, s, g, t, n in rows
    ]


@api.get("/leaderboard")
def leaderboard_json():
    scope = _scope_args()
    snapshot = ratings.latest_snapshot(rt().engine, **scope)
    if snapshot is None:
        raise ApiError(
            404,
            "no rating snapshot for this scope yet (see /api/v1/leaderboard/"
            "scopes, or run `arena rate --store`)",
            "no_snapshot",
        )
    if request.args.get("replicates") not in ("1", "true", "yes"):
        snapshot.pop("bootstrap", None)
    return snapshot


@api.get("/leaderboard/scopes")
def scopes_json():
    return {"scopes": scopes()}


RANK_PARAMS = {
    "by",
    "category",
    "source",
    "rater_group",
    "weight",
    "normalize",
    "aggregate",
    "arena_mode",
    "max_vram_gb",
    "min_coverage",
    "replicates",
}


@api.get("/rank")
def rank_json():
    """The composite rank over the stored snapshot and imported signals.

    Query parameters mirror ``arena rank``: ``weight=SIGNAL=W`` (repeatable),
    ``normalize``, ``aggregate``, ``arena_mode`` (rating|tier), ``category``,
    ``source`` (default ``[rank] arena_source``, human votes), ``rater_group``,
    ``max_vram_gb``, ``min_coverage``, ``replicates``, ``by`` (``composite``, ``goodness``,
    ``goodness.<subdomain>``, ``fastness``).
    """
    from arena.composite_db import load_db_inputs
    from arena.rank_options import arena_source, rank_options
    from rating.composite import WeightError, rank_models
    from rating.composite.aggregate import AGGREGATORS
    from rating.composite.normalize import METHODS as NORMALIZATIONS

    args = request.args
    unknown = sorted(set(args) - RANK_PARAMS)
    if unknown:
        raise ApiError(400, f"unknown parameter(s): {', '.join(unknown)}", "bad_parameter")
    choices = {
        "normalize": NORMALIZATIONS,
        "aggregate": AGGREGATORS,
        "arena_mode": ("rating", "tier"),
    }
    for name, allowed in choices.items():
        if name in args and args[name] not in allowed:
            raise ApiError(400, f"{name} must be one of {', '.join(allowed)}", "bad_parameter")

    def number(name, kind=float, low=0.0, high=None):
        if name not in args:
            return None
        try:
            value = kind(args[name])
        except ValueError:
            raise ApiError(400, f"{name} must be a number", "bad_parameter") from None
        if not math.isfinite(value):  # nan passes every comparison; inf is no JSON
            raise ApiError(400, f"{name} must be a finite number", "bad_parameter")
        if value < low or (high is not None and value > high):
            raise ApiError(400, f"{name} is out of range", "bad_parameter")
        return value

    runtime = rt()
    try:
        opts = rank_options(
            runtime.settings,
            weights=args.getlist("weight"),
            normalize=args.get("normalize"),
            aggregate=args.get("aggregate"),
            arena_mode=args.get("arena_mode", "rating"),
            category=args.get("category") or None,
            max_vram_gb=number("max_vram_gb"),
            min_coverage=number("min_coverage", high=1.0),
            replicates=number("replicates", int, 0, 2000),
            by=args.get("by", "composite"),
        )
        inputs, inputs_meta = load_db_inputs(
            runtime.engine,
            args.get("category", ""),
            arena_source(runtime.settings, args.get("source")),
            args.get("rater_group", ""),
        )
        result = rank_models(inputs, opts)
    except (WeightError, ValueError) as exc:
        raise ApiError(400, str(exc), "bad_parameter") from None
    return {
        "meta": {"mode": "database", "inputs": inputs_meta, **result.meta},
        "models": result.rows,
    }


@bp.get("/leaderboard")
def page():
    try:
        scope = _scope_args()
    except ApiError as exc:
        return render_template(
            "leaderboard.html", snapshot=None, reason=exc.reason, scope={}, scopes=[]
        ), 400
    snapshot = ratings.latest_snapshot(rt().engine, **scope)
    if snapshot:
        snapshot.pop("bootstrap", None)
    known = scopes()
    updated = next((s["updated_at"] for s in known if all(s[k] == scope[k] for k in scope)), None)
    return render_template(
        "leaderboard.html",
        snapshot=snapshot,
        scope=scope,
        scopes=known,
        updated=updated,
        reason=None,
    )


@bp.get("/vendor/plotly.min.js")
def plotly_js():
    return send_from_directory(PLOTLY_DIR, "plotly.min.js", max_age=86400)
