"""Battle stream entries written in order, many per Redis round trip.

A generation worker appends hundreds of chunks per second across its streams.
One XADD round trip per chunk costs more CPU in the client than the chunk is
worth, so :class:`StreamWriter` queues entries, and one task writes whatever has
queued since its last write with ONE command: a Lua script that runs the XADDs
in queue order, then one EXPIRE per stream touched (one reply to parse instead
of one per entry). Each entry travels as one JSON array of its field and value
strings (encoded by Python's C JSON encoder, decoded by Redis's cjson; UTF-8
passes through as is), so the client packs two arguments per entry, not a dozen.

While answers stream, the writer gathers: after each write it waits up to
:data:`GATHER_SECONDS` before the next, and in each write the consecutive deltas of one
answer (same stream, side, turn and attempt, with no other kind of entry of that stream
between them) become one entry, their texts joined. The relay to the browser gathers for
100 ms anyway (:mod:`arena.web.live_relay`), so this costs the rater nothing, and it divides
the entries written, read and relayed by the chunks a model sends in that time (a model
streaming a token every 10 ms: about 3 per entry). An *urgent* entry ends the wait at once:
an answer's first chunk (the time to first token must not wait) and every entry that is not
a delta (done, error, status).

Each answer's text reaches its stream in order, entries of other kinds in the order they
were appended, and an idle writer adds no delay (it writes as soon as an entry arrives).
:meth:`StreamWriter.sync` waits until everything appended so far is written
(before a Lua script of the worker writes to the same stream).

A script runs atomically: when Redis fails, none of the batch was written, and it
is written again after a short pause, so no entry is lost, repeated or reordered
while Redis comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging

from redis.exceptions import RedisError

log = logging.getLogger("arena.generate")
_dumps = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))
MAX_BATCH = 1000  # entries per script call
GATHER_SECONDS = 0.025  # the longest wait after a write while only later chunks are queued
# KEYS: the streams; ARGV: ttl, then per entry: its stream's index in KEYS and a JSON
# array of its field and value strings.
_WRITE = """
for i = 2, #ARGV, 2 do
  redis.call('XADD', KEYS[tonumber(ARGV[i])], '*', unpack(cjson.decode(ARGV[i + 1])))
end
for _, key in ipairs(KEYS) do redis.call('EXPIRE', key, ARGV[1]) end
return 1
"""


class StreamWriter:
    """Queue ``(key, fields)`` entries and write them in order, batched."""

    def __init__(self, redis, ttl_seconds: int, gather_seconds: float = GATHER_SECONDS):
        self.redis = redis
        self.ttl = ttl_seconds
        self.gather = gather_seconds
        self._queue: list[tuple[str, dict]] = []
        self._written = 0  # entries written since the start
        self._appended = 0
        self._wake = asyncio.Event()
        self._urgent = asyncio.Event()
        self._progress = asyncio.Condition()
        self._task: asyncio.Task | None = None
        self.batches = 0  # script calls (for tests and logs)
        self.entries = 0  # entries written, after joining deltas (for tests and logs)
        self._script = redis.register_script(_WRITE)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="stream-writer")

    async def stop(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        await self.sync()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    def append(self, key: str, fields: dict, urgent: bool = False) -> None:
        """Queue one entry for the stream ``key`` (written soon, in order). A delta is
        written at once only when ``urgent`` (an answer's first chunk); other kinds always."""
        self._queue.append((key, fields))
        self._appended += 1
        if urgent or fields.get("kind") != "delta":
            self._urgent.set()
        self._wake.set()

    async def sync(self) -> None:
        """Wait until every entry appended so far is written."""
        target = self._appended
        async with self._progress:
            await self._progress.wait_for(lambda: self._written >= target)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = self._queue[:MAX_BATCH]
                self._urgent.clear()
                await self._write(join_deltas(batch))
                del self._queue[: len(batch)]
                self._written += len(batch)
                self.batches += 1
                async with self._progress:
                    self._progress.notify_all()
                if self.gather > 0 and not self._urgent.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._urgent.wait(), self.gather)

    async def _write(self, batch: list[tuple[str, dict]]) -> None:
        self.entries += len(batch)
        index: dict[str, int] = {}
        args: list = [self.ttl]
        for key, fields in batch:
            args.append(index.setdefault(key, len(index) + 1))
            args.append(_dumps([x for kv in fields.items() for x in kv]))
        keys = list(index)
        while True:
            try:
                await self._script(keys=keys, args=args)
                return
            except RedisError as exc:
                log.warning("Redis: %s; writing %d stream entries again in 1 s", exc, len(batch))
                await asyncio.sleep(1)


def join_deltas(batch: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """``batch`` with each answer's consecutive deltas joined into its first (module
    docstring): a delta joins the last delta of its answer unless an entry of another kind
    came to the same stream after it."""
    out: list[tuple[str, dict]] = []
    open_: dict[tuple, int] = {}  # (key, side, turn, attempt) -> index in out
    for key, fields in batch:
        if fields.get("kind") != "delta":
            for answer in [a for a in open_ if a[0] == key]:
                del open_[answer]
            out.append((key, fields))
            continue
        answer = (key, fields.get("side"), fields.get("turn"), fields.get("attempt"))
        at = open_.get(answer)
        if at is None:
            open_[answer] = len(out)
            out.append((key, fields))
        else:
            first = out[at][1]
            out[at] = (key, {**first, "text": first.get("text", "") + fields.get("text", "")})
    return out
