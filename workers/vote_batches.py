"""The vote worker: rq's SimpleWorker that stores ready vote jobs many at a time.

Every vote stays its own rq job (``vote-<battle>``, see :func:`arena.votes.enqueue`);
what changes is how a worker runs them. When the job rq hands the worker comes from
the votes queue and is a plain vote job, the worker takes up to ``batch_size - 1``
more ready jobs from that queue in one atomic step, stores all their votes in ONE
database transaction (:func:`workers.ingest.store_votes`, the same exactly-once insert
as :func:`workers.ingest.store_vote`), and then finishes the jobs with one pipelined
Redis call, as rq finishes a job enqueued with ``result_ttl=0``: its hash, results and
execution records are deleted. Per-job rq bookkeeping (an execution record, registry
moves, a status write, worker counters) would cost several Redis round trips per vote;
a batch pays them once.

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
* the work loop itself: registration, heartbeats, the scheduler that puts retried jobs
  back, maintenance, suspension, burst mode and warm shutdown (the worker is busy for
  the whole batch, so a SIGTERM lets the batch finish).
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
DEFAULT_BATCH_WAIT = 0.05
HEARTBEAT_EVERY = 1.0
# The job fields a batch reads: the call (``data``) and what rq would act on.
FIELDS = ("data", "timeout", "result_ttl", "success_callback_name", "failure_callback_name",
          "stopped_callback_name", "webhooks", "repeats_left", "rate_limit_key",
          "rate_limit_concurrency", "group_id")

# Move up to ARGV[1] job ids from the queue list (KEYS[1]) to rq's intermediate list
# (KEYS[2]), oldest first, as rq's dequeue does for one job; ARGV[2], when given, is
# the id of a job already taken off the queue (rq's multi-queue dequeue uses a plain
# pop) that must be tracked there too. LPOP + RPUSH inside a script is one atomic
# step on any Redis version.
_CLAIM_SCRIPT = """
if ARGV[2] ~= '' then redis.call('RPUSH', KEYS[2], ARGV[2]) end
local ids = {}
for i = 1, tonumber(ARGV[1]) do
  local id = redis.call('LPOP', KEYS[1])
  if not id then break end
  redis.call('RPUSH', KEYS[2], id)
  ids[i] = id
