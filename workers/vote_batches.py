"""The vote worker: rq's SimpleWorker that stores ready vote jobs many at a time.

Every vote stays its own rq job (``vote-<battle>``, see :func:`arena.votes.enqueue`);
what changes is how a worker runs them. When the job rq hands the worker comes from
the votes queue and is a plain vote job, the worker takes up to ``batch_size - 1``
more ready jobs from that queue in one atomic step (and more while they keep arriving,
up to ``batch_wait`` seconds), stores all their votes in ONE
database transaction (:func:`workers.ingest.store_votes`, the same exactly-once insert
as :func:`workers.ingest.store_vote`), and then finishes the jobs with one Redis call,
as rq finishes a job enqueued with ``result_ttl=0``: its hash, results and execution
records are deleted. Per-job rq bookkeeping (an execution record, registry moves, a
status write, worker counters, about 57 Redis commands in several round trips) is paid
once per batch instead; taking the jobs and reading them is one Lua script, finishing
them another.

What stays rq's:

* taking jobs: the extra jobs move from the queue list to rq's intermediate list in one
  Lua step, exactly where rq's own dequeue puts a job; if the worker dies before it
  finishes them, rq's registry maintenance finds them there and fails or retries them
  (``IntermediateQueue.cleanup``), and the insert skips a vote already stored;
* failures: when the batch's transaction fails for any reason (a bad payload, a broken
  foreign key, a lost database, the job timeout), it is rolled back and every job of
  the batch is run the ordinary rq way, one at a time (``SimpleWorker.execute_job``): the
  good ones are stored, a failing one is retried (``Retry``) and at the end lands in
  rq's failed registry with its own traceback;
* anything that is not a plain vote job (another function, callbacks, dependents,
  a kept result, a repeat, a rate limit, a group) runs the ordinary rq way, and so does
  every job on the other queues (``judge``, ``recompute``);
* the work loop itself: registration, heartbeats (at most one a second, in one round
  trip), the scheduler that puts retried jobs back, maintenance, suspension, burst mode
  and warm shutdown (the worker is busy for the whole batch, so a SIGTERM lets the batch
  finish).
"""

from __future__ import annotations

import logging
import time

from rq import SimpleWorker
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.results import Result
from rq.timeouts import JobTimeoutException
from rq.utils import as_text, get_version, now
from rq.worker import WorkerStatus

from arena import votes
from workers import ingest

logger = logging.getLogger("arena.worker")

DEFAULT_BATCH_SIZE = 200
DEFAULT_BATCH_WAIT = 0.1
WAIT_STEPS = 4  # looks for more votes this many times while waiting
HEARTBEAT_EVERY = 1.0
# The job fields a batch reads: the call (``data``) and what rq would act on.
FIELDS = (
    "data",
    "timeout",
    "result_ttl",
    "success_callback_name",
    "failure_callback_name",
    "stopped_callback_name",
    "webhooks",
    "repeats_left",
    "rate_limit_key",
    "rate_limit_concurrency",
    "group_id",
)

# Take up to ARGV[1] ready jobs: move their ids from the queue list (KEYS[1]) to rq's
# intermediate list (KEYS[2]), oldest first, where rq's own dequeue puts the one job it
# takes, and read for each whether it has dependents and the fields ARGV[6..]. ARGV[2]
# is the job rq dequeued (its dependents are looked up too); ARGV[3] == "1" when it
# must be put in the intermediate list as well (rq's dequeue from several queues uses
# a plain pop). A job's hash key is ARGV[4] .. id, its dependents' key ARGV[4] .. id
# .. ARGV[5] (rq's key layout, passed in from rq's own key functions). LPOP and RPUSH
# in one script are one atomic step on any Redis version. Returns the first job's
# dependents flag, then id, dependents flag and field values for each job taken.
_TAKE_SCRIPT = """
local out = {0}
if ARGV[2] ~= '' then
  if ARGV[3] == '1' then redis.call('RPUSH', KEYS[2], ARGV[2]) end
  out[1] = redis.call('EXISTS', ARGV[4] .. ARGV[2] .. ARGV[5])
end
for i = 1, tonumber(ARGV[1]) do
  local id = redis.call('LPOP', KEYS[1])
  if not id then break end
  redis.call('RPUSH', KEYS[2], id)
  out[#out + 1] = id
  out[#out + 1] = redis.call('EXISTS', ARGV[4] .. id .. ARGV[5])
  out[#out + 1] = redis.call('HMGET', ARGV[4] .. id, unpack(ARGV, 6))
end
return out
"""

