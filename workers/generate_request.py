"""A generation request, as read from the request stream, and its hint's early stream.

:func:`parse_request` reads one entry of ``[live] request_stream`` (written by
:func:`arena.live.request_generation`). A request may carry a *hint*: the answering model
and the conversation the web app just stored. :class:`EarlyStream` then lets the worker
call the model before it reads the answer's row from the database: the stream's first
chunk waits for that row (:func:`confirm`) and is written only when the row matches the
hint (still "streaming", the same model, the same conversation); otherwise the early
stream ends with :class:`NotThisJob`, nothing of it written, and the row decides
(:meth:`workers.generate.GenerationWorker.handle`).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from workers import generate_store as store
from workers.chat_stream import Outcome


@dataclass(frozen=True)
class Request:
    """One side's answer asked for: battle, turn, attempt and side (and the stream entry)."""

    entry_id: str
    battle_id: int
    turn: int
    attempt: int
    side: str
    reclaimed: bool = False  # taken over from a worker that stopped
    # The hint (optional): the answering model and the conversation to send.
    model: str | None = None
    conversation: tuple[tuple[str, str], ...] | None = None


def decoded(value) -> str:
    """A Redis value as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


def parse_request(entry_id, fields: dict, reclaimed: bool = False) -> Request | None:
    """A request entry, or None when it is malformed (it is acknowledged and dropped).

    A ``model`` / ``conversation`` hint that cannot be read is ignored (the worker then
    reads the conversation from the database first, as without a hint).
    """
    f = {decoded(k): decoded(v) for k, v in fields.items()}
    try:
        req = Request(
            decoded(entry_id),
            int(f["battle_id"]),
            int(f["turn"]),
            int(f["attempt"]),
            f["side"],
            reclaimed,
        )
    except (KeyError, ValueError):
        return None
    conversation = _conversation(f.get("conversation"))
    if f.get("model") and conversation is not None:
        req = replace(req, model=f["model"], conversation=conversation)
    return req


def _conversation(raw: str | None) -> tuple[tuple[str, str], ...] | None:
    """``[[role, text], ...]`` (JSON) as pairs, or None when absent or not that shape."""
    if not raw:
        return None
    try:
        pairs = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(pairs, list) or not pairs:
        return None
    out = []
    for pair in pairs:
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)
        ):
            return None
        out.append((pair[0], pair[1]))
    return tuple(out)


class NotThisJob(Exception):
    """An early stream's request does not match the database: nothing of it is written."""


def hinted_job(req: Request) -> store.Job:
    """The job a request's hint describes (its row id and the models come from the database)."""
    return store.Job(
        battle_id=req.battle_id,
        turn=req.turn,
        attempt=req.attempt,
        side=req.side,
        message_id=0,
        status="streaming",
        model=req.model,
        models=(),
        conversation=req.conversation,
    )


def matches(job: store.Job, hinted) -> bool:
    """Whether the database's job asks the same model the same conversation as ``hinted``."""
    return job.model == hinted.model and tuple(job.conversation) == tuple(hinted.conversation)


async def confirm(gate: asyncio.Future, job: store.Job) -> None:
    """Before an early stream's first chunk: wait for the database's job (``gate``) and
    raise :class:`NotThisJob` unless it is still streaming the same as ``job``."""
    stored = await asyncio.shield(gate)
    if stored is None or stored.status != "streaming" or not matches(stored, job):
        raise NotThisJob


def _settle(gate: asyncio.Future, loaded: asyncio.Future) -> None:
    """Pass the database read's result (or failure) on to an early stream's gate."""
    if gate.done():
        return
    if loaded.cancelled():
        gate.cancel()
    elif loaded.exception() is not None:
        gate.set_exception(loaded.exception())
    else:
        gate.set_result(loaded.result())


class EarlyStream:
    """A hinted request's answer, streaming from before its row is read.

    Parameters
    ----------
    generate
        ``generate(job, gate=...)``: streams ``job``'s answer, its first chunk held
        until :func:`confirm` passes (:meth:`workers.generate.GenerationWorker.generate`).
    req
        The request with its hint.
    """

    def __init__(self, generate: Callable[..., Awaitable[Outcome]], req: Request):
        self.gate: asyncio.Future = asyncio.get_running_loop().create_future()
        self.task = asyncio.ensure_future(generate(hinted_job(req), gate=self.gate))

    def follow(self, loading: asyncio.Future) -> None:
        """Hold the first chunk until ``loading`` (the database read) gives the row."""
        loading.add_done_callback(functools.partial(_settle, self.gate))

    async def outcome(self, job: store.Job, req: Request) -> Outcome | None:
        """The answer, when the database's ``job`` matches the hint; else None (the
        early stream is ended, nothing of it written)."""
        if not matches(job, req):
            await self.cancel()
            return None
        return await self.task

    async def cancel(self) -> None:
        """End the early stream (when it still runs) and wait for it to stop."""
        if not self.task.done():
            self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
