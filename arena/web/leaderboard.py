"""Leaderboards: the HTML page and the leaderboard JSON API.

Both read stored rating snapshots (``rating_snapshots``), which the
``recompute_ratings`` job writes; nothing is computed on request.

``GET /leaderboard``                 the page (table, interval plot, win-fraction heatmap),
                                     ?category=&source=&method=&deprecated=1&style_control=1
``GET /api/v1/leaderboard``          the newest snapshot for a scope, as ``arena rate`` JSON
                                     plus ``snapshot`` (what to cite); ``?format=csv``;
                                     ``?style_control=true``: the style-controlled one
                                     against plain BT (:mod:`arena.web.style_view`)
``GET /api/v1/leaderboard/scopes``   which scopes have snapshots
``GET /api/v1/rank``                 the composite rank, as ``arena rank --format json``
"""

from __future__ import annotations

import math

from flask import Blueprint, render_template, request
from markupsafe import Markup, escape

from arena.config import RATING_METHODS
from arena.scope import ALL_SOURCES, HUMAN
from arena.web import fragments, pairs, snapshots, style_view
from arena.web.common import rt
from arena.web.errors import ApiError
from arena.web.extensions import limit
from arena.web.tables import csv_response, wants_csv

bp = Blueprint("leaderboard", __name__)
api = Blueprint("leaderboard_api", __name__, url_prefix="/api/v1")

METHODS = RATING_METHODS
HEATMAP_MODELS = 15  # the heatmaps show the top models only
HISTORY_MODELS = 10  # the ratings-over-time chart follows the top models only
LEADERBOARD_COLUMNS = (
    "rank_ub",
    "model",
    "rating",
    "ci_low",
    "ci_high",
    "tier",
    "battles",
    "wins",
    "losses",
    "ties",
)


def _scope_args() -> dict:
    """The method and :class:`arena.scope.Scope` a request names (400 when malformed)."""
    return {"method": snapshots.request_method(), "scope": snapshots.request_scope()}


def scopes() -> list[dict]:
    """Every (method, category, source, rater_group) with a snapshot."""
    return snapshots.every_scope()


@api.get("/leaderboard")
@limit("reads")
def leaderboard_json():
    """The newest snapshot of a scope.

    ---
    get:
      summary: The leaderboard of one scope
      description: |
        The newest stored snapshot for method, category, source and rater group
        (source: `human` unless `judge:NAME` or `all` is asked for). `replicates=1`
        adds the bootstrap replicates; `format=csv` answers the table as CSV.
      parameters:
        - method
        - category
        - source
        - rater_group
        - format
        - {name: replicates, in: query, schema: {type: string, enum: ['0', '1', 'true', 'yes']}}
        - name: style_control
          in: query
          schema: {type: string, enum: ['0', '1', 'true', 'false', 'yes', 'no', 'on', 'off']}
          description: >-
            true: the newest style-controlled snapshot (method bt-style; human votes,
            overall or one category) with meta.style (the coefficients with their
            intervals) and per row rank_plain and rank_change against the plain bt
            snapshot named in compared_to
      responses:
        200:
          description: the snapshot
          content:
            application/json: {schema: {$ref: '#/components/schemas/Leaderboard'}}
            text/csv: {schema: {type: string}}
        304: {description: not modified (If-None-Match)}
        400: {$ref: '#/components/responses/Error'}
        404: {$ref: '#/components/responses/Error'}
    """
    args = _scope_args()
    if style_view.wanted(request.args.get("style_control")):
        return _style_json(args["method"], args["scope"])
    stored = snapshots.latest_or_404(args["method"], args["scope"])
    tag = snapshots.etag(stored.id, stored.digest)
    cached = snapshots.not_modified(tag)
    if cached is not None:
        return cached
    payload = stored.payload()
    if wants_csv():
        response = csv_response(
            payload["models"], LEADERBOARD_COLUMNS, f"leaderboard-{stored.id}.csv"
        )
    else:
        replicates = request.args.get("replicates") in ("1", "true", "yes")

        def build():
            body = {"snapshot": snapshots.citation(stored), **payload}
            if not replicates:
                body.pop("bootstrap", None)
            return body

        response = snapshots.cached_json(stored, build, replicates)
    response.set_etag(tag, weak=True)
    return response


