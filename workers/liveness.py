"""Worker liveness: a heartbeat that stops with the worker, claims, and their recovery.

A vote worker claims the vote jobs it takes (``arena:claims:<worker>``, a set, and
the worker's name in ``arena:claimers``) in the same Lua step that moves them to
rq's intermediate list. Its heartbeat thread refreshes the worker's rq hash every
:data:`HEARTBEAT_EVERY` seconds with a lifetime of :data:`LIVENESS_TTL` seconds, so
the hash of a worker that was killed (SIGKILL, a lost machine) expires within
seconds. Every :data:`RECOVER_EVERY` seconds each live vote worker looks for
claims of workers whose hash expired or says they died, and puts the unfinished
jobs back at the head of the votes queue in one Lua step (:func:`recover`); the
exactly-once insert skips a vote a dead worker had already stored.

rq's own rescue of such jobs (``IntermediateQueue.cleanup``: a minute after it
first sees them, at its ten-minute maintenance) stays as a fallback.
"""

from __future__ import annotations

import contextlib
import logging
import threading

import redis

from workers import rq_internals

logger = logging.getLogger("arena.worker")

HEARTBEAT_EVERY = 1.0  # seconds between beats of the heartbeat thread
LIVENESS_TTL = 10  # seconds a worker's hash lives without a beat: then it is dead
RECOVER_EVERY = 2.0  # seconds between looks for a dead worker's claims
CLAIMERS_KEY = "arena:claimers"
CLAIMS_PREFIX = "arena:claims:"


def claims_key(worker_name: str) -> str:
    """The set of job ids the worker ``worker_name`` has taken and not finished."""
    return CLAIMS_PREFIX + worker_name


# KEYS: queue list, intermediate list, claimers set. ARGV: worker key prefix, claims
# key prefix, job key prefix, status field, death field, then the unfinished statuses.
# For each claimer whose worker hash is gone or marked dead: every claimed job that
# still exists and is unfinished leaves the intermediate list and goes back to the
# head of the queue as queued; its claims are dropped. Returns the ids put back.
_RECOVER_SCRIPT = """
local back = {}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  local wkey = ARGV[1] .. name
  if redis.call('EXISTS', wkey) == 0 or redis.call('HEXISTS', wkey, ARGV[5]) == 1 then
    local ckey = ARGV[2] .. name
    for _, id in ipairs(redis.call('SMEMBERS', ckey)) do
      redis.call('LREM', KEYS[2], 0, id)
      local status = redis.call('HGET', ARGV[3] .. id, ARGV[4])
      if status == ARGV[6] or status == ARGV[7] then
        redis.call('HSET', ARGV[3] .. id, ARGV[4], ARGV[6])
        redis.call('LPUSH', KEYS[1], id)
        back[#back + 1] = id
      end
    end
    redis.call('DEL', ckey)
    redis.call('SREM', KEYS[3], name)
  end
end
return back
"""


def recover(connection: redis.Redis, queue, worker_class, job_class) -> list[str]:
    """Put the unfinished jobs that dead workers claimed from ``queue`` back on it.

    Returns the ids put back (logged, one line, when any).
    """
    back = connection.register_script(_RECOVER_SCRIPT)(
        keys=[queue.key, rq_internals.intermediate_key(queue), CLAIMERS_KEY],
        args=[
            rq_internals.worker_prefix(worker_class),
            CLAIMS_PREFIX,
            rq_internals.job_prefix(job_class),
            rq_internals.STATUS_FIELD,
            rq_internals.DEATH_FIELD,
            *rq_internals.UNFINISHED_STATUSES,
        ],
    )
    ids = [i.decode() if isinstance(i, bytes) else i for i in back]
    if ids:
        logger.warning("recovered %d vote jobs of a dead worker onto %s", len(ids), queue.name)
    return ids


def release(connection: redis.Redis, worker_name: str) -> None:
    """Drop the claims of ``worker_name`` (its jobs are finished or in rq's hands)."""
    with connection.pipeline(transaction=True) as pipe:
        pipe.delete(claims_key(worker_name))
        pipe.srem(CLAIMERS_KEY, worker_name)
        pipe.execute()


class Heartbeat:
    """A daemon thread that keeps ``worker``'s rq hash alive while the process lives.

    Every :data:`HEARTBEAT_EVERY` seconds it writes ``last_heartbeat`` and gives the
    hash (and its executions key) :data:`LIVENESS_TTL` seconds more; every
    :data:`RECOVER_EVERY` seconds it calls ``on_tick`` (the dead-worker recovery).
    Redis errors are left to the worker's own loop, which sees them too.
    """

    def __init__(self, worker, on_tick=None):
        self.worker = worker
        self.on_tick = on_tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="arena-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def beat(self) -> None:
        self.worker.heartbeat(LIVENESS_TTL)

    def _run(self) -> None:
        since_tick = RECOVER_EVERY
        while not self._stop.is_set():
            with contextlib.suppress(redis.exceptions.RedisError, OSError):
                self.beat()
                if self.on_tick is not None and since_tick >= RECOVER_EVERY:
                    since_tick = 0.0
                    self.on_tick()
            self._stop.wait(HEARTBEAT_EVERY)
            since_tick += HEARTBEAT_EVERY
