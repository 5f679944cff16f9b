"""Maintainer endpoints behind bearer tokens, and the token check for read endpoints.

``POST /api/v1/maintainer/recompute``              enqueue a rating recompute (one waits at most)
``PUT  /api/v1/maintainer/models/<name>/state``    {"state": "active|provisional|retired"}
``GET  /api/v1/maintainer/votes.csv``              every vote, rater ids pseudonymized
``GET  /api/v1/maintainer/votes.parquet``          the same as Parquet
``POST /api/v1/maintainer/import/<kind>``          models, prompts, answers, signals
                                                   (:mod:`arena.web.maintainer_import`)

A token is sent as ``Authorization: Bearer arena_…`` (``arena token create``).
No token or an unknown/revoked one: 401; a token whose role may not do this: 403;
both with a JSON reason and nothing changed. Read endpoints (``/api/v1`` GETs)
need a token of any role only when ``[api] public_read = false``.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import hmac
import io
from collections.abc import Iterator

from flask import Blueprint, Response, g, jsonify, request, stream_with_context
from rq.exceptions import DuplicateJobError
from sqlalchemy import select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from arena import tokens, votes
from arena.models import MODEL_STATES, Battle, Model, Prompt, Vote
from arena.web.common import rt
from arena.web.errors import ApiError

bp = Blueprint("maintainer", __name__, url_prefix="/api/v1/maintainer")

EXPORT_COLUMNS = (
    "vote_id",
    "created_at",
    "battle_id",
    "prompt_key",
    "category",
    "left_model",
    "right_model",
    "choice",
    "winner",
    "source",
    "rater",
)


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def authenticate(*roles: str) -> tokens.TokenInfo:
    """The request's token, when it is live and has one of ``roles`` (else 401/403)."""
    token = _bearer()
    if token is None:
        raise ApiError(401, "this endpoint needs a bearer token (arena token create)", "no_token")
    info = tokens.verify(rt().engine, token)
    if info is None:
        raise ApiError(401, "the bearer token is unknown or revoked", "bad_token")
    if roles and info.role not in roles:
        raise ApiError(
            403, f"a {info.role} token may not do this (needs {' or '.join(roles)})", "forbidden"
        )
    g.api_token = info
    return info


def require(*roles: str):
    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            authenticate(*roles)
            return view(*args, **kwargs)

        return guarded

    return decorate


READ_BLUEPRINTS = frozenset({"leaderboard_api", "read_api"})


def guard_reads() -> None:
    """``before_request``: the read API needs a token when ``[api] public_read`` is false."""
    if request.blueprint in READ_BLUEPRINTS and not rt().settings["api"]["public_read"]:
        authenticate(*tokens.ROLES)


@bp.post("/recompute")
@require("maintainer")
def recompute():
    """Enqueue a rating recompute.

    ---
    post:
      summary: Enqueue a recompute of every default scope's snapshot
      security: [{bearer: []}]
      responses:
        202:
          description: enqueued (or one was already waiting)
          content:
            application/json: {schema: {$ref: '#/components/schemas/Recompute'}}
        401: {$ref: '#/components/responses/Error'}
        403: {$ref: '#/components/responses/Error'}
    """
    queue = rt().queue("recompute")
    try:
        job = queue.enqueue(
            votes.RECOMPUTE_JOB,
            job_id=votes.RECOMPUTE_JOB_ID,
            unique=True,
            result_ttl=0,
            job_timeout=600,
            description="recompute rating snapshots (maintainer API)",
        )
        job_id = job.id
    except DuplicateJobError:
        job_id = votes.RECOMPUTE_JOB_ID
    return jsonify({"job": job_id, "queue": queue.name}), 202


@bp.put("/models/<path:name>/state")
@require("maintainer")
def set_model_state(name: str):
    """Change a model's state.

    ---
    put:
      summary: Set a model's state (active, provisional or retired)
      security: [{bearer: []}]
      parameters:
        - {name: name, in: path, required: true, schema: {type: string}}
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [state]
              properties: {state: {type: string, enum: [active, provisional, retired]}}
      responses:
        200:
          description: the new state
          content:
            application/json: {schema: {$ref: '#/components/schemas/ModelState'}}
        400: {$ref: '#/components/responses/Error'}
        401: {$ref: '#/components/responses/Error'}
        403: {$ref: '#/components/responses/Error'}
        404: {$ref: '#/components/responses/Error'}
    """
    body = request.get_json(silent=True)
    state = body.get("state") if isinstance(body, dict) else None
    if state not in MODEL_STATES:
        raise ApiError(400, f"state must be one of {', '.join(MODEL_STATES)}", "bad_state")
    with Session(rt().engine) as s:
        model = s.execute(select(Model).where(Model.name == name)).scalar_one_or_none()
        if model is None:
            raise ApiError(404, f"no model named {name!r}", "no_model")
        previous, model.state = model.state, state
        s.add(model)
        s.commit()
    return jsonify({"model": name, "state": state, "previous": previous})