STYLE_COLUMNS = (*LEADERBOARD_COLUMNS, "rank_plain", "rank_change")


def _style_json(method, scope):
    """``?style_control=true``: the style-controlled snapshot against plain BT (404 without)."""
    if method != style_view.PLAIN_METHOD:
        raise ApiError(400, "style control compares with method bt", "bad_method")
    stored = style_view.latest(method, scope)
    if stored is None:
        raise ApiError(
            404,
            f"no style-controlled snapshot for {scope.label()} yet (set [rating] "
            "style_control = true, or run `arena rate --store --style-control`)",
            "no_snapshot",
        )
    plain = snapshots.latest(method, scope)
    tag = snapshots.etag(stored.id, stored.digest, plain.id if plain else None)
    cached = snapshots.not_modified(tag)
    if cached is not None:
        return cached
    if wants_csv():
        body = style_view.api_body(stored, plain)
        response = csv_response(body["models"], STYLE_COLUMNS, f"leaderboard-{stored.id}.csv")
    else:

        def build():
            body = style_view.api_body(stored, plain)
            body.pop("bootstrap", None)
            return body

        response = snapshots.cached_json(stored, build, "style", plain.id if plain else None)
    response.set_etag(tag, weak=True)
    return response


@api.get("/leaderboard/scopes")
@limit("reads")
def scopes_json():
    """Which scopes have snapshots.

    ---
    get:
      summary: Scopes with stored snapshots
      responses:
        200:
          description: every method and scope with a snapshot
          content:
            application/json: {schema: {$ref: '#/components/schemas/Scopes'}}
    """
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
@limit("reads")
def rank_json():
    """The composite rank over the stored snapshot and imported signals.

    Query parameters mirror ``arena rank``: ``weight=SIGNAL=W`` (repeatable),
    ``normalize``, ``aggregate``, ``arena_mode`` (rating|tier), ``category``,
    ``source`` (default ``[rank] arena_source``, human votes), ``rater_group``,
    ``max_vram_gb``, ``min_coverage``, ``replicates``, ``by`` (``composite``, ``goodness``,
    ``goodness.<subdomain>``, ``fastness``).

    ---
    get:
      summary: The composite rank (arena rating and imported signals)
      parameters:
        - category
        - source
        - rater_group
        - {name: weight, in: query, schema: {type: string}, description: 'SIGNAL=W, repeatable'}
        - {name: normalize, in: query, schema: {type: string}}
        - {name: aggregate, in: query, schema: {type: string}}
        - {name: arena_mode, in: query, schema: {type: string, enum: [rating, tier]}}
        - {name: max_vram_gb, in: query, schema: {type: number}}
        - {name: min_coverage, in: query, schema: {type: number}}
        - {name: replicates, in: query, schema: {type: integer}}
        - {name: by, in: query, schema: {type: string}, description: 'composite|goodness|fastness'}
      responses:
        200:
          description: the composite rank
          content:
            application/json: {schema: {$ref: '#/components/schemas/Rank'}}
        400: {$ref: '#/components/responses/Error'}
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
    scope = snapshots.request_scope().stored()  # checks the text; source from [rank] below
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
            runtime.settings["rating"]["method"],
            scope["category"],
            arena_source(runtime.settings, args.get("source")),
            scope["rater_group"],
        )
        result = rank_models(inputs, opts)
    except (WeightError, ValueError) as exc:
        raise ApiError(400, str(exc), "bad_parameter") from None
    return {
        "meta": {"mode": "database", "inputs": inputs_meta, **result.meta},
        "models": result.rows,
    }


def _choices(known: list[dict], method: str) -> dict:
    """The select boxes: categories, sources and methods that have snapshots."""
    of_method = [s for s in known if s["method"] == method]
    categories = sorted({s["category"] for s in of_method if s["category"]})
    sources = sorted({s["source"] for s in of_method}, key=lambda v: (v != HUMAN, v))
    if HUMAN not in sources:
        sources.insert(0, HUMAN)
    if ALL_SOURCES not in sources:
        sources.append(ALL_SOURCES)
    methods = sorted(
        {s["method"] for s in known if s["method"] in METHODS} | {method}, key=METHODS.index
    )
    return {"categories": categories, "sources": sources, "methods": methods}


def _rows(payload: dict, info: dict, threshold: int) -> list[dict]:
    rows = []
    for m in payload["models"]:
        extra = info.get(m["model"], {})
        rating = m.get("rating")
        rows.append(
            {
                **m,
                "plus": None if m.get("ci_high") is None else m["ci_high"] - rating,
                "minus": None if m.get("ci_low") is None else rating - m["ci_low"],
                "organization": extra.get("organization"),
                "license": extra.get("license"),
                "state": extra.get("state", "active"),
                "preliminary": (m.get("battles") or 0) < threshold,
            }
        )
    return rows


def _over_time(method, scope, names: list[str]) -> dict[str, list]:
    """Model -> [[time, rating], ...] over the kept snapshots (empty with fewer than two)."""
    kept = snapshots.history(method, scope)
    if len(kept) < 2:
        return {}
    series: dict[str, list] = {name: [] for name in names}
    for stored in kept:
        when = stored.created_at.isoformat(timespec="seconds")
        for m in stored.payload()["models"]:
            if m["model"] in series and m.get("rating") is not None:
                series[m["model"]].append([when, m["rating"]])
    return series


@bp.get("/leaderboard")
@limit("reads")
def page():
    """The leaderboard page: works without JavaScript (a GET form), charts as enhancement.

    The body is rendered once per snapshot, query and set of retired models
    (:mod:`arena.web.fragments`); the layout around it on every request.
    """
    try:
        args = _scope_args()
    except ApiError as exc:
        return render_template(
            "leaderboard.html", body=Markup(f"<p>{escape(exc.reason)}</p>"), rows=None
        ), 400
    method, scope = args["method"], args["scope"]
    show_retired = request.args.get("deprecated") in ("1", "true", "yes", "on")
    style = style_view.wanted(request.args.get("style_control"))
    links = tuple(sorted(snapshots.link_args(method, scope).items()))
    key = ("leaderboard", fragments.version(), method, scope, show_retired, style, links)
    body, flags = fragments.cached(key, lambda: _body(method, scope, show_retired, style))
    return render_template("leaderboard.html", body=body, **flags)


def _style_context(method, scope, style: bool) -> dict:
    """What the page says about style control: whether it is available and on, its
    snapshot's citation and coefficients (:mod:`arena.web.style_view`)."""
    stored = style_view.latest(method, scope)
    if stored is None:
        return {"available": False, "on": False, "method": method}
    meta = stored.payload().get("meta", {})
    return {
        "available": True,
        "on": style,
        "method": method,
        "stored": stored,
        "citation": snapshots.citation(stored),
        "coefficients": style_view.coefficients(meta),
        "confidence": meta.get("confidence"),
        "ci": meta.get("ci"),
        "units": (meta.get("style") or {}).get("units"),
        "penalty": (meta.get("style") or {}).get("penalty"),
    }


