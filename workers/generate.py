"""The generation worker: streams live battles' answers from the models' endpoints.

Why not rq: rq runs one job at a time per worker process (a forked work-horse per
job), so 128 answers streaming at once would need 128 processes. Generation is
I/O-bound: this worker is one asyncio event loop with httpx clients
(:mod:`workers.http_clients`) that hold up to ``[live] max_streams`` streams in one process.

Requests come from the Redis Stream ``[live] request_stream`` (written by
:func:`arena.live.request_generation`, one entry per side) through the consumer
group ``generate``: every request goes to one worker, stays pending until that
worker acknowledges it, and a request whose worker died is taken over by another
(XAUTOCLAIM after ``[live] reclaim_after_seconds``; a live worker keeps its own
requests fresh with XCLAIM while it streams them).

For each request (:mod:`workers.generate_request`) the worker reads the conversation from the
database (:mod:`workers.generate_store`), calls ``POST {base_url}/chat/completions`` with
``stream: true`` under the model's ``concurrency`` semaphore (a request that carries the
conversation as a hint calls the model first and checks the hint against the database
meanwhile: :class:`~workers.generate_request.EarlyStream`), and appends every content chunk,
exactly as received, to the battle's stream ``arena:live:<id>`` (``kind`` "delta"). When the
answer ends it stores the final row, then writes "done" with the answer rendered as safe HTML
(:func:`arena.markdown.markdown`: the web app relays it as is, and renders nothing while
answers stream) or "error" with a one-line reason. The worker that finishes the second side of
a turn (decided in Redis, atomically) sets the battle "ready" or "failed" and writes the
"status" entry. Each write refreshes the stream's expiry (``[live] stream_ttl_seconds``).

Run it with ``arena worker --generate`` or :func:`run` (``run(settings, stop_event)``
in a thread or process of your own).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from arena import db, live, live_rules, queue
from arena.config import ConfigError, Settings
from arena.endpoints import endpoints
from arena.markdown import markdown
from workers import chat_stream
from workers import generate_store as store
from workers.chat_stream import Outcome
from workers.generate_request import EarlyStream, Request, confirm, decoded, parse_request
from workers.http_clients import ClientShards
from workers.stream_writer import StreamWriter

GROUP = "generate"
REDIS_CONNECTIONS = 32  # per worker process; writes are one short round trip each
REDIS_RETRIES = 30  # a Redis call in a request is tried this often, 1 s apart
DB_THREADS = 8  # database calls at once (SQLAlchemy's pool holds 5 + 10 connections)
# The "status" entry of a turn, written once however many workers finish it (a repeated or
# taken-over request finishes a turn again): SET NX a marker, then XADD and EXPIRE.
_STATUS_ONCE = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[2], ARGV[1])
return 1
"""
log = logging.getLogger("arena.generate")


def _log_timing(req: Request, taken: float, asked: float, outcome: Outcome) -> None:
    """DEBUG: where the time to first token went (the request's entry id holds the time,
    in ms, it was written)."""
    if not log.isEnabledFor(logging.DEBUG):
        return
    written = int(req.entry_id.split("-", 1)[0]) / 1000
    log.debug(
        "battle %s %s: taken %.1f ms after the request, endpoint asked after %.1f ms, "
        "first token %s ms after that",
        req.battle_id,
        req.side,
        (taken - written) * 1000,
        (asked - written) * 1000,
        outcome.ttft_ms,
    )


def _retrieved(future: asyncio.Future) -> None:
    """A done callback that takes a future's outcome, so asyncio does not report an error
    nobody awaits ("Task exception was never retrieved")."""
    if not future.cancelled():
        future.exception()


def _failed(reason: str) -> Outcome:
    return Outcome(status="error", error=reason)


def _finish(engine, job: store.Job, outcome: Outcome) -> str:
    """Store the answer; its HTML when it is done (rendered here, off the event loop: a few
    milliseconds of CPU for a long answer, which the web app no longer spends)."""
    store.finish_answer(engine, job, outcome)
    return str(markdown(outcome.text)) if outcome.status == "done" else ""


def _num(value) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


@dataclass
class _InHand:
    """One request while :meth:`GenerationWorker.handle` holds it (what its failure paths
    need: the job once read, whether its answer is stored, the early stream to cancel)."""

    req: Request
    job: store.Job | None = None
    first_claim: bool = False
    early: EarlyStream | None = None
    stored: bool = False
    taken: float = field(default_factory=time.time)
    asked: float = field(default_factory=time.time)


