"""``GET /leaderboard/composite``: the composite rank as a table, and goodness against fastness.

The composite rank is what ``GET /api/v1/rank`` answers with its defaults (the
``[rank]`` settings): the newest stored ``bt`` snapshot of human votes blended
with the imported signals (benchmarks, popularity, recency, efficiency;
:mod:`arena.composite_db`). Like that endpoint, it is not stored by a worker:
it is computed from the stored snapshot and signal tables on the first request
after either changes, then kept (:mod:`arena.web.fragments`), keyed by the
newest snapshot and :func:`signals_stamp` (each signal table's row count and
a sum over its values, the newest answer: a few aggregate queries per request). The model page
reads the same cached result (:func:`composite`).
"""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlmodel import Session

from arena.models import Alias, Answer, BenchmarkScore, ModelMetadata, Popularity
from arena.web import fragments, snapshots
from arena.web.common import rt
from arena.web.errors import ApiError
from arena.web.extensions import limit

bp = Blueprint("composite_page", __name__)

#: The rankings the page offers (``arena rank --by``).
BY = ("composite", "goodness", "fastness")
IMPORTS = ("benchmarks", "popularity", "metadata", "aliases")


def signals_stamp() -> tuple:
    """What the signal tables hold, in a few aggregate queries: counts, and sums or
    maxima that move when an import inserts or updates rows."""
    stamps = (
        select(func.count(), func.max(BenchmarkScore.id), func.sum(BenchmarkScore.score)),
        select(func.count(), func.sum(Popularity.downloads), func.sum(Popularity.likes)),
        select(
            func.count(), func.max(ModelMetadata.release_date), func.sum(ModelMetadata.parameters_b)
        ),
        select(func.count(), func.max(Alias.model)),
        select(func.max(Answer.id)),  # new answers bring new speeds (an index lookup)
    )
    with Session(rt().engine) as s:
        return tuple(tuple(s.execute(q).one()) for q in stamps)


def _compute(category: str, by: str) -> dict:
    """The composite rank with the ``[rank]`` defaults, as ``/api/v1/rank`` answers it."""
    from arena.composite_db import load_db_inputs
    from arena.rank_options import arena_source, rank_options
    from rating.composite import WeightError, rank_models

    runtime = rt()
    try:
        opts = rank_options(runtime.settings, category=category or None, by=by)
        inputs, inputs_meta = load_db_inputs(
            runtime.engine,
            runtime.settings["rating"]["method"],
            category,
            arena_source(runtime.settings, None),
            "",
        )
        result = rank_models(inputs, opts)
    except (WeightError, ValueError) as exc:
        return {"error": str(exc), "meta": {}, "models": []}
    return {
        "meta": {"mode": "database", "inputs": inputs_meta, **result.meta},
        "models": result.rows,
    }


def stamp() -> tuple:
    """What a composite rank depends on: the stored snapshots, models and signal tables."""
    return (fragments.version(), signals_stamp())


def composite(category: str = "", by: str = "composite", version: tuple | None = None) -> dict:
    """The composite rank's ``{"meta", "models"}`` (or ``{"error"}``), kept per
    snapshot and signal tables (``version``, default :func:`stamp`; see the module
    docstring)."""
    key = ("composite-rank", version or stamp(), category, by)
    return fragments.cached(key, lambda: _compute(category, by))


def raw_text(value) -> str:
    """A signal's raw value as short text (numbers rounded, a dict as ``key value`` pairs)."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    if isinstance(value, dict):
        parts = [
            f"{k.replace('_', ' ')} {raw_text(v)}"
            for k, v in value.items()
            if v is not None and not isinstance(v, (dict, list))
        ]
        return ", ".join(parts) or "–"
    if isinstance(value, list):
        return ", ".join(raw_text(v) for v in value[:6])
    return str(value)


def scatter_points(rows: list[dict]) -> dict | None:
    """Goodness (y) and fastness (x) with intervals of the ranked models that have both."""
    have = [r for r in rows if r.get("goodness") and r.get("fastness")]
    if not have:
        return None
    return {
        "models": [r["model"] for r in have],
        "good": [r["goodness"]["value"] for r in have],
        "good_low": [r["goodness"]["ci_low"] for r in have],
        "good_high": [r["goodness"]["ci_high"] for r in have],
        "fast": [r["fastness"]["value"] for r in have],
        "fast_low": [r["fastness"]["ci_low"] for r in have],
        "fast_high": [r["fastness"]["ci_high"] for r in have],
    }


def known_categories() -> list[str]:
    """Categories with a rating snapshot of the ``[rating] method`` (the arena signal's)."""
    method = rt().settings["rating"]["method"]
    return sorted(
        {s["category"] for s in snapshots.every_scope() if s["category"] and s["method"] == method}
    )


def _args() -> tuple[str, str]:
    by = request.args.get("by") or "composite"
    if by not in BY:
        raise ApiError(400, f"by must be one of {', '.join(BY)}", "bad_parameter")
    scope = snapshots.request_scope()
    return scope.category, by


@bp.get("/leaderboard/composite")
@limit("reads")
def page():
    """The composite tab: its table works without JavaScript, the scatter as enhancement."""
    try:
        category, by = _args()
    except ApiError as exc:
        body = Markup(f"<h1>Composite rank</h1><p>{escape(exc.reason)}</p>")
        return render_template("composite.html", body=body, charted=False), 400
    if category and category not in known_categories():
        # computed only for categories with ratings: free text in the query cannot make
        # the server rank again and again, nor fill the kept pages
        body = Markup(
            f"<h1>Composite rank</h1><p id='no-category'>No ratings for the category "
            f"{escape(category)!s} yet. <a href='{url_for('composite_page.page')}'>"
            "All categories</a>.</p>"
        )
        return render_template("composite.html", body=body, charted=False), 404
    version = stamp()
    key = ("composite-page", version, category, by)
    body, charted = fragments.cached(
        key, lambda: _body(composite(category, by, version), category, by)
    )
    return render_template("composite.html", body=body, charted=charted)


def _body(data: dict, category: str, by: str) -> tuple[Markup, bool]:
    meta = data.get("meta", {})
    rows = data.get("models", [])
    points = scatter_points(rows)
    arena_input = next((i for i in meta.get("inputs", []) if i.get("kind") == "ratings"), None)
    imported = {
        i["kind"]: i.get("rows", 0) for i in meta.get("inputs", []) if i.get("kind") != "ratings"
    }
    html = render_template(
        "_composite_body.html",
        data=data,
        meta=meta,
        rows=rows,
        points=points,
        arena_input=arena_input,
        imported=imported,
        imports=IMPORTS,
        category=category,
        categories=known_categories(),
        by=by,
        choices=BY,
        raw_text=raw_text,
    )
    return Markup(html), points is not None
