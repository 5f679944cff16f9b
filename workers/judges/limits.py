"""How many calls a judge gets at once, across every worker: a Redis semaphore.

Each HTTP call to a judge holds one *slot* of ``[judges.NAME] concurrency``
while it runs. Slots are members of a sorted set scored by when their lease
ends (Redis's own clock), so a worker that dies mid-call frees its slot when
the lease runs out instead of leaking it. A judge that answers 429 or 503
with ``Retry-After`` puts every worker on a shared *cooldown* for that long.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

# KEYS[1] slots zset. ARGV: lease ms, concurrency, token. Returns 1 when a slot was taken.
ACQUIRE = """
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[3])
    redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
    return 1
end
return 0
"""

# KEYS[1] cooldown key. ARGV: ms. Read and write in one step, so a shorter cooldown set by
# another worker at the same moment cannot replace a longer one.
COOLDOWN = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
    redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 0
"""


class NullLimiter:
    """No limit and no shared cooldown (a client used outside the workers)."""

    @contextmanager
    def slot(self) -> Iterator[None]:
        yield

    def cooldown(self, seconds: float) -> None:
        pass

    def wait_cooldown(self) -> float:
        return 0.0


class RedisLimiter:
    """At most ``concurrency`` simultaneous calls to judge ``name`` across all workers.

    Parameters
    ----------
    connection : redis.Redis
    name : str
        The judge's name (keys are ``arena:judge:<name>:slots`` and ``...:cooldown``).
    concurrency : int
    lease_seconds : float
        How long a slot stays taken if its holder never gives it back.
    poll_seconds : float
        Pause between attempts while every slot is taken.
    """

    def __init__(
        self,
        connection: redis.Redis,
        name: str,
        concurrency: int,
        lease_seconds: float,
        poll_seconds: float = 0.02,
    ):
        self.connection = connection
        self.slots_key = f"arena:judge:{name}:slots"
        self.cooldown_key = f"arena:judge:{name}:cooldown"
        self.concurrency = concurrency
        self.lease_ms = max(int(lease_seconds * 1000), 1)
        self.poll = poll_seconds
        self._acquire = connection.register_script(ACQUIRE)
        self._cooldown = connection.register_script(COOLDOWN)

    def try_acquire(self) -> str | None:
        token = uuid.uuid4().hex
        got = self._acquire(keys=[self.slots_key], args=[self.lease_ms, self.concurrency, token])
        return token if int(got) == 1 else None

    def release(self, token: str) -> None:
        self.connection.zrem(self.slots_key, token)

    def in_use(self) -> int:
        return int(self.connection.zcard(self.slots_key))

    @contextmanager
    def slot(self) -> Iterator[None]:
        token = self.try_acquire()
        while token is None:
            time.sleep(self.poll * random.uniform(0.5, 1.5))
            token = self.try_acquire()
        try:
            yield
        finally:
            self.release(token)

    def cooldown(self, seconds: float) -> None:
        """Make every worker wait ``seconds`` before its next call (longest wins)."""
        ms = int(seconds * 1000)
        if ms > 0:
            self._cooldown(keys=[self.cooldown_key], args=[ms])

    def wait_cooldown(self) -> float:
        """Sleep out a cooldown in force; returns the seconds slept."""
        ms = self.connection.pttl(self.cooldown_key)
        if ms and ms > 0:
            time.sleep(ms / 1000)
            return ms / 1000
        return 0.0
