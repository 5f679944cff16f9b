"""The read API for maintainers: tiers, models, snapshots and matrices (``/api/v1``).

Every answer carries ``snapshot``: the id, time, method, scope, digest, votes and
model count of the stored snapshot it was read from, so a reader can cite what
they pulled; snapshot-backed answers have a weak ``ETag`` and answer 304 to a
matching ``If-None-Match``. Tables also come as CSV with ``?format=csv``.
Nothing is computed from votes on request. The view docstrings' YAML (after
``---``) is the operation's OpenAPI description (:mod:`arena.web.openapi`).
"""

from __future__ import annotations

import numpy as np
from flask import Blueprint, jsonify
from sqlalchemy import select
from sqlmodel import Session

from arena.models import Model
from arena.scope import Scope
from arena.web import model_detail, snapshots
from arena.web.common import rt
from arena.web.errors import ApiError
from arena.web.extensions import limit
from arena.web.tables import csv_response, wants_csv

bp = Blueprint("read_api", __name__, url_prefix="/api/v1")

TIER_COLUMNS = ("tier", "rank_ub", "model", "rating", "ci_low", "ci_high", "battles")
MODEL_COLUMNS = ("name", "organization", "license", "state", "rating", "rank_ub", "tier")


def _finish(body_or_response, tag: str):
    response = body_or_response
    if isinstance(body_or_response, dict):
        response = jsonify(body_or_response)
    response.set_etag(tag, weak=True)
    return response


def tiers_of(models: list[dict]) -> list[dict]:
    """Group snapshot rows (best first) by tier, with the bounds that separate the tiers.

    A tier starts at its leader; ``lower_bound`` is the leader's interval low end:
    the next tier starts at the first model whose upper end is below it.
    """
    out: list[dict] = []
    for m in models:
        if not out or out[-1]["tier"] != m["tier"]:
            out.append(
                {
                    "tier": m["tier"],
                    "leader": m["model"],
                    "lower_bound": m.get("ci_low"),
                    "upper_bound": m.get("ci_high"),
                    "models": [],
                }
            )
        out[-1]["models"].append(
            {k: m.get(k) for k in ("model", "rating", "ci_low", "ci_high", "rank_ub", "battles")}
        )
    for k, tier in enumerate(out):
        nxt = out[k + 1] if k + 1 < len(out) else None
        tier["next_tier_upper_bound"] = nxt["upper_bound"] if nxt else None
    return out


@bp.get("/tiers")
@limit("reads")
def tiers_json():
    """Tiers of the newest snapshot of a scope.

    ---
    get:
      summary: Tiers of a leaderboard, with the bounds that separate them
      parameters:
        - method
        - category
        - source
        - rater_group
        - format
      responses:
        200:
          description: the tiers, best first
          content:
            application/json: {schema: {$ref: '#/components/schemas/Tiers'}}
            text/csv: {schema: {type: string}}
        304: {description: not modified (If-None-Match)}
        400: {$ref: '#/components/responses/Error'}
        404: {$ref: '#/components/responses/Error'}
    """
    method, scope = snapshots.request_method(), snapshots.request_scope()
    csv = wants_csv()
    stored = snapshots.latest_or_404(method, scope)
    tag = snapshots.etag(stored.id, stored.digest)
    if (cached := snapshots.not_modified(tag)) is not None:
        return cached
    tiers = tiers_of(stored.payload()["models"])
    if csv:
        rows = [{"tier": t["tier"], **m} for t in tiers for m in t["models"]]
        return _finish(csv_response(rows, TIER_COLUMNS, f"tiers-{stored.id}.csv"), tag)
    body = {"snapshot": snapshots.citation(stored), "tiers": tiers}
    return _finish(snapshots.cached_json(stored, lambda: body), tag)


@bp.get("/models")
@limit("reads")
def models_json():
    """Every model, with its place in the newest snapshot of the scope.

    ---
    get:
      summary: Every model in the store, with its current rating
      parameters:
        - method
        - category
        - source
        - rater_group
        - format
      responses:
        200:
          description: the models, by name
          content:
            application/json: {schema: {$ref: '#/components/schemas/Models'}}
            text/csv: {schema: {type: string}}
        400: {$ref: '#/components/responses/Error'}
    """
    method, scope = snapshots.request_method(), snapshots.request_scope()
    csv = wants_csv()
    stored = snapshots.latest(method, scope)
    rated = {m["model"]: m for m in stored.payload()["models"]} if stored else {}
    with Session(rt().engine) as s:
        models = s.execute(select(Model).order_by(Model.name)).scalars().all()
        rows = [
            {
                "name": m.name,
                "organization": m.organization,
                "license": m.license,
                "state": m.state,
                **{k: rated.get(m.name, {}).get(k) for k in ("rating", "rank_ub", "tier")},
            }
            for m in models
        ]
    tag = snapshots.etag(stored.id if stored else 0, len(rows), *(r["state"] for r in rows))
    if (cached := snapshots.not_modified(tag)) is not None:
        return cached
    if csv:
        return _finish(csv_response(rows, MODEL_COLUMNS, "models.csv"), tag)
    body = {"snapshot": snapshots.citation(stored) if stored else None, "models": rows}
    return _finish(body, tag)


