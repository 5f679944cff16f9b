"""rq's job timeout, made to hold when Python drops its exception.

rq ends a job that outlasts its timeout with ``SIGALRM``: the handler raises
:class:`rq.timeouts.JobTimeoutException` in whatever the main thread runs at that
moment. When that is a weakref callback or a finaliser (garbage collection, the
bookkeeping of a finished thread), Python prints "Exception ignored in ..." and drops
the exception: the job runs on past its timeout, and rq never retries it. CI saw this
once (2026-12-03): a judge job with a timeout of 1 s ran for 4 s and finished.

:class:`RepeatingAlarm` raises the exception again every :data:`REPEAT_SECONDS` until
the job has ended, so a dropped one only delays the timeout. Both of ``arena worker``'s
workers use it (:class:`workers.vote_batches.VoteBatchWorker`,
:class:`workers.worker_loop.ForkWorker`).
"""

from __future__ import annotations

import signal

from rq.timeouts import UnixSignalDeathPenalty

#: Seconds between a timeout's exception and the next, until the job has ended.
REPEAT_SECONDS = 1.0


class RepeatingAlarm(UnixSignalDeathPenalty):
    """rq's ``SIGALRM`` death penalty, whose exception comes again until the job ends."""

    def handle_death_penalty(self, signum, frame):
        signal.setitimer(signal.ITIMER_REAL, REPEAT_SECONDS)  # in case this one is dropped
        super().handle_death_penalty(signum, frame)

    def cancel_death_penalty(self):
        signal.setitimer(signal.ITIMER_REAL, 0)
        super().cancel_death_penalty()