def pseudonym(secret: str, rater_id: str | None) -> str:
    """A stable pseudonym for a rater id: HMAC-SHA256 under the instance's secret key."""
    if not rater_id:
        return ""
    return hmac.new(secret.encode(), rater_id.encode(), hashlib.sha256).hexdigest()[:16]


def _export_statement():
    left, right = aliased(Model), aliased(Model)
    return (
        select(
            Vote.id,
            Vote.created_at,
            Vote.battle_id,
            Prompt.key,
            Prompt.category,
            left.name,
            right.name,
            Vote.choice,
            Vote.winner,
            Vote.source,
            Vote.rater_id,
        )
        .join(Battle, Battle.id == Vote.battle_id)
        .join(left, left.id == Battle.left_model_id)
        .join(right, right.id == Battle.right_model_id)
        .outerjoin(Prompt, Prompt.id == Battle.prompt_id)
        .order_by(Vote.id)
    )


def export_rows(runtime) -> Iterator[list]:
    """Every vote as a list of :data:`EXPORT_COLUMNS` values, oldest first.

    ``created_at`` is ISO text (seconds), the rater a :func:`pseudonym`; the
    CSV and the Parquet export both read these rows.
    """
    secret = runtime.settings.secret_key
    with Session(runtime.engine) as s:
        result = s.execute(_export_statement().execution_options(yield_per=5000))
        for row in result:
            *fields, rater = row
            fields[1] = fields[1].isoformat(timespec="seconds") if fields[1] else ""
            yield [*fields, pseudonym(secret, rater)]


@bp.get("/votes.csv")
@require("maintainer")
def export_votes():
    """Every vote as CSV, rater ids pseudonymized.

    ---
    get:
      summary: Export every vote as CSV (rater ids replaced by stable pseudonyms)
      security: [{bearer: []}]
      responses:
        200:
          description: the votes, oldest first
          content:
            text/csv: {schema: {type: string}}
        401: {$ref: '#/components/responses/Error'}
        403: {$ref: '#/components/responses/Error'}
    """
    runtime = rt()

    def rows():
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        for k, row in enumerate(export_rows(runtime)):
            writer.writerow(row)
            if k % 1000 == 999:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()

    response = Response(stream_with_context(rows()), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="votes.csv"'
    return response


#: Parquet column types of the export (polars), in :data:`EXPORT_COLUMNS` order.
PARQUET_TYPES = (
    "Int64",
    "String",
    "Int64",
    "String",
    "String",
    "String",
    "String",
    "String",
    "String",
    "String",
    "String",
)


@bp.get("/votes.parquet")
@require("maintainer")
def export_votes_parquet():
    """Every vote as Parquet, rater ids pseudonymized (the CSV export's columns).

    ---
    get:
      summary: Export every vote as Parquet (the CSV export's columns and pseudonyms)
      security: [{bearer: []}]
      responses:
        200:
          description: the votes, oldest first, one Parquet file (zstd)
          content:
            application/vnd.apache.parquet: {schema: {type: string, format: binary}}
        401: {$ref: '#/components/responses/Error'}
        403: {$ref: '#/components/responses/Error'}
    """
    import polars as pl

    schema = {name: getattr(pl, kind) for name, kind in zip(EXPORT_COLUMNS, PARQUET_TYPES)}
    columns: list[list] = [[] for _ in EXPORT_COLUMNS]
    for row in export_rows(rt()):
        for column, value in zip(columns, row):
            column.append(value)
    frame = pl.DataFrame(dict(zip(EXPORT_COLUMNS, columns)), schema=schema)
    out = io.BytesIO()
    frame.write_parquet(out, compression="zstd")
    response = Response(out.getvalue(), mimetype="application/vnd.apache.parquet")
    response.headers["Content-Disposition"] = 'attachment; filename="votes.parquet"'
    return response
