"""One Redis reader per web process for every live battle's event stream.

Each browser watching a live battle holds an SSE connection, served by a web worker thread
(:mod:`arena.web.live_relay`). If every such thread read its battle's Redis stream itself,
a process relaying N battles would make N blocking ``XREAD`` round trips for each batch of
chunks, and N threads would wake for them. Instead a :class:`StreamHub` keeps one thread that
reads **every** subscribed stream with a single ``XREAD`` and hands each connection the
entries after its own last id; the connection threads wait on an event, not on Redis.

* :meth:`StreamHub.subscribe` registers ``(stream key, last id)`` and wakes the reader at
  once (an ``XADD`` to the hub's own wake stream, which the reader's ``XREAD`` always
  includes), so a new battle's first chunk does not wait for the reader's current block.
* Several connections may follow one stream from different ids (two tabs, a reconnect):
  the reader reads the stream from the smallest of their ids and gives each connection
  only the entries after its own.
* When Redis fails, every connection's :meth:`Subscription.get` raises
  :class:`RelayUnavailable` (the relay ends its response; the browser reconnects and
  resumes from its last event id) and the reader tries again after a pause.

One hub exists per process and Redis connection pool (:func:`hub_for`): gunicorn forks its
workers, and a thread does not survive a fork, so each process starts its own reader on its
first subscription.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid

from redis.exceptions import RedisError

log = logging.getLogger(__name__)

BLOCK_MS = 1000  # the reader's longest XREAD BLOCK (below redis-py's 5 s socket timeout)
COUNT = 256  # entries read per stream per XREAD
RETRY_SECONDS = 0.5  # the reader's pause after a Redis error
WAKE_TTL_SECONDS = 600  # the wake stream expires when its process is gone


class RelayUnavailable(Exception):
    """The hub could not read Redis: end this relay, the browser resumes later."""


def _order(entry_id: bytes | str) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


class Subscription:
    """One connection's view of one stream: the entries after ``last_id``, in order."""

    def __init__(self, hub: StreamHub, key: str, last_id: str):
        self.hub = hub
        self.key = key
        self.last = _order(last_id)
        self._entries: list = []
        self._error: BaseException | None = None
        self._ready = threading.Event()

    def _push(self, entries: list) -> None:
        fresh = [e for e in entries if _order(e[0]) > self.last]
        if fresh:
            self.last = _order(fresh[-1][0])
            self._entries.extend(fresh)
            self._ready.set()

    def _fail(self, error: BaseException) -> None:
        self._error = error
        self._ready.set()

    def get(self, timeout: float) -> list:
        """The entries that arrived since the last call, waiting up to ``timeout`` seconds
        for one; ``[]`` when none came. Raises :class:`RelayUnavailable` after a Redis error."""
        self._ready.wait(timeout)
        with self.hub._lock:
            if self._error is not None:
                raise RelayUnavailable(str(self._error))
            entries, self._entries = self._entries, []
            self._ready.clear()
        return entries

    def close(self) -> None:
        """Stop following the stream (always call it: a relay that ended, or failed)."""
        self.hub._remove(self)


class StreamHub:
    """A reader thread that ``XREAD``s every subscribed stream at once (module docstring)."""

    def __init__(self, redis, block_ms: int = BLOCK_MS):
        self.redis = redis
        self.block_ms = block_ms
        self.wake_key = f"arena:relay:wake:{uuid.uuid4().hex}"
        self._wake_last = "0-0"
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._subs: dict[str, list[Subscription]] = {}
        self._thread: threading.Thread | None = None
        self.reads = 0  # XREAD calls (for tests and logs)

    def subscribe(self, key: str, last_id: str) -> Subscription:
        """Follow ``key`` from after ``last_id``; the reader picks it up at once."""
        sub = Subscription(self, key, last_id)
        with self._lock:
            self._subs.setdefault(key, []).append(sub)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="arena-stream-hub", daemon=True
                )
                self._thread.start()
            self._changed.notify_all()
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.xadd(self.wake_key, {"w": "1"}, maxlen=16, approximate=True)
            pipe.expire(self.wake_key, WAKE_TTL_SECONDS)
            pipe.execute()
        except RedisError:
            sub.close()
            raise
        return sub

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            subs = self._subs.get(sub.key, [])
            if sub in subs:
                subs.remove(sub)
            if not subs:
                self._subs.pop(sub.key, None)

    def _streams(self) -> dict[str, str]:
        """What the next XREAD asks for (under the lock): each stream from its smallest id."""
        streams = {self.wake_key: self._wake_last}
        for key, subs in self._subs.items():
            ms, seq = min(s.last for s in subs)
            streams[key] = f"{ms}-{seq}"
        return streams

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._subs:
                    self._changed.wait()
                streams = self._streams()
            try:
                got = self.redis.xread(streams, count=COUNT, block=self.block_ms)
            except RedisError as exc:
                log.warning(
                    "live relay: reading Redis failed: %s; again in %ss", exc, RETRY_SECONDS
                )
                with self._lock:
                    for subs in self._subs.values():
                        for sub in subs:
                            sub._fail(exc)
                    self._subs.clear()
                threading.Event().wait(RETRY_SECONDS)
                continue
            self.reads += 1
            self._deliver(got or [])

    def _deliver(self, got: list) -> None:
        with self._lock:
            for raw_key, entries in got:
                key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
                if key == self.wake_key:
                    last = entries[-1][0]
                    self._wake_last = last.decode() if isinstance(last, bytes) else last
                    continue
                for sub in self._subs.get(key, ()):
                    sub._push(entries)


_hubs: dict[tuple[int, int], StreamHub] = {}
_hubs_lock = threading.Lock()


def hub_for(redis) -> StreamHub:
    """This process's hub for ``redis``'s connection pool (made on first use)."""
    ident = (os.getpid(), id(redis.connection_pool))
    with _hubs_lock:
        hub = _hubs.get(ident)
        if hub is None:
            hub = _hubs[ident] = StreamHub(redis)
        return hub
