"""Live battles over HTTP: start, follow up, regenerate, view, reveal, and the SSE relay.

``POST /api/v1/live``                        {prompt, category?} -> 201 {battle_token, battle_id,
                                             stream_url, view}
``POST /api/v1/live/<id>/turns``             {battle_token, text} -> 201 {turn, attempt, view}
``POST /api/v1/live/<id>/regenerate``        {battle_token} -> 201 {turn, attempt, view}
``GET  /api/v1/live/<id>?token=``            the public view (no model names before the vote)
``GET  /api/v1/live/<id>/reveal?token=``     after the vote: names, time to first token, tokens/s
``GET  /api/v1/live/<id>/events?token=``     the battle's answers as server-sent events

The three POSTs start generation, which costs money: they share the ``[limits]
generate`` budget per client; the GETs count against ``[limits] reads``. Every endpoint
takes the battle's token (the stored-battle token the vote uses), so one rater cannot read
another's conversation by its number.

:func:`events` relays the battle's Redis stream from the entry after ``Last-Event-ID`` (the
header a reconnecting EventSource sends, or ``?last_event_id=``): :mod:`arena.web.live_relay`.
"""

from __future__ import annotations

import logging
import re

import numpy as np
from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context, url_for
from sqlmodel import Session

from arena import battles, live, live_view
from arena.markdown import markdown
from arena.models import Battle
from arena.web.common import rater_id, rt, tokens
from arena.web.errors import ApiError
from arena.web.extensions import limit
from arena.web.inputs import json_body
from arena.web.live_relay import HEARTBEAT_SECONDS, MAX_RELAY_SECONDS, relay

bp = Blueprint("live", __name__, url_prefix="/api/v1/live")
log = logging.getLogger(__name__)

_ENTRY_ID = re.compile(r"^(0|\d{1,20}-\d{1,20})$")


def _live_error(exc: live.LiveError) -> ApiError:
    return ApiError(exc.status, str(exc), exc.code)


def _check_token(battle_id: int, token: object) -> None:
    """Refuse a token that is bad (400), expired (410) or names another battle (403)."""
    try:
        ticket = tokens().read(token)
    except battles.TokenExpired as exc:
        raise ApiError(410, str(exc), "token_expired") from None
    except battles.TokenInvalid as exc:
        raise ApiError(400, str(exc), "bad_token") from None
    if ticket.battle_id != battle_id:
        raise ApiError(403, "the battle token is for another battle", "wrong_battle")


def _enabled() -> None:
    if not rt().settings["live"]["enabled"]:
        raise ApiError(404, "live battles are turned off here ([live] enabled)", "live_disabled")


def public_view(session: Session, battle_id: int) -> dict:
    """:func:`arena.live_view.view` plus, for each finished answer, its sanitized ``html``."""
    try:
        view = live_view.view(session, battle_id, rt().settings, redis=rt().redis)
    except live.LiveError as exc:
        raise _live_error(exc) from None
    for turn in view.get("turns", []):
        for side in ("left", "right"):
            pane = turn.get(side)
            if pane and pane.get("status") == "done":
                pane["html"] = str(markdown(pane.get("text") or ""))
    return view