@bp.get("/models/<path:name>")
@limit("reads")
def model_json(name: str):
    """One model: rating over time, per category, head to head, composite signals.

    ---
    get:
      summary: One model over time, per category and against each opponent
      parameters:
        - {name: name, in: path, required: true, schema: {type: string}}
        - method
        - category
        - source
        - rater_group
      responses:
        200:
          description: the model
          content:
            application/json: {schema: {$ref: '#/components/schemas/ModelDetail'}}
        400: {$ref: '#/components/responses/Error'}
        404: {$ref: '#/components/responses/Error'}
    """
    from arena.web import model_signals

    method, scope = snapshots.request_method(), snapshots.request_scope()
    body = model_detail.detail(name, method, scope)
    body["composite"] = model_signals.signals(name)  # as the model page shows it
    return jsonify(body)


@bp.get("/snapshots")
@limit("reads")
def snapshots_json():
    """The kept snapshots (history), newest first, without payloads.

    ---
    get:
      summary: Kept snapshots, newest first (filter by method and scope)
      parameters:
        - {name: method, in: query, schema: {type: string, enum: [bt, davidson, elo]}}
        - category
        - {name: source, in: query, schema: {type: string},
           description: 'human, judge:NAME or all; unnamed: every source'}
        - rater_group
      responses:
        200:
          description: the snapshots
          content:
            application/json: {schema: {$ref: '#/components/schemas/SnapshotList'}}
        400: {$ref: '#/components/responses/Error'}
    """
    from flask import request

    from arena.models import RatingSnapshot

    args = request.args
    stmt = select(*snapshots.COLUMNS).order_by(
        RatingSnapshot.created_at.desc(), RatingSnapshot.id.desc()
    )
    if args.get("method"):
        stmt = stmt.where(RatingSnapshot.method == snapshots.request_method())
    if any(args.get(k) for k in ("category", "source", "rater_group")):
        stored = snapshots.request_scope().stored()
        for key in ("category", "source", "rater_group"):
            if args.get(key):
                stmt = stmt.where(getattr(RatingSnapshot, key) == stored[key])
    with Session(rt().engine) as s:
        rows = [snapshots.Stored(*r) for r in s.execute(stmt.limit(1000)).all()]
    return jsonify({"snapshots": [snapshots.summary(r) for r in rows]})


@bp.get("/snapshots/<int(max=9223372036854775807):snapshot_id>")  # larger: 404, not overflow
@limit("reads")
def snapshot_json(snapshot_id: int):
    """One snapshot: its parameters (meta) and table.

    ---
    get:
      summary: One stored snapshot, with its parameters and table
      parameters:
        - {name: snapshot_id, in: path, required: true, schema: {type: integer}}
        - format
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
    from arena.web.leaderboard import LEADERBOARD_COLUMNS

    csv = wants_csv()
    stored = snapshots.by_id(snapshot_id)
    if stored is None:
        raise ApiError(404, f"no snapshot {snapshot_id} (it may have been pruned)", "no_snapshot")
    tag = snapshots.etag(stored.id, stored.digest)
    if (cached := snapshots.not_modified(tag)) is not None:
        return cached
    payload = stored.payload()
    if csv:
        return _finish(
            csv_response(payload["models"], LEADERBOARD_COLUMNS, f"snapshot-{stored.id}.csv"), tag
        )
    body = {"snapshot": snapshots.citation(stored), "meta": payload.get("meta", {})}
    body["models"] = payload.get("models", [])
    return _finish(body, tag)


def matrices_of(payload: dict) -> dict:
    """P(i beats j) from the ratings and, with replicates, whether i is significantly above j."""
    models = [m["model"] for m in payload["models"]]
    r = np.array([m["rating"] if m["rating"] is not None else np.nan for m in payload["models"]])
    p = 1.0 / (1.0 + 10.0 ** ((r[None, :] - r[:, None]) / 400.0))
    out = {
        "models": models,
        "win_probability": [
            [None if np.isnan(v) else round(float(v), 4) for v in row] for row in p
        ],
        "significantly_above": None,
    }
    reps = payload.get("bootstrap")
    if reps and reps.get("ratings"):
        conf = payload.get("meta", {}).get("confidence") or 0.95
        index = {m: k for k, m in enumerate(reps["models"])}
        matrix = np.array(reps["ratings"], dtype=float)[:, [index[m] for m in models]]
        sig = np.zeros((len(models), len(models)), int)
        for k in range(len(models)):
            low = np.nanquantile(matrix[:, [k]] - matrix, (1 - conf) / 2, axis=0)
            sig[k] = low > 0
        out["significantly_above"] = sig.tolist()
    return out


@bp.get("/matrices")
@limit("reads")
def matrices_json():
    """P(i beats j) and significance for the newest snapshot of a scope.

    ---
    get:
      summary: P(row model beats column model), and which differences are significant
      parameters:
        - method
        - category
        - source
        - rater_group
      responses:
        200:
          description: the matrices, rows and columns in leaderboard order
          content:
            application/json: {schema: {$ref: '#/components/schemas/Matrices'}}
        304: {description: not modified (If-None-Match)}
        400: {$ref: '#/components/responses/Error'}
        404: {$ref: '#/components/responses/Error'}
    """
    method, scope = snapshots.request_method(), snapshots.request_scope()
    stored = snapshots.latest_or_404(method, scope)
    tag = snapshots.etag(stored.id, stored.digest)
    if (cached := snapshots.not_modified(tag)) is not None:
        return cached

    def build():
        return {"snapshot": snapshots.citation(stored), **matrices_of(stored.payload())}

    return _finish(snapshots.cached_json(stored, build), tag)


__all__ = ["Scope", "bp", "tiers_of"]