class GenerationWorker:
    """One process's generation loop (see the module docstring).

    Parameters
    ----------
    settings
        The resolved settings ([live], [models.NAME], database, Redis).
    consumer
        This worker's name in the consumer group (default: host, pid and a random part).
    grace
        On stop, seconds the streams in hand get to finish before they are ended
        with an error.
    """

    def __init__(self, settings: Settings, *, consumer: str | None = None, grace: float = 10.0):
        self.settings = settings
        self.live = settings.live
        self.stream = settings.live.request_stream
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.grace = grace
        self.engine = db.get_engine(settings.database_url, settings.database.echo)
        self.endpoints = endpoints(settings)
        self._semaphores = {n: asyncio.Semaphore(e.concurrency) for n, e in self.endpoints.items()}
        self._in_hand: dict[str, Request] = {}
        self._reads: dict[tuple[int, int, int], asyncio.Future] = {}  # see _load
        self.redis: aioredis.Redis | None = None
        self.writer: StreamWriter | None = None
        self.clients: ClientShards | None = None
        self.finished = 0  # answers finished (done or error), for tests and logs

    # -- plumbing ---------------------------------------------------------------------------
    async def _setup(self) -> None:
        url = await asyncio.to_thread(queue.resolve_redis_url, self.settings)
        # Streams share a bounded pool: a task waits for a free connection (at most
        # REDIS_CONNECTIONS) instead of failing with "Too many connections".
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=REDIS_CONNECTIONS, timeout=None
        )
        self.redis = aioredis.Redis(connection_pool=pool)
        self.writer = StreamWriter(self.redis, self.live.stream_ttl_seconds)
        self.writer.start()
        with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists
            # id 0: requests written before any worker ever ran are served too
            await self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        self.clients = ClientShards(
            self.live.max_streams, httpx.Timeout(None, connect=self.live.connect_timeout)
        )
        await asyncio.to_thread(store.warm, self.engine)  # see there: a race on first compile

    async def _teardown(self) -> None:
        if self.writer is not None:
            with contextlib.suppress(RedisError, TimeoutError):
                await asyncio.wait_for(self.writer.stop(), 10)
        if self.clients is not None:
            await self.clients.aclose()
        if self.redis is not None:
            await self.redis.aclose()
            await self.redis.connection_pool.disconnect()

    def _append(self, battle_id: int, fields: dict, urgent: bool = False) -> None:
        """Queue one entry for the battle's stream (written in order, batched: the
        stream's expiry is refreshed with it); ``urgent`` for an answer's first chunk."""
        self.writer.append(live.stream_key(battle_id), fields, urgent)

    async def _ack(self, req: Request) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.xack(self.stream, GROUP, req.entry_id)
        pipe.xdel(self.stream, req.entry_id)
        await pipe.execute()

    # -- the loop ---------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Take requests until ``stop`` is set, then let the streams in hand finish."""
        await self._setup()
        tasks: set[asyncio.Task] = set()
        reclaim_every = max(0.5, self.live.reclaim_after_seconds / 3)
        next_reclaim = 0.0
        log.info("generation worker %s listening on %s", self.consumer, self.stream)
        try:
            while not stop.is_set():
                free = self.live.max_streams - len(tasks)
                if free <= 0:
                    await asyncio.wait(tasks, timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
                    continue
                requests: list[Request] = []
                try:
                    now = time.monotonic()
                    if now >= next_reclaim:
                        next_reclaim = now + reclaim_every
                        await self._refresh_in_hand()
                        requests += await self._reclaim(free)
                    if not requests:
                        requests += await self._read(free, block_ms=200)
                except RedisError as exc:  # an outage: wait it out
                    log.warning("Redis: %s; retrying in 1 s", exc)
                    await asyncio.sleep(1)
                    continue
                for req in requests:
                    self._in_hand[req.entry_id] = req
                    task = asyncio.create_task(self.handle(req))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            if tasks:
                _, pending = await asyncio.wait(tasks, timeout=self.grace)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        finally:
            await self._teardown()

    async def _read(self, count: int, block_ms: int) -> list[Request]:
        got = await self.redis.xreadgroup(
            GROUP, self.consumer, {self.stream: ">"}, count=count, block=block_ms
        )
        out = []
        for _, entries in got or []:
            for entry_id, fields in entries:
                req = parse_request(entry_id, fields)
                if req is None:
                    await self.redis.xack(self.stream, GROUP, entry_id)
                else:
                    out.append(req)
        return out

    async def _reclaim(self, count: int) -> list[Request]:
        """Requests another worker took and did not finish in time (it died)."""
        idle_ms = self.live.reclaim_after_seconds * 1000
        reply = await self.redis.xautoclaim(
            self.stream, GROUP, self.consumer, min_idle_time=idle_ms, start_id="0-0", count=count
        )
        out = []
        for entry_id, fields in reply[1] if reply else []:
            if fields is None or decoded(entry_id) in self._in_hand:
                continue
            req = parse_request(entry_id, fields, reclaimed=True)
            if req is None:
                await self.redis.xack(self.stream, GROUP, entry_id)
            else:
                log.warning("took over request %s of battle %s", req.entry_id, req.battle_id)
                out.append(req)
        return out

    async def _refresh_in_hand(self) -> None:
        """Reset the idle time of the requests this worker is streaming (so none is taken)."""
        if self._in_hand:
            await self.redis.xclaim(
                self.stream, GROUP, self.consumer, 0, list(self._in_hand), justid=True
            )

    # -- one request ------------------------------------------------------------------------
    async def handle(self, req: Request) -> None:
        """Generate one side's answer for one request, store it, and report it.

        The answer's row is read from the database while the request is claimed in
        Redis. When the request carries the model and the conversation (as the web app's
        requests do: :func:`arena.live.request_generation` with ``conversations``), the
        model is called as soon as the claim is won, before the row is read: the time to
        first token is then the longer of the two, not their sum. That early stream writes
        nothing until the row is read and matches (its answer still "streaming", the same
        model and conversation); when it does not, the early stream is dropped unwritten
        and the row decides, as for a request without a hint.

        The request is acknowledged once its answer is stored and its turn settled (or
        it needs nothing). Redis calls are retried through a short outage; when the
        database or Redis stays away the request stays pending, and a worker takes it
        over after ``[live] reclaim_after_seconds``.
        """
        hand = _InHand(req)
        try:
            await self._take(hand)
            await self._answer(hand)
        except asyncio.CancelledError:
            job = hand.job
            if job is not None and job.status == "streaming" and not hand.stored:
                with contextlib.suppress(Exception):
                    await self._store(job, _failed("the generation worker stopped"))
                    await self._finish_turn(job)
            raise
        except Exception:
            log.exception("request %s of battle %s failed", req.entry_id, req.battle_id)
            job = hand.job
            if job is None or job.status != "streaming" or hand.stored:
                return  # left pending: taken over later
            try:
                await self._store(job, _failed("the generation worker failed"))
                await self._retrying(self._finish_turn, job)
            except Exception:
                return
        finally:
            self._in_hand.pop(req.entry_id, None)
            if hand.early is not None:
                await hand.early.cancel()
        with contextlib.suppress(RedisError):
            await self._ack(req)

    async def _take(self, hand: _InHand) -> None:
        """Claim the request and read its job; with a hint, the model is asked first."""
        req = hand.req
        if req.model and req.conversation and not req.reclaimed:
            # The claim, then the model's request on its way, then the database read
            # (its thread would hold up the event loop in front of the request).
            hand.first_claim = await self._retrying(self._claim, req)
            if hand.first_claim:
                hand.asked = time.time()
                hand.early = EarlyStream(self.generate, req)
                await asyncio.sleep(0)
            loading = self._load(req)
            if hand.early is not None:
                hand.early.follow(loading)
        else:  # the database read and the claim at once: both precede the model's request
            loading = self._load(req)
            try:
                hand.first_claim = await self._retrying(self._claim, req)
            except BaseException:
                loading.cancel()  # the request stays pending (taken over later): no read
                raise
        hand.job = await asyncio.shield(loading)

    async def _answer(self, hand: _InHand) -> None:
        """Answer what :meth:`_take` found: stream, store and settle the turn, or drop it."""
        req, job = hand.req, hand.job
        if job is None:
            log.warning("request %s names no answer row; dropped", req.entry_id)
        elif job.status != "streaming":
            # finished before (a reclaimed or repeated request): make sure the turn is
            await self._retrying(self._finish_turn, job)
        elif not hand.first_claim and not req.reclaimed:
            log.warning("request %s is a repeat of one in hand; dropped", req.entry_id)
        else:
            outcome = None
            if hand.early is not None:
                outcome = await hand.early.outcome(job, req)
                if outcome is not None:
                    log.debug("request %s was answered from its hint", req.entry_id)
                else:
                    log.warning("request %s does not match its answer row", req.entry_id)
                hand.early = None
            if outcome is None and req.reclaimed and await self._retrying(self._has_deltas, req):
                outcome = _failed("the generation worker stopped mid-answer")
            if outcome is None:
                hand.asked = time.time()
                outcome = await self.generate(job)
            _log_timing(req, hand.taken, hand.asked, outcome)
            outcome.identity_leak = live_rules.leaks_identity(
                outcome.text, live_rules.identity_names(self.settings, job.models)
            )
            await self._store(job, outcome)
            hand.stored = True
            await self._retrying(self._finish_turn, job)

    def _load(self, req: Request) -> asyncio.Future:
        """The request's :class:`~workers.generate_store.Job`, from a database read in a
        thread. Requests of one battle turn and attempt taken while a read of it is under
        way share that read: both sides of a new turn come in one read from Redis, and
        one read instead of two halves the work done while their first tokens are awaited."""
        key = (req.battle_id, req.turn, req.attempt)
        read = self._reads.get(key)
        if read is None:
            read = self._reads[key] = asyncio.ensure_future(self._read_turn(key))
            # Its error is marked retrieved even when every request waiting for it is gone
            # (a claim failed for good, a stop): asyncio would log it as never retrieved.
            read.add_done_callback(_retrieved)
        return asyncio.ensure_future(self._job_of(read, req))

    async def _read_turn(self, key: tuple[int, int, int]) -> store.TurnRows | None:
        try:
            return await asyncio.to_thread(store.read_turn, self.engine, key[0], key[1])
        finally:
            # Gone as soon as it is read: a request taken later reads afresh.
            self._reads.pop(key, None)

    async def _job_of(self, read: asyncio.Future, req: Request) -> store.Job | None:
        # (shielded: a request cancelled while it waits must not cancel its partner's read)
        rows = await asyncio.shield(read)
        return store.job_of(rows, req.turn, req.attempt, req.side)

    async def _retrying(self, call, *args):
        """``await call(*args)``, again after 1 s while Redis is away (REDIS_RETRIES times)."""
        for attempt in range(REDIS_RETRIES):
            try:
                return await call(*args)
            except RedisError as exc:
                if attempt == REDIS_RETRIES - 1:
                    raise
                log.warning("Redis: %s; retrying in 1 s", exc)
                await asyncio.sleep(1)
        return None  # pragma: no cover (the loop returns or raises)

    async def _claim(self, req: Request) -> bool:
        """Whether this is the first request for this answer (a repeat must not stream it
        a second time)."""
        key = f"{live.stream_key(req.battle_id)}:generating:{req.turn}:{req.attempt}:{req.side}"
        return bool(
            await self.redis.set(key, self.consumer, nx=True, ex=self.live.stream_ttl_seconds)
        )

    async def _has_deltas(self, req: Request) -> bool:
        want = {
            b"kind": b"delta",
            b"side": req.side.encode(),
            b"turn": str(req.turn).encode(),
            b"attempt": str(req.attempt).encode(),
        }
        for _, fields in await self.redis.xrange(live.stream_key(req.battle_id)):
            if all(fields.get(k) == v for k, v in want.items()):
                return True
        return False

    async def _store(self, job: store.Job, outcome: Outcome) -> None:
        """Store the answer, then queue its "done" (with its HTML) or "error" entry."""
        html = await asyncio.to_thread(_finish, self.engine, job, outcome)
        base = {"side": job.side, "turn": str(job.turn), "attempt": str(job.attempt)}
        if outcome.status == "done":
            entry = {
                "kind": "done",
                **base,
                "html": html,
                "finish_reason": outcome.finish_reason or "",
                "ttft_ms": _num(outcome.ttft_ms),
                "tokens_per_second": _num(outcome.tokens_per_second),
                "completion_tokens": _num(outcome.completion_tokens),
            }
        else:
            entry = {"kind": "error", **base, "reason": outcome.error or "failed"}
        self._append(job.battle_id, entry)
        self.finished += 1
        log.info(
            "battle %s turn %s %s: %s",
            job.battle_id,
            job.turn,
            job.side,
            outcome.error or f"{len(outcome.text)} characters",
        )

    async def _finish_turn(self, job: store.Job) -> None:
        """The worker that finishes a turn's second side sets the battle's status."""
        key = f"{live.stream_key(job.battle_id)}:finished:{job.turn}:{job.attempt}"
        pipe = self.redis.pipeline(transaction=True)
        pipe.sadd(key, job.side)
        pipe.scard(key)
        pipe.expire(key, self.live.stream_ttl_seconds)
        _, finished, _ = await pipe.execute()
        if finished < 2:
            return
        state = await asyncio.to_thread(
            store.finish_turn, self.engine, job.battle_id, job.turn, job.attempt
        )
        if state is None or state["status"] not in ("ready", "failed"):
            return
        entry = {
            "kind": "status",
            "status": state["status"],
            "identity_leak": "1" if state["identity_leak"] else "0",
            "turn": str(job.turn),
            "attempt": str(job.attempt),
        }
        if state["failure"]:
            entry["failure"] = state["failure"]
        await self.writer.sync()  # both sides' "done"/"error" entries come first
        once = f"{live.stream_key(job.battle_id)}:status:{job.turn}:{job.attempt}"
        fields = [x for kv in entry.items() for x in kv]
        await self.redis.eval(
            _STATUS_ONCE,
            2,
            once,
            live.stream_key(job.battle_id),
            self.live.stream_ttl_seconds,
            *fields,
        )

    # -- the HTTP stream --------------------------------------------------------------------
    async def generate(self, job: store.Job, gate: asyncio.Future | None = None) -> Outcome:
        """Stream one answer from the model's endpoint to the battle's stream.

        With ``gate`` (the database's :class:`~workers.generate_store.Job` to come, for a
        ``job`` built from the request), the first chunk waits for it and is written only
        when it matches (:func:`~workers.generate_request.confirm`): otherwise the stream
        ends with :class:`~workers.generate_request.NotThisJob`, nothing written.
        """
        endpoint = self.endpoints.get(job.model)
        if endpoint is None:
            return _failed(f"no endpoint is configured for {job.model}")
        outcome = Outcome(settings=json.dumps(endpoint.generation_settings()))
        try:
            headers = {}
            key = endpoint.api_key()
            if key:
                headers["Authorization"] = f"Bearer {key}"
        except ConfigError as exc:
            outcome.status, outcome.error = "error", str(exc)
            return outcome
        base = {"kind": "delta", "side": job.side, "turn": str(job.turn)}
        base["attempt"] = str(job.attempt)

        checked = gate is None
        first = True

        async def on_delta(text: str) -> None:
            nonlocal checked, first
            if not checked:
                await confirm(gate, job)
                checked = True
            self._append(job.battle_id, {**base, "text": text}, urgent=first)
            first = False

        async with self._semaphores[job.model], self.clients.lease() as client:
            await chat_stream.stream_chat(
                client,
                endpoint,
                job.conversation,
                outcome,
                headers=headers,
                on_delta=on_delta,
                first_token_timeout=self.live.first_token_timeout,
                connect_timeout=self.live.connect_timeout,
            )
        return outcome


def run(settings: Settings, stop_event: threading.Event | None = None, **options) -> None:
    """Run a generation worker until ``stop_event`` is set (or SIGTERM/SIGINT in the main
    thread when no event is given). ``options`` go to :class:`GenerationWorker`."""
    asyncio.run(_main(settings, stop_event, options))


async def _main(settings: Settings, stop_event: threading.Event | None, options: dict) -> None:
    import signal
    from concurrent.futures import ThreadPoolExecutor

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(DB_THREADS, thread_name_prefix="generate-db"))
    watcher = None
    if stop_event is None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    else:

        async def watch():
            while not stop_event.is_set():
                await asyncio.sleep(0.05)
            stop.set()

        watcher = asyncio.create_task(watch())
    try:
        await GenerationWorker(settings, **options).run(stop)
    finally:
        if watcher is not None:
            watcher.cancel()
