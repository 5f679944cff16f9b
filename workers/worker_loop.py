"""Keep an rq worker running through Redis outages; stop only on a signal.

rq's work loop survives a lost Redis only while it waits for a job; anywhere else
(a heartbeat, a batch, maintenance) the error ends the loop and the process. Here
the loop runs again: :func:`run` makes a fresh worker (a new name, a new
registration) whenever the previous one stopped for any reason but a signal or the
end of a burst, after waiting, with backoff, for Redis to answer. It logs one line
when Redis goes away and one when it is back.

The jobs the lost worker had taken are put back on the queue by the next worker
(its claims, :mod:`workers.liveness`), since the lost worker's hash is deleted here
as soon as Redis answers again.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from collections.abc import Callable

import redis
from rq import Worker

from workers.timeouts import RepeatingAlarm

logger = logging.getLogger("arena.worker")

BACKOFF = (0.5, 5.0)  # first and longest wait between looks for Redis


class _Stop:
    """Whether this process got SIGTERM or SIGINT: during rq's loop (see
    :class:`StopsOnSignal`) or between two runs of it (:meth:`install`)."""

    def __init__(self):
        self.requested = False

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, signum, frame) -> None:
        self.requested = True


STOP = _Stop()


class StopsOnSignal:
    """Mixin for an rq worker: a signal rq handles also stops :func:`run`'s loop
    (rq stops an idle worker by raising, without a flag the loop could read)."""

    def request_stop(self, signum, frame):
        STOP.requested = True
        return super().request_stop(signum, frame)


class ForkWorker(StopsOnSignal, Worker):
    """rq's forking ``Worker`` (``arena worker --fork``), stopped for good by a signal,
    whose job timeouts hold (:mod:`workers.timeouts`)."""

    death_penalty_class = RepeatingAlarm


class QuietRedisErrors(logging.Filter):
    """Drops rq's own lines about a lost Redis (a traceback, then one line per retry):
    :func:`run` logs one line when Redis goes and one when it is back."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if "could not connect to Redis instance" in message:
            return False
        if "found an unhandled exception" in message and record.exc_info:
            return not isinstance(record.exc_info[1], redis.exceptions.RedisError | OSError)
        return True


def _answers(connection: redis.Redis) -> bool:
    try:
        return bool(connection.ping())
    except (redis.exceptions.RedisError, OSError):
        return False


def run(
    make_worker: Callable[[], object],
    connection: redis.Redis,
    *,
    burst: bool = False,
    with_scheduler: bool = True,
    logging_level: str = "INFO",
) -> None:
    """Run workers made by ``make_worker`` until a signal (or, with ``burst``, the end).

    With ``burst`` nothing waits: a Redis that does not answer is an error, raised.

    Parameters
    ----------
    make_worker : callable
        Makes a new rq worker on ``connection`` (called again after each outage).
    connection : redis.Redis
        The worker's connection, probed while Redis is away.
    burst, with_scheduler, logging_level
        As for rq's ``Worker.work``.
    """
    stop = STOP
    stop.requested = False
    quiet = QuietRedisErrors()
    for name in ("rq.worker", "rq.scheduler"):
        logging.getLogger(name).addFilter(quiet)
    down_since = None
    wait = BACKOFF[0]
    while True:
        worker = None
        error = None
        try:
            worker = make_worker()
            worker.work(burst=burst, logging_level=logging_level, with_scheduler=with_scheduler)
            if burst:
                if not _answers(connection):
                    raise redis.exceptions.ConnectionError("Redis went away during --burst")
                return
        except (redis.exceptions.RedisError, OSError) as exc:
            if burst:  # a burst drains what is there now: it does not wait for Redis
                raise
            error = exc
        stop.install()  # rq's handlers, if any, belong to the worker that stopped
        if stop.requested or (worker is not None and getattr(worker, "_stop_requested", False)):
            return
        if _answers(connection):
            # rq's loop ended on something other than Redis: run a new worker.
            if worker is not None:
                _forget(connection, worker)
            time.sleep(BACKOFF[0])
            continue
        if down_since is None:
            down_since = time.monotonic()
            reason = f"{type(error).__name__}: {error}" if error else "connection lost"
            logger.warning("Redis unreachable (%s); reconnecting", str(reason)[:200])
        while not _answers(connection):
            end = time.monotonic() + wait
            while time.monotonic() < end:
                if stop.requested:
                    return
                time.sleep(0.1)
            wait = min(wait * 2, BACKOFF[1])
        logger.warning(
            "Redis reachable again after %.0f s; worker restarts", time.monotonic() - down_since
        )
        down_since, wait = None, BACKOFF[0]
        if worker is not None:
            _forget(connection, worker)


def _forget(connection: redis.Redis, worker) -> None:
    """Delete a stopped worker's hash, so that its claimed jobs are recovered now."""
    with contextlib.suppress(redis.exceptions.RedisError, OSError):
        connection.delete(worker.key)
