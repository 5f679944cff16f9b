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

The relay (:func:`events`) reads the battle's Redis stream (written by the generation
worker, :mod:`workers.generate`) from the entry after ``Last-Event-ID`` (the header a
reconnecting EventSource sends, or ``?last_event_id=``) and sends each entry as an event
named by its kind, its id the stream entry id, its data the entry's fields as JSON.
Consecutive deltas of one side are sent as one event (their texts joined). A ``done``
event carries the answer rendered from Markdown and sanitized (``html``), read from the
database row the worker finished before writing ``done``. The relay sends a comment
every :data:`HEARTBEAT_SECONDS` while nothing happens, ends after a ``status`` entry that
is the stream's last, and ends after :data:`MAX_RELAY_SECONDS` (the browser reconnects and
resumes). When the stream is gone (expired, ``[live] stream_ttl_seconds``), it sends
one ``view`` event built from the database and ends.
"""

from __future__ import annotations

import json
import logging
import re
import time

import numpy as np
from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context, url_for
from sqlalchemy import select
from sqlmodel import Session

from arena import battles, live
from arena.models import Battle, BattleMessage
from arena.web.common import rater_id, rt, tokens
from arena.web.errors import ApiError
from arena.web.extensions import limit
from arena.web.inputs import json_body
from arena.web.render import markdown

bp = Blueprint("live", __name__, url_prefix="/api/v1/live")
log = logging.getLogger(__name__)

# Defaults; the app config keys LIVE_HEARTBEAT_SECONDS and LIVE_MAX_RELAY_SECONDS override them.
HEARTBEAT_SECONDS = 15.0
MAX_RELAY_SECONDS = 300.0
# After sending chunks the relay waits this long before reading again, so one event carries
# the chunks of that time (the first chunk after a quiet spell goes out at once): ~20 events
# a second per battle at most, whatever the models' chunk rate (bench/live.py).
BATCH_SECONDS = 0.05
RETRY_MS = 2000  # the browser's wait before reconnecting
BATCH = 256  # stream entries read per XREAD
BLOCK_SECONDS = 2.0  # longest XREAD BLOCK (below redis-py's socket timeout)
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
    """:func:`arena.live.view` plus, for each finished answer, its sanitized ``html``."""
    try:
        view = live.view(session, battle_id, rt().settings, redis=rt().redis)
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


def _generate(battle_id: int, turn: int, attempt: int) -> None:
    runtime = rt()
    live.request_generation(runtime.redis, runtime.settings, battle_id, turn, attempt)


def _stream_url(battle_id: int, token: str) -> str:
    return url_for("live.events", battle_id=battle_id, token=token)


@bp.post("")
@limit("generate")
def start():
    """Start a live battle: two live models answer ``prompt``."""
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
            "view": live.started_view(started, runtime.settings),
        }
    ), 201


@bp.post("/<int:battle_id>/turns")
@limit("generate")
def add_turn(battle_id: int):
    """A follow-up: both models answer ``text``, each with its own history."""
    _enabled()
    body = json_body(required=True)
    _check_token(battle_id, body.get("battle_token"))
    _not_claimed(battle_id)
    text = _text(body, "text")
    runtime = rt()
    with Session(runtime.engine) as s:
        try:
            turn = live.add_turn(s, runtime.settings, battle_id, text)
        except live.LiveError as exc:
            raise _live_error(exc) from None
        s.commit()
    _generate(battle_id, turn, 0)
    with Session(runtime.engine) as s:
        view = public_view(s, battle_id)
    return jsonify({"turn": turn, "attempt": 0, "view": view}), 201


@bp.post("/<int:battle_id>/regenerate")
@limit("generate")
def regenerate(battle_id: int):
    """Both models answer the last turn again (recorded; only the newest attempt counts)."""
    _enabled()
    body = json_body(required=True)
    _check_token(battle_id, body.get("battle_token"))
    _not_claimed(battle_id)
    runtime = rt()
    with Session(runtime.engine) as s:
        try:
            turn, attempt = live.regenerate(s, runtime.settings, battle_id)
        except live.LiveError as exc:
            raise _live_error(exc) from None
        s.commit()
    _generate(battle_id, turn, attempt)
    with Session(runtime.engine) as s:
        view = public_view(s, battle_id)
    return jsonify({"turn": turn, "attempt": attempt, "view": view}), 201


@bp.get("/<int:battle_id>")
@limit("reads")
def show(battle_id: int):
    """The battle's public view: turns, texts so far, statuses; no model names."""
    _check_token(battle_id, request.args.get("token"))
    with Session(rt().engine) as s:
        return jsonify(public_view(s, battle_id))


@bp.get("/<int:battle_id>/reveal")
@limit("reads")
def reveal(battle_id: int):
    """After the vote (accepted, queued or stored): each side's model, time to first token
    and tokens per second (409 ``not_voted`` before)."""
    _check_token(battle_id, request.args.get("token"))
    with Session(rt().engine) as s:
        try:
            return jsonify(live.reveal(s, battle_id, redis=rt().redis))
        except live.LiveError as exc:
            raise _live_error(exc) from None