# Finish jobs as rq finishes a job with result_ttl=0: drop each id (ARGV[i]) from the
# intermediate list (KEYS[1]) and delete its ARGV[3] keys (hash, dependents,
# dependencies, results, executions) that follow it; count ARGV[1] successful jobs and
# ARGV[2] seconds of work in the worker's hash (KEYS[2]) when ARGV[1] > 0.
_FINISH_SCRIPT = """
if tonumber(ARGV[1]) > 0 then
  redis.call('HINCRBY', KEYS[2], 'successful_job_count', ARGV[1])
  redis.call('HINCRBYFLOAT', KEYS[2], 'total_working_time', ARGV[2])
end
local k = tonumber(ARGV[3])
for i = 4, #ARGV, k + 1 do
  redis.call('LREM', KEYS[1], 1, ARGV[i])
  redis.call('DEL', unpack(ARGV, i + 1, i + k))
end
return 0
"""


def is_plain_vote_job(job: Job, has_dependents: bool = False) -> bool:
    """Whether ``job`` is a vote job that a batch may run and finish by deleting it.

    That is :data:`arena.votes.STORE_VOTE_JOB` called with one payload dict, enqueued
    with ``result_ttl=0`` and nothing rq would have to do on success: no callbacks,
    webhooks, dependents, repeats, rate limit or group.
    """
    try:
        return (
            job.func_name == votes.STORE_VOTE_JOB
            and not job.kwargs
            and len(job.args) == 1
            and isinstance(job.args[0], dict)
            and job.result_ttl == 0
            and not has_dependents
            and not job.success_callback
            and not job.failure_callback
            and not job.stopped_callback
            and not job.webhooks
            and not job.repeats_left
            and not job.has_rate_limit
            and not job.group_id
        )
    except Exception:  # e.g. data that cannot be unpickled: rq's ordinary path fails it
        return False


