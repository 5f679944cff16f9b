"""The SSE relay of a live battle: its Redis stream as server-sent events.

:func:`relay` reads the battle's Redis stream (written by the generation worker,
:mod:`workers.generate`) from the entry after ``Last-Event-ID`` and yields each entry as an
event named by its kind, its id the stream entry id, its data the entry's fields as JSON.
Consecutive deltas of one side are sent as one event (their texts joined). A ``done`` event
carries the answer rendered from Markdown and sanitized (``html``): the generation worker
renders it once and puts it in the ``done`` entry, so relaying 128 answers renders nothing here
(the render took 1.4-2.2 ms of a web worker's CPU per answer in-process, holding its GIL, just
when the answers finished: ``bench/live.py``). A ``done`` entry without ``html`` (written by a
worker older than this) is rendered from the database row the worker finished before writing
it. The relay sends a comment every :data:`HEARTBEAT_SECONDS` while nothing happens, ends after
a ``status`` entry that is the stream's last, and ends after :data:`MAX_RELAY_SECONDS` (the
browser reconnects and resumes). When the stream is gone (expired, ``[live]
stream_ttl_seconds``), it sends one ``view`` event built from the database and ends.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from sqlalchemy import select
from sqlmodel import Session

from arena import live
from arena.markdown import markdown
from arena.models import BattleMessage
from arena.web.stream_hub import hub_for

log = logging.getLogger(__name__)

# Defaults; the app config keys LIVE_HEARTBEAT_SECONDS and LIVE_MAX_RELAY_SECONDS override them.
HEARTBEAT_SECONDS = 15.0
MAX_RELAY_SECONDS = 300.0
# After sending chunks the relay waits this long before reading again, so one event carries
# the chunks of that time (the first chunk after a quiet spell goes out at once): ~10 events
# a second per battle at most, whatever the models' chunk rate. Each event wakes the relay's
# thread, and those wakes queue for the process's GIL with every other request: against 50 ms,
# /healthz p99 during 128 streams was lower in 8 paired runs of 9 (bench/live.py, 2026-12-02).
BATCH_SECONDS = 0.1
RETRY_MS = 2000  # the browser's wait before reconnecting
BLOCK_SECONDS = 2.0  # longest wait for an entry before checking that the stream still exists


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
        if kind == "done" and "html" not in fields:
            fields["html"] = _answer_html(engine, battle_id, fields)
        out.append(_frame(kind or "message", entry_id, fields))
    if run is not None:
        out.append(_frame("delta", run_id, run))
    return out, last_status


def _gone(view: Callable[[], dict]) -> str:
    return _frame("view", None, view())


def relay(
    engine,
    redis,
    battle_id: int,
    last_id: str,
    view: Callable[[], dict],
    heartbeat: float,
    max_seconds: float,
    batch_seconds: float = BATCH_SECONDS,
):
    """The SSE body: frames from the stream after ``last_id`` (see the module docstring);
    ``view()`` gives the battle's view from the database when the stream is gone.

    A failure while streaming (Redis or the database gone) ends the body cleanly after a
    logged warning: the browser reconnects and resumes after the last event it got.
    """
    key = live.stream_key(battle_id)
    yield f"retry: {RETRY_MS}\n\n"
    try:
        yield from _relay(
            engine, redis, battle_id, key, last_id, view, heartbeat, max_seconds, batch_seconds
        )
    except Exception as exc:  # the response has begun: end it, the client resumes
        log.warning("live relay of battle %s stopped: %s: %s", battle_id, type(exc).__name__, exc)


def _relay(engine, redis, battle_id, key, last_id, view, heartbeat, max_seconds, batch_seconds):
    if not redis.exists(key):
        yield _gone(view)
        return
    sub = hub_for(redis).subscribe(key, last_id)
    try:
        yield from _follow(
            engine, redis, battle_id, sub, view, heartbeat, max_seconds, batch_seconds
        )
    finally:
        sub.close()


def _follow(engine, redis, battle_id, sub, view, heartbeat, max_seconds, batch_seconds):
    deadline = time.monotonic() + max_seconds
    begun: set[tuple] = set()  # the answers (side, turn, attempt) this relay has sent chunks of
    sent = time.monotonic()
    while time.monotonic() < deadline:
        entries = sub.get(min(BLOCK_SECONDS, heartbeat, deadline - time.monotonic()))
        if not entries:
            if not redis.exists(sub.key):
                yield _gone(view)
                return
            if time.monotonic() - sent >= heartbeat:
                sent = time.monotonic()
                yield ": keep-alive\n\n"
            continue
        sent = time.monotonic()
        out, ends_with_status = frames(engine, redis, battle_id, entries)
        last_id = entries[-1][0].decode()
        yield "".join(out)
        if ends_with_status:
            newest = redis.xrevrange(sub.key, count=1)
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