end
return ids
"""


def is_plain_vote_job(job: Job, has_dependents: bool = False) -> bool:
    """Whether ``job`` is a vote job that a batch may run and finish by deleting it.

    That is :data:`arena.votes.STORE_VOTE_JOB` called with one payload dict, enqueued
    with ``result_ttl=0`` and nothing rq would have to do on success: no callbacks,
    webhooks, dependents, repeats, rate limit or group.
    """
    try:
        return (job.func_name == votes.STORE_VOTE_JOB and not job.kwargs
                and len(job.args) == 1 and isinstance(job.args[0], dict)
                and job.result_ttl == 0 and not has_dependents
                and not job.success_callback and not job.failure_callback
                and not job.stopped_callback and not job.webhooks and not job.repeats_left
                and not job.has_rate_limit and not job.group_id)
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
        Seconds to wait for more votes when fewer than ``batch_size`` are ready,
        so that a busy server's votes are stored in batches of useful size rather
        than one or two at a time (never in burst mode, where the queue is final).
    """

    def __init__(self, queues, *args, votes_queue: str = "votes",
                 batch_size: int = DEFAULT_BATCH_SIZE, batch_wait: float = DEFAULT_BATCH_WAIT,
                 **kwargs):
        super().__init__(queues, *args, **kwargs)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if batch_wait < 0:
            raise ValueError(f"batch_wait must be at least 0, got {batch_wait}")
        self.votes_queue = votes_queue
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self._burst = False
        self._claim = self.connection.register_script(_CLAIM_SCRIPT)

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
        if timeout is None and self.last_heartbeat is not None \
                and (now() - self.last_heartbeat).total_seconds() < HEARTBEAT_EVERY:
            return
        with self.connection.pipeline(transaction=False) as pipe:
            super().heartbeat(timeout, pipeline=pipe)
            pipe.execute()

    def execute_job(self, job: Job, queue) -> None:
        """Run ``job``; a plain vote job takes more ready vote jobs along (see the module)."""
        if queue.name != self.votes_queue or self.batch_size == 1 or not is_plain_vote_job(job):
            return super().execute_job(job, queue)
        with self.connection.pipeline(transaction=False) as pipe:
            # Busy from here on (the local state changes at once): a warm shutdown
            # lets the whole batch finish.
            self.set_state(WorkerStatus.BUSY, pipeline=pipe)
            # rq's dequeue left ``job`` in the intermediate list only when it used LMOVE.
            in_list = len(self.queues) == 1 and get_version(self.connection) >= (6, 2, 0)
            ids = self._take(queue, self.batch_size - 1, "" if in_list else job.id)
            if len(ids) < self.batch_size - 1 and self.batch_wait and not self._burst:
                time.sleep(self.batch_wait)
                ids += self._take(queue, self.batch_size - 1 - len(ids), "")
            first_has_dependents, fetched = self._fetch(pipe, job, ids)
        batch, others, missing = [], [], []
        (others if first_has_dependents else batch).append(job)
        for job_id, found, has_dependents in fetched:
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
                    self._forget(queue, [other.id])
                    continue
            # SimpleWorker.execute_job without its switch to idle: the worker stays busy
            # until the whole batch is done.
            self.perform_job(other, queue, self.prepare_execution(other))
            if len(self.queues) != 1:  # rq removes it from the intermediate list only then
                self.connection.lrem(queue.intermediate_queue_key, 1, other.id)
        # The worker stays busy until rq's loop dequeues again (its first step marks
        # it idle), so a warm shutdown requested in between stops it cleanly too.

    def _take(self, queue, n: int, tracked: str) -> list[str]:
        """Move up to ``n`` ready job ids to the intermediate list (see ``_CLAIM_SCRIPT``)."""
        if n <= 0 and not tracked:
            return []
        return [as_text(i) for i in self._claim(
            keys=[queue.key, queue.intermediate_queue_key], args=[max(n, 0), tracked])]

    def _fetch(self, pipe, first: Job, ids: list[str]):
        """In one round trip (with what ``pipe`` holds already): whether ``first``
        has dependents, and for each id the job (None when it no longer exists or
        cannot be read) and whether it has dependents.

        Only the fields :func:`is_plain_vote_job` looks at are read (:data:`FIELDS`);
        a job that leaves the batch is read whole before rq runs it.
        """
        skip = len(pipe)
        pipe.exists(first.dependents_key)
        for job_id in ids:
            pipe.hmget(self.job_class.key_for(job_id), FIELDS)
            pipe.exists(self.job_class.dependents_key_for(job_id))
        replies = pipe.execute()[skip:]
        fetched = []
        for job_id, values, has_dependents in zip(ids, replies[1::2], replies[2::2]):
            job = None
            if values[0] is not None:
                job = self.job_class(job_id, connection=self.connection,
                                     serializer=self.serializer)
                try:
                    job.restore({k: v for k, v in zip(FIELDS, values) if v is not None})
                except Exception:  # unreadable: left to rq's ordinary path to fail
                    job = None
            fetched.append((job_id, job, bool(has_dependents)))
        return bool(replies[0]), fetched

    def _store(self, batch: list[Job], queue, missing: list[str]) -> bool:
        """Store the votes of ``batch`` in one transaction and finish the jobs.

        Returns False, having stored nothing, when the transaction failed; the caller
        then runs each job the ordinary way.
        """
        if not batch:
            if missing:
                self._forget(queue, missing)
            return True
        started = now()
        # The shortest timeout of the batch (rq's default for a job without one).
        timeout = min(job.timeout if job.timeout and job.timeout > 0 else queue.DEFAULT_TIMEOUT
                      for job in batch)
        try:
            with self.death_penalty_class(timeout, JobTimeoutException, job_id=batch[0].id):
                stored = ingest.store_votes([job.args[0] for job in batch])
        except Exception:
            logger.warning("batch of %d vote jobs failed; running them one at a time",
                           len(batch), exc_info=True)
            if missing:
                self._forget(queue, missing)
            return False
        with self.connection.pipeline(transaction=False) as pipe:
            for job in batch:
                # What rq deletes when a job with result_ttl=0 succeeds.
                pipe.delete(job.key, job.dependents_key, job.dependencies_key,
                            Result.get_key(job.id), job.execution_registry.key)
                pipe.lrem(queue.intermediate_queue_key, 1, job.id)
            for job_id in missing:
                pipe.lrem(queue.intermediate_queue_key, 1, job_id)
            pipe.hincrby(self.key, "successful_job_count", len(batch))
            self.increment_total_working_time(now() - started, pipe)
            pipe.execute()
        logger.info("stored %d new votes from %d vote jobs", stored, len(batch))
        return True

    def _forget(self, queue, job_ids: list[str]) -> None:
        """Drop ids of jobs that no longer exist from the intermediate list."""
        with self.connection.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.lrem(queue.intermediate_queue_key, 1, job_id)
            pipe.execute()