class VoteBatchWorker(SimpleWorker):
    """An rq ``SimpleWorker`` that stores ready vote jobs in batches.

    Parameters
    ----------
    queues, **kwargs
        As for :class:`rq.SimpleWorker`.
    votes_queue : str
        The name of the queue the vote jobs are on (``[votes] queue``).
    batch_size : int
        At most this many vote jobs are stored in one transaction (at least 1;
        1 runs every job the ordinary rq way).
    batch_wait : float
        At most this many seconds to wait for more votes when fewer than
        ``batch_size`` are ready; the worker looks again every quarter of it and
        stops waiting when none came. A busy server's votes are so stored in
        batches of useful size rather than one or two at a time (never in burst
        mode, where the queue is final).
    """

    def __init__(
        self,
        queues,
        *args,
        votes_queue: str = "votes",
        batch_size: int = DEFAULT_BATCH_SIZE,
        batch_wait: float = DEFAULT_BATCH_WAIT,
        **kwargs,
    ):
        super().__init__(queues, *args, **kwargs)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if batch_wait < 0:
            raise ValueError(f"batch_wait must be at least 0, got {batch_wait}")
        self.votes_queue = votes_queue
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self._burst = False
        self._take_script = self.connection.register_script(_TAKE_SCRIPT)
        self._finish_script = self.connection.register_script(_FINISH_SCRIPT)
        # rq's key layout, from rq's own key functions: hash = prefix + id,
        # dependents = prefix + id + suffix.
        self._job_prefix = self.job_class.key_for("")
        self._dependents_suffix = self.job_class.dependents_key_for("")[len(self._job_prefix) :]

    def work(self, burst: bool = False, *args, **kwargs) -> bool:
        self._burst = burst
        return super().work(burst, *args, **kwargs)

    def heartbeat(self, timeout: int | None = None, pipeline=None):
        """rq's heartbeat, its three writes sent in one round trip.

        rq's work loop beats three times per job; a beat with the default timeout
        less than :data:`HEARTBEAT_EVERY` seconds after the previous one is
        skipped (the worker's key lives ``worker_ttl + 60`` seconds, minutes).
        """
        if pipeline is not None:
            return super().heartbeat(timeout, pipeline=pipeline)
        if (
            timeout is None
            and self.last_heartbeat is not None
            and (now() - self.last_heartbeat).total_seconds() < HEARTBEAT_EVERY
        ):
            return
        with self.connection.pipeline(transaction=False) as pipe:
            super().heartbeat(timeout, pipeline=pipe)
            pipe.execute()

    def execute_job(self, job: Job, queue) -> None:
        """Run ``job``; a plain vote job takes more ready vote jobs along (see the module)."""
        if queue.name != self.votes_queue or self.batch_size == 1 or not is_plain_vote_job(job):
            return super().execute_job(job, queue)
        # Busy from here on: a warm shutdown lets the whole batch finish.
        self.set_state(WorkerStatus.BUSY)
        # rq's dequeue left ``job`` in the intermediate list only when it used LMOVE.
        in_list = len(self.queues) == 1 and get_version(self.connection) >= (6, 2, 0)
        first_has_dependents, taken = self._take(queue, self.batch_size - 1, job, not in_list)
        if self.batch_wait and not self._burst:
            # While votes keep arriving, wait for more, up to batch_wait in all: a busy
            # server's votes go in batches of useful size, and a lull ends the wait.
            deadline = time.monotonic() + self.batch_wait
            while len(taken) < self.batch_size - 1:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                time.sleep(min(self.batch_wait / WAIT_STEPS, left))
                more = self._take(queue, self.batch_size - 1 - len(taken))[1]
                if not more:
                    break
                taken += more
        batch, others, missing = [], [], []
        (others if first_has_dependents else batch).append(job)
        for job_id, found, has_dependents in taken:
            if found is None:
                missing.append(job_id)
            elif is_plain_vote_job(found, has_dependents):
                batch.append(found)
            else:
                others.append(found)
        if not self._store(batch, queue, missing):
            others = batch + others
        for other in others:
            if other is not job:
                try:
                    other.refresh()  # read whole: rq saves it again on failure
                except NoSuchJobError:
                    self._finish(queue, [other.id])
                    continue
            # SimpleWorker.execute_job without its switch to idle: the worker stays busy
            # until the whole batch is done.
            self.perform_job(other, queue, self.prepare_execution(other))
            if len(self.queues) != 1:  # rq removes it from the intermediate list only then
                self.connection.lrem(queue.intermediate_queue_key, 1, other.id)
        # The worker stays busy until rq's loop dequeues again (its first step marks
        # it idle), so a warm shutdown requested in between stops it cleanly too.

    def _take(self, queue, n: int, first: Job | None = None, track_first: bool = False):
        """Take up to ``n`` ready jobs in one step (see ``_TAKE_SCRIPT``).

        Returns whether ``first`` has dependents, and for each job taken its id,
        the job (None when it no longer exists) and whether it has dependents.
        Only the fields :func:`is_plain_vote_job` looks at are read (:data:`FIELDS`);
        a job that leaves the batch is read whole before rq runs it.
        """
        reply = self._take_script(
            keys=[queue.key, queue.intermediate_queue_key],
            args=[
                max(n, 0),
                first.id if first else "",
                "1" if track_first else "0",
                self._job_prefix,
                self._dependents_suffix,
                *FIELDS,
            ],
        )
        taken = []
        for raw_id, has_dependents, values in zip(reply[1::3], reply[2::3], reply[3::3]):
            job_id, job = as_text(raw_id), None
            if values[0] is not None:
                job = self.job_class(job_id, connection=self.connection, serializer=self.serializer)
                try:
                    job.restore({k: v for k, v in zip(FIELDS, values) if v is not None})
                except Exception:
                    # A damaged hash: neither run nor deleted, it stays on the
                    # intermediate list for rq's maintenance, as rq leaves such a job.
                    logger.error(
                        "job %s cannot be read; left on %s",
                        job_id,
                        queue.intermediate_queue_key,
                        exc_info=True,
                    )
                    continue
            taken.append((job_id, job, bool(has_dependents)))
        return bool(reply[0]), taken

    def _store(self, batch: list[Job], queue, missing: list[str]) -> bool:
        """Store the votes of ``batch`` in one transaction and finish the jobs.

        Returns False, having stored nothing, when the transaction failed; the caller
        then runs each job the ordinary way.
        """
        if not batch:
            self._finish(queue, missing)
            return True
        started = now()
        # The shortest timeout of the batch (rq's default for a job without one).
        timeout = min(
            job.timeout if job.timeout and job.timeout > 0 else queue.DEFAULT_TIMEOUT
            for job in batch
        )
        try:
            with self.death_penalty_class(timeout, JobTimeoutException, job_id=batch[0].id):
                stored = ingest.store_votes([job.args[0] for job in batch])
        except Exception:
            logger.warning(
                "batch of %d vote jobs failed; running them one at a time",
                len(batch),
                exc_info=True,
            )
            self._finish(queue, missing)
            return False
        self._finish(
            queue, batch + missing, succeeded=len(batch), seconds=(now() - started).total_seconds()
        )
        logger.info("stored %d new votes from %d vote jobs", stored, len(batch))
        return True

    def _finish(self, queue, jobs: list, succeeded: int = 0, seconds: float = 0.0) -> None:
        """Finish ``jobs`` (jobs or ids of jobs gone) in one step (see ``_FINISH_SCRIPT``):
        out of the intermediate list, and deleted with what rq keeps beside a job."""
        if not jobs:
            return
        args = [succeeded, seconds, 5]
        for job in jobs:
            if isinstance(job, str):
                job = self.job_class(job, connection=self.connection)
            args += [
                job.id,
                job.key,
                job.dependents_key,
                job.dependencies_key,
                Result.get_key(job.id),
                job.execution_registry.key,
            ]
        self._finish_script(keys=[queue.intermediate_queue_key, self.key], args=args)