def _body(method, scope, show_retired, style=False) -> tuple[Markup, dict]:
    known = scopes()
    stored = snapshots.latest(method, scope)
    context = {
        "stored": stored,
        "scope": scope,
        "method": method,
        "choices": _choices(known, method),
        "any_snapshot": bool(known),
        "show_retired": show_retired,
        "reason": None,
        "threshold": rt().settings["web"]["preliminary_votes"],
        "link_args": snapshots.link_args(method, scope),
        "style": _style_context(method, scope, style),
    }
    if stored is not None:
        payload = stored.payload()
        rows = _rows(payload, snapshots.models_info(), context["threshold"])
        if context["style"]["on"]:
            rows = style_view.page_rows(rows, context["style"]["stored"].payload())
        retired = [r for r in rows if r["state"] == "retired"]
        shown = rows if show_retired else [r for r in rows if r["state"] != "retired"]
        top = [r["model"] for r in shown[:HEATMAP_MODELS]]
        context.update(
            meta=payload.get("meta", {}),
            citation=snapshots.citation(stored),
            rows=shown,
            retired_count=len(retired),
            excluded=(payload.get("meta", {}).get("excluded") or {}),
            heatmap=pairs.win_fractions(scope, top, stored.key),
            over_time=_over_time(method, scope, [r["model"] for r in shown[:HISTORY_MODELS]]),
        )
    flags = {
        "rows": bool(context.get("rows")),
        "choices": context["choices"],
        "any_snapshot": context["any_snapshot"],
    }
    return Markup(render_template("_leaderboard_body.html", **context)), flags