def _text(body: dict, name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string", "bad_prompt")
    return value


def _not_claimed(battle_id: int) -> None:
    """Refuse to change a battle whose vote is accepted but not stored yet."""
    if live.vote_claimed(rt().redis, battle_id):
        raise ApiError(409, "this battle has a vote; start a new one", "already_voted")


def _generate(stored: live.Continued) -> None:
    """Ask for both answers of what was just stored; the requests carry the models and
    the conversations (the worker calls the models before it reads the battle back)."""
    runtime = rt()
    live.request_generation(
        runtime.redis,
        runtime.settings,
        stored.battle_id,
        stored.turn,
        stored.attempt,
        models=stored.models,
        conversations=stored.conversations(),
    )


def _stream_url(battle_id: int, token: str) -> str:
    return url_for("live.events", battle_id=battle_id, token=token)


@bp.post("")
@limit("generate")
def start():
    """Start a live battle: two live models answer ``prompt``.

    ---
    post:
      summary: Start a live battle on the rater's own prompt
      description: >-
        Stores the battle (two live models drawn, sides hidden) and asks the generation
        workers for both answers; they stream on `stream_url`. Shares the
        `[limits] generate` budget with follow-ups and regenerates.
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [prompt]
              properties:
                prompt: {type: string, description: 'at most [live] max_prompt_chars'}
                category:
                  type: string
                  description: general, coding, math or a category the prompts have; unnamed
                    or empty, the prompt decides
      responses:
        201:
          description: the battle, its token and its view (both answers "streaming")
          content:
            application/json: {schema: {$ref: '#/components/schemas/LiveStarted'}}
        400:
          description: bad_prompt (empty, or an unknown category), too_long, bad_json, bad_text
          content:
            application/json: {schema: {$ref: '#/components/schemas/Error'}}
        404:
          description: live_disabled ([live] enabled = false)
          content:
            application/json: {schema: {$ref: '#/components/schemas/Error'}}
        413: {$ref: '#/components/responses/Error'}
        429: {$ref: '#/components/responses/Error'}
        503:
          description: no_live_models (fewer than two), or unavailable (Redis or the database)
          content:
            application/json: {schema: {$ref: '#/components/schemas/Error'}}
    """
    _enabled()
    body = json_body(required=True)
    text = _text(body, "prompt")
    category = body.get("category")  # checked by live.start
    runtime = rt()
    with Session(runtime.engine) as s:
        try:
            started = live.begin(
                s,
                runtime.settings,
                np.random.default_rng(),
                text=text,
                rater_id=rater_id(),
                category=category,
            )
        except live.LiveError as exc:
            raise _live_error(exc) from None
        s.commit()
    battle_id = started.battle_id
    # The requests carry the conversation: the worker calls the models before it reads
    # the battle back (the first token comes sooner).
    live.request_generation(
        runtime.redis,
        runtime.settings,
        battle_id,
        1,
        0,
        models=started.models,
        conversations=started.conversations(),
    )
    token = tokens().sign(battle_id)
    return jsonify(
        {
            "battle_token": token,
            "battle_id": battle_id,
            "stream_url": _stream_url(battle_id, token),
            "view": live_view.started_view(started, runtime.settings),
        }
    ), 201


@bp.post("/<int:battle_id>/turns")
@limit("generate")
def add_turn(battle_id: int):
    """A follow-up: both models answer ``text``, each with its own history.

    ---
    post:
      summary: Ask a follow-up in a ready live battle
      description: >-
        Both models answer `text`, each with its own conversation so far (at most
        [live] max_turns turns).
      parameters: [battle_id]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [battle_token, text]
              properties:
                battle_token: {type: string}
                text: {type: string, description: 'at most [live] max_prompt_chars'}
      responses:
        201:
          description: the new turn (attempt 0) and the battle's view
          content:
            application/json: {schema: {$ref: '#/components/schemas/LiveTurnStarted'}}
        400: {$ref: '#/components/responses/BadTurn'}
        403: {$ref: '#/components/responses/WrongBattle'}
        404: {$ref: '#/components/responses/NoLiveBattle'}
        409: {$ref: '#/components/responses/TurnRefused'}
        410: {$ref: '#/components/responses/TokenExpired'}
        413: {$ref: '#/components/responses/Error'}
        429: {$ref: '#/components/responses/Error'}
        503: {$ref: '#/components/responses/Error'}
    """
    _enabled()
    body = json_body(required=True)
    _check_token(battle_id, body.get("battle_token"))
    _not_claimed(battle_id)
    text = _text(body, "text")
    runtime = rt()
    with Session(runtime.engine) as s:
        try:
            stored = live.follow_up(s, runtime.settings, battle_id, text)
        except live.LiveError as exc:
            raise _live_error(exc) from None
        s.commit()
    _generate(stored)
    with Session(runtime.engine) as s:
        view = public_view(s, battle_id)
    return jsonify({"turn": stored.turn, "attempt": 0, "view": view}), 201


@bp.post("/<int:battle_id>/regenerate")
@limit("generate")
def regenerate(battle_id: int):
    """Both models answer the last turn again (recorded; only the newest attempt counts).

    ---
    post:
      summary: Have the last turn of a ready live battle answered again
      description: >-
        Both models answer the last turn again (the next attempt); earlier attempts
        stay stored, only the newest counts.
      parameters: [battle_id]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [battle_token]
              properties:
                battle_token: {type: string}
      responses:
        201:
          description: the turn, its new attempt and the battle's view
          content:
            application/json: {schema: {$ref: '#/components/schemas/LiveTurnStarted'}}
        400: {$ref: '#/components/responses/BadTurn'}
        403: {$ref: '#/components/responses/WrongBattle'}
        404: {$ref: '#/components/responses/NoLiveBattle'}
        409: {$ref: '#/components/responses/TurnRefused'}
        410: {$ref: '#/components/responses/TokenExpired'}
        413: {$ref: '#/components/responses/Error'}
        429: {$ref: '#/components/responses/Error'}
        503: {$ref: '#/components/responses/Error'}
    """
    _enabled()
    body = json_body(required=True)
    _check_token(battle_id, body.get("battle_token"))
    _not_claimed(battle_id)
    runtime = rt()
    with Session(runtime.engine) as s:
        try:
            stored = live.answer_again(s, runtime.settings, battle_id)
        except live.LiveError as exc:
            raise _live_error(exc) from None
        s.commit()
    _generate(stored)
    with Session(runtime.engine) as s:
        view = public_view(s, battle_id)
    return jsonify({"turn": stored.turn, "attempt": stored.attempt, "view": view}), 201


@bp.get("/<int:battle_id>")
@limit("reads")
def show(battle_id: int):
    """The battle's public view: turns, texts so far, statuses; no model names.

    ---
    get:
      summary: A live battle as its rater sees it (no model names)
      parameters: [battle_id, battle_token]
      responses:
        200:
          description: the conversation so far
          content:
            application/json: {schema: {$ref: '#/components/schemas/LiveView'}}
        400: {$ref: '#/components/responses/BadToken'}
        403: {$ref: '#/components/responses/WrongBattle'}
        404: {$ref: '#/components/responses/NoBattle'}
        410: {$ref: '#/components/responses/TokenExpired'}
        429: {$ref: '#/components/responses/Error'}
        503: {$ref: '#/components/responses/Error'}
    """
    _check_token(battle_id, request.args.get("token"))
    with Session(rt().engine) as s:
        return jsonify(public_view(s, battle_id))


@bp.get("/<int:battle_id>/reveal")
@limit("reads")
def reveal(battle_id: int):
    """After the vote (accepted, queued or stored): each side's model, time to first token
    and tokens per second (409 ``not_voted`` before).

    ---
    get:
      summary: The models of a voted live battle, with their speeds
      parameters: [battle_id, battle_token]
      responses:
        200:
          description: each side's model, time to first token and tokens per second
          content:
            application/json: {schema: {$ref: '#/components/schemas/LiveReveal'}}
        400: {$ref: '#/components/responses/BadToken'}
        403: {$ref: '#/components/responses/WrongBattle'}
        404: {$ref: '#/components/responses/NoBattle'}
        409:
          description: not_voted (no vote accepted yet)
          content:
            application/json: {schema: {$ref: '#/components/schemas/Error'}}
        410: {$ref: '#/components/responses/TokenExpired'}
        429: {$ref: '#/components/responses/Error'}
        503: {$ref: '#/components/responses/Error'}
    """
    _check_token(battle_id, request.args.get("token"))
    with Session(rt().engine) as s:
        try:
            return jsonify(live_view.reveal(s, battle_id, redis=rt().redis))
        except live.LiveError as exc:
            raise _live_error(exc) from None


@bp.get("/<int:battle_id>/events")
@limit("reads")
def events(battle_id: int):
    """The battle's answers as server-sent events (``text/event-stream``).

    ---
    get:
      summary: The live battle's answers as server-sent events
      parameters: [battle_id, battle_token, last_event_id, Last-Event-ID]
      responses:
        200:
          description: >-
            Server-sent events (text/event-stream), one per entry of the battle's
            stream; each event's `id` is the stream entry id (resume after it with
            `Last-Event-ID` or `last_event_id`) and its `data` a JSON object with
            `kind`, `side` ("left"/"right"), `turn` and `attempt` (strings). Event
            kinds: `turn` (a turn or attempt began), `delta` (`text`: the next chunk of
            a side's answer, several chunks of up to 100 ms joined), `done` (the answer is
            stored: `finish_reason`, `ttft_ms`, `tokens_per_second`,
            `completion_tokens`, and `html`, the answer rendered and sanitized),
            `error` (`reason`: that side failed), `status` (both sides of the turn are
            finished: `status` "ready" or "failed", `identity_leak` "1"/"0", `failure`),
            and `view` (the stream has expired: the battle's view from the database,
            a LiveView, without an id). The body begins with `retry:`, carries a
            `: keep-alive` comment after 15 s without an event, and ends after the
            turn's `status` or after at most 5 minutes (reconnect from the last id).
          content:
            text/event-stream: {schema: {type: string}}
        400:
          description: bad_token, bad_id (a malformed Last-Event-ID)
          content:
            application/json: {schema: {$ref: '#/components/schemas/Error'}}
        403: {$ref: '#/components/responses/WrongBattle'}
        404: {$ref: '#/components/responses/NoBattle'}
        410: {$ref: '#/components/responses/TokenExpired'}
        429: {$ref: '#/components/responses/Error'}
        503: {$ref: '#/components/responses/Error'}
    """
    _check_token(battle_id, request.args.get("token"))
    last_id = request.headers.get("Last-Event-ID") or request.args.get("last_event_id") or "0"
    if not _ENTRY_ID.match(last_id):
        raise ApiError(
            400, "Last-Event-ID must be a stream entry id like 1700000000000-0", "bad_id"
        )
    runtime = rt()
    with Session(runtime.engine) as s:
        battle = s.get(Battle, battle_id)
        if battle is None or battle.origin != live.ORIGIN:
            raise ApiError(404, f"there is no live battle {battle_id}", "no_battle")

    def view() -> dict:
        with Session(runtime.engine) as s:
            return public_view(s, battle_id)

    body = relay(
        runtime.engine,
        runtime.redis,
        battle_id,
        last_id,
        view,
        float(current_app.config.get("LIVE_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS)),
        float(current_app.config.get("LIVE_MAX_RELAY_SECONDS", MAX_RELAY_SECONDS)),
    )
    response = Response(stream_with_context(body), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response
