"""The JSON API, version 1 (``/api/v1``).

Every error answers ``{"error": ..., "reason": ...}`` with a 4xx status, or 503
(with ``Retry-After``) when Redis or the database is down.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from rq.exceptions import DuplicateJobError
from sqlalchemy import func, select
from sqlmodel import Session

from arena import battles, queue, votes
from arena.models import CHOICES, Battle, Model, Prompt, Vote
from arena.web.common import issue_battle, rater_id, rt, tokens
from arena.web.errors import ApiError
from arena.web.extensions import limit
from arena.web.inputs import json_body

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.post("/battles")
@limit("battles")
def create_battle():
    """Draw a curated battle: a stored prompt and two stored answers, models hidden.

    ---
    post:
      summary: Draw a curated battle (nothing is stored until the vote)
      requestBody:
        required: false
        content:
          application/json:
            schema:
              type: object
              properties:
                category: {type: string, description: keep to one prompt category}
      responses:
        201:
          description: the prompt, the two answers and the battle's token
          content:
            application/json: {schema: {$ref: '#/components/schemas/Battle'}}
        400:
          description: bad_category, bad_json, bad_text
          content:
            application/json: {schema: {$ref: '#/components/schemas/Error'}}
        404:
          description: no_battle (no prompt, in that category, has answers from two eligible models)
          content:
            application/json: {schema: {$ref: '#/components/schemas/Error'}}
        413: {$ref: '#/components/responses/BodyTooLong'}
        429:
          description: too_many_requests ([limits] battles)
          content:
            application/json: {schema: {$ref: '#/components/schemas/Error'}}
        503: {$ref: '#/components/responses/Unavailable'}
    """
    body = json_body(required=False)
    category = body.get("category")
    if category is not None and (not isinstance(category, str) or not category.strip()):
        raise ApiError(400, "category must be a non-empty string", "bad_category")
    return jsonify(issue_battle(category)), 201


@bp.post("/votes")
@limit("votes")
def create_vote():
    """Vote on a battle (curated or live) with its token; the vote is queued.

    ---
    post:
      summary: Vote on a battle; exactly one vote per battle is accepted
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [battle_token, choice]
              properties:
                battle_token: {type: string}
                choice: {type: string, enum: [left, right, tie, both_bad]}
      responses:
        202:
          description: the vote is queued; the models' names
          content:
            application/json: {schema: {$ref: '#/components/schemas/VoteAccepted'}}
        400:
          description: bad_choice, bad_token (malformed or forged), bad_json, bad_text
          content:
            application/json: {schema: {$ref: '#/components/schemas/Error'}}
        404:
          description: no_battle (its prompt or a model was deleted)
          content:
            application/json: {schema: {$ref: '#/components/schemas/Error'}}
        409:
          description: already_voted; for a live battle not_ready (still streaming) or battle_failed
          content:
            application/json: {schema: {$ref: '#/components/schemas/Error'}}
        410: {$ref: '#/components/responses/TokenExpired'}
        413: {$ref: '#/components/responses/BodyTooLong'}
        429:
          description: too_many_requests ([limits] votes)
          content:
            application/json: {schema: {$ref: '#/components/schemas/Error'}}
        503: {$ref: '#/components/responses/Unavailable'}
    """
    body = json_body(required=True)
    choice = body.get("choice")
    if choice not in CHOICES:
        raise ApiError(400, f"choice must be one of {', '.join(CHOICES)}", "bad_choice")
    try:
        ticket = tokens().read(body.get("battle_token"))
    except battles.TokenExpired as exc:
        raise ApiError(410, str(exc), "token_expired") from None
    except battles.TokenInvalid as exc:
        raise ApiError(400, str(exc), "bad_token") from None

    runtime = rt()
    with runtime.engine.connect() as conn:
        try:
            if ticket.unstored is not None:
                payload = votes.payload_for_unstored(
                    conn, ticket.unstored, choice, source="human", rater_id=rater_id()
                )
            else:
                payload = votes.payload_for(
                    conn, ticket.battle_id, choice, source="human", rater_id=rater_id()
                )
        except votes.NoSuchBattle:
            raise ApiError(404, "battle no longer exists", "no_battle") from None
        except votes.AlreadyVoted:
            raise ApiError(409, "this battle already has a vote", "already_voted") from None
        except votes.VoteError as exc:  # a live battle still streaming, or failed
            raise ApiError(409, str(exc), getattr(exc, "code", None) or "not_ready") from None
        # End the read with COMMIT: psycopg forgets its prepared statements on the
        # ROLLBACK the pool would send, and PostgreSQL would plan the query anew
        # for every vote.
        conn.commit()

    # Exactly one accepted vote per battle, ever: the enqueue claims the battle in
    # Redis atomically (SET NX, in the same script as the job) for longer than the
    # token lives, so a second vote conflicts whether the first is queued or stored.
    # The read above only spares Redis the votes whose battle is long stored.
    cfg = runtime.settings["votes"]
    try:
        votes.enqueue(
            runtime.queue(cfg["queue"]),
            payload,
            timeout=int(cfg["job_timeout_seconds"]),
            retries=int(cfg["retries"]),
            claim_for=votes.claim_seconds(ticket.expires_at),
        )
    except DuplicateJobError:
        raise ApiError(409, "this battle already has a vote", "already_voted") from None
    return jsonify(
        {"left_model": payload["left_model"], "right_model": payload["right_model"]}
    ), 202


@bp.get("/stats")
def stats():
    runtime = rt()
    with Session(runtime.engine) as s:
        counts = {
            name: s.execute(select(func.count()).select_from(table)).scalar_one()
            for name, table in (
                ("models", Model),
                ("prompts", Prompt),
                ("battles", Battle),
                ("votes", Vote),
            )
        }
    counts["queued"] = queue.queued_count(runtime.redis, [runtime.settings["votes"]["queue"]])
    return jsonify(counts)