def _frame(kind: str, entry_id: str | None, data: dict) -> str:
    head = f"id: {entry_id}\n" if entry_id else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, ensure_ascii=True)}\n\n"


def _answer_html(engine, battle_id: int, fields: dict) -> str:
    """The finished answer ``fields`` names, rendered and sanitized."""
    try:
        turn, attempt = int(fields.get("turn", "0")), int(fields.get("attempt", "0"))
    except ValueError:
        return ""
    with Session(engine) as s:
        text = s.execute(
            select(BattleMessage.text).where(
                BattleMessage.battle_id == battle_id,
                BattleMessage.turn == turn,
                BattleMessage.side == fields.get("side"),
                BattleMessage.attempt == attempt,
            )
        ).scalar_one_or_none()
    return str(markdown(text or ""))


def _decode(fields: dict) -> dict:
    return {k.decode(): v.decode("utf-8", "replace") for k, v in fields.items()}


def frames(engine, redis, battle_id: int, entries: list) -> tuple[list[str], bool]:
    """SSE frames for ``entries`` (``(id, fields)`` from XREAD); and whether the last is a
    ``status`` entry. Runs of deltas of one side, turn and attempt become one frame."""
    out: list[str] = []
    run: dict | None = None
    run_id = None
    last_status = False
    for raw_id, raw_fields in entries:
        entry_id = raw_id.decode() if isinstance(raw_id, bytes) else raw_id
        fields = _decode(raw_fields)
        kind = fields.get("kind", "")
        last_status = kind == "status"
        if kind == "delta":
            same = run is not None and all(
                run.get(k) == fields.get(k) for k in ("side", "turn", "attempt")
            )
            if same:
                run["text"] += fields.get("text", "")
                run_id = entry_id
                continue
            if run is not None:
                out.append(_frame("delta", run_id, run))
            run, run_id = fields, entry_id
            continue
        if run is not None:
            out.append(_frame("delta", run_id, run))
            run = None
        if kind == "done":
            fields["html"] = _answer_html(engine, battle_id, fields)
        out.append(_frame(kind or "message", entry_id, fields))
    if run is not None:
        out.append(_frame("delta", run_id, run))
    return out, last_status


def _gone(engine, battle_id: int) -> str:
    with Session(engine) as s:
        return _frame("view", None, public_view(s, battle_id))


def relay(
    engine,
    redis,
    battle_id: int,
    last_id: str,
    heartbeat: float,
    max_seconds: float,
    batch_seconds: float = BATCH_SECONDS,
):
    """The SSE body: frames from the stream after ``last_id`` (see the module docstring).

    A failure while streaming (Redis or the database gone) ends the body cleanly after a
    logged warning: the browser reconnects and resumes after the last event it got.
    """
    key = live.stream_key(battle_id)
    yield f"retry: {RETRY_MS}\n\n"
    try:
        yield from _relay(
            engine, redis, battle_id, key, last_id, heartbeat, max_seconds, batch_seconds
        )
    except Exception as exc:  # the response has begun: end it, the client resumes
        log.warning("live relay of battle %s stopped: %s: %s", battle_id, type(exc).__name__, exc)


def _relay(engine, redis, battle_id, key, last_id, heartbeat, max_seconds, batch_seconds):
    if not redis.exists(key):
        yield _gone(engine, battle_id)
        return
    deadline = time.monotonic() + max_seconds
    begun: set[tuple] = set()  # the answers (side, turn, attempt) this relay has sent chunks of
    sent = time.monotonic()
    while time.monotonic() < deadline:
        # Block in short reads: redis-py's socket timeout (5 s by default) ends longer ones.
        wait = max(1, int(min(BLOCK_SECONDS, heartbeat, deadline - time.monotonic()) * 1000))
        got = redis.xread({key: last_id}, count=BATCH, block=wait)
        if not got:
            if not redis.exists(key):
                yield _gone(engine, battle_id)
                return
            if time.monotonic() - sent >= heartbeat:
                sent = time.monotonic()
                yield ": keep-alive\n\n"
            continue
        sent = time.monotonic()
        entries = got[0][1]
        out, ends_with_status = frames(engine, redis, battle_id, entries)
        last_id = entries[-1][0].decode()
        yield "".join(out)
        if ends_with_status:
            newest = redis.xrevrange(key, count=1)
            if not newest or newest[0][0].decode() == last_id:
                return
        # While answers stream, gather the next chunks for a while, unless this batch began
        # an answer (the other side's first chunk must not wait).
        answers = {
            (f.get(b"side"), f.get(b"turn"), f.get(b"attempt"))
            for _, f in entries
            if f.get(b"kind") == b"delta"
        }
        if batch_seconds > 0 and answers and answers <= begun:
            time.sleep(batch_seconds)
        begun |= answers


@bp.get("/<int:battle_id>/events")
@limit("reads")
def events(battle_id: int):
    """The battle's answers as server-sent events (``text/event-stream``)."""
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
    body = relay(
        runtime.engine,
        runtime.redis,
        battle_id,
        last_id,
        float(current_app.config.get("LIVE_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS)),
        float(current_app.config.get("LIVE_MAX_RELAY_SECONDS", MAX_RELAY_SECONDS)),
    )
    response = Response(stream_with_context(body), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response
