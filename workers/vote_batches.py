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
  Lua step, exactly where rq's own dequeue puts a job, and the worker claims them in the
  same step (:mod:`workers.liveness`); if the worker dies before it finishes them, a
  live worker sees its heartbeat expire (seconds) and puts them back on the queue, and
  the insert skips a vote already stored;
* a database that does not answer: when the batch's transaction fails and the database
  does not answer a probe either, the worker pauses (one log line), probes it with
  backoff while it keeps beating, and stores the same batch when it answers (one more
  line): an outage burns no job's retries, however long it lasts;
* failures: when the batch's transaction fails for any other reason (a bad payload, a
  broken foreign key, the job timeout), it is rolled back and every job of
  the batch is run the ordinary rq way, one at a time (``SimpleWorker.execute_job``): the
  good ones are stored, a failing one is retried (``Retry``) and at the end lands in
  rq's failed registry with its own traceback (``arena queue retry-failed`` puts it back);
* anything that is not a plain vote job (another function, callbacks, dependents,
  a kept result, a repeat, a rate limit, a group) runs the ordinary rq way, and so does
  every job on the other queues (``judge``, ``recompute``);
* the work loop itself: registration, the scheduler that puts retried jobs back (a
  child process that dies with the worker), maintenance, suspension, burst mode and warm
  shutdown (the worker is busy for the whole batch, so a SIGTERM lets the batch
  finish). Heartbeats come from a thread (:class:`workers.liveness.Heartbeat`).

Every rq internal this module relies on is named in :mod:`workers.rq_internals`.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
import time

import redis
from rq import SimpleWorker
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.scheduler import RQScheduler
from rq.timeouts import JobTimeoutException
from rq.utils import as_text, now
from rq.worker import WorkerStatus

from arena import db, runtime, votes
from workers import ingest, liveness, rq_internals
from workers.rq_internals import JOB_FIELDS as FIELDS
from workers.timeouts import RepeatingAlarm
from workers.worker_loop import StopsOnSignal

logger = logging.getLogger("arena.worker")

WAIT_STEPS = 4  # looks for more votes this many times while waiting
# rq blocks on its dequeue for worker_ttl - 15 seconds: 5 s here, so a worker stopped
# while idle, or one whose Redis came back, acts within seconds.
WORKER_TTL = 20
MAINTENANCE_EVERY = 30  # seconds between rq's maintenance (its default: 600)
REDIS_BACKOFF_MAX = 5.0  # rq's dequeue waits at most this long between reconnects
DATABASE_BACKOFF = (0.5, 5.0)  # first and longest wait between probes of a lost database

# Take up to ARGV[1] ready jobs: move their ids from the queue list (KEYS[1]) to rq's
# intermediate list (KEYS[2]), oldest first, where rq's own dequeue puts the one job it
# takes, and read for each whether it has dependents and the fields ARGV[6..]. ARGV[2]
# is the job rq dequeued (its dependents are looked up too); ARGV[3] == "1" when it
# must be put in the intermediate list as well (rq's dequeue from several queues uses
# a plain pop). A job's hash key is ARGV[4] .. id, its dependents' key ARGV[4] .. id
# .. ARGV[5] (rq's key layout, passed in from rq's own key functions). LPOP and RPUSH
# in one script are one atomic step on any Redis version. Returns the first job's
# dependents flag, then id, dependents flag and field values for each job taken. Every
# job taken (and the first) is claimed by the worker ARGV[6]: added to its claims set
# (KEYS[3]) and the worker to the claimers (KEYS[4]), see workers.liveness.
_TAKE_SCRIPT = """
local out = {0}
redis.call('SADD', KEYS[4], ARGV[6])
if ARGV[2] ~= '' then
  if ARGV[3] == '1' then redis.call('RPUSH', KEYS[2], ARGV[2]) end
  redis.call('SADD', KEYS[3], ARGV[2])
  out[1] = redis.call('EXISTS', ARGV[4] .. ARGV[2] .. ARGV[5])
end
for i = 1, tonumber(ARGV[1]) do
  local id = redis.call('LPOP', KEYS[1])
  if not id then break end
  redis.call('RPUSH', KEYS[2], id)
  redis.call('SADD', KEYS[3], id)
  out[#out + 1] = id
  out[#out + 1] = redis.call('EXISTS', ARGV[4] .. id .. ARGV[5])
  out[#out + 1] = redis.call('HMGET', ARGV[4] .. id, unpack(ARGV, 7))
end
return out
"""

# Finish jobs as rq finishes a job with result_ttl=0: drop each id (ARGV[i]) from the
# intermediate list (KEYS[1]) and delete its ARGV[3] keys (hash, dependents,
# dependencies, results, executions) that follow it; count ARGV[1] successful jobs and
# ARGV[2] seconds of work in the worker's hash (KEYS[2], fields ARGV[4] and ARGV[5])
# when ARGV[1] > 0.
_FINISH_SCRIPT = """
if tonumber(ARGV[1]) > 0 then
  redis.call('HINCRBY', KEYS[2], ARGV[4], ARGV[1])
  redis.call('HINCRBYFLOAT', KEYS[2], ARGV[5], ARGV[2])
end
local k = tonumber(ARGV[3])
for i = 6, #ARGV, k + 1 do
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


def _die_with_parent(parent_pid: int) -> None:
    """Have the kernel SIGTERM this process when its parent dies (Linux), and stop
    now when the parent is already gone."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:
        os._exit(0)


class WorkerScheduler(RQScheduler):
    """rq's scheduler, in a child process that does not outlive its worker.

    rq forks the scheduler; a worker killed with SIGKILL used to leave it running
    as an orphan that kept the scheduler locks. This one asks the kernel for a
    SIGTERM when its parent dies (rq's scheduler stops on SIGTERM and releases its
    locks), and checks its parent every second as well.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._worker_pid = os.getpid()

    def enqueue_scheduled_jobs(self):
        if os.getpid() != self._worker_pid and os.getppid() != self._worker_pid:
            self.request_stop()  # in the child, and the worker is gone
            return None
        return super().enqueue_scheduled_jobs()

    def work(self):
        _die_with_parent(self._worker_pid)
        try:
            return super().work()
        except (redis.exceptions.RedisError, OSError):
            # Redis went away: the worker says so (one line) and starts a new
            # scheduler when it is back.
            return None


class VoteBatchWorker(StopsOnSignal, SimpleWorker):
    """An rq ``SimpleWorker`` that stores ready vote jobs in batches.

    Parameters
    ----------
    queues, **kwargs
        As for :class:`rq.SimpleWorker`.
    votes_queue : str, optional
        The name of the queue the vote jobs are on (default: ``[votes] queue`` of
        the process's settings, :func:`arena.runtime.current`).
    batch_size : int, optional
        At most this many vote jobs are stored in one transaction (at least 1;
        default: ``[worker] vote_batch_size``).
    batch_wait : float, optional
        At most this many seconds (default: ``[worker] vote_batch_wait_ms`` / 1000)
        to wait for more votes when fewer than
        ``batch_size`` are ready; the worker looks again every quarter of it and
        stops waiting when none came. A busy server's votes are so stored in
        batches of useful size rather than one or two at a time (never in burst
        mode, where the queue is final).

    Job and batch timeouts hold even when Python drops the first alarm's
    exception (:mod:`workers.timeouts`).
    """

    death_penalty_class = RepeatingAlarm

    def __init__(
        self,
        queues,
        *args,
        votes_queue: str | None = None,
        batch_size: int | None = None,
        batch_wait: float | None = None,
        **kwargs,
    ):
        settings = runtime.current().settings
        if votes_queue is None:
            votes_queue = settings["votes"]["queue"]
        if batch_size is None:
            batch_size = settings["worker"]["vote_batch_size"]
        if batch_wait is None:
            batch_wait = settings["worker"]["vote_batch_wait_ms"] / 1000
        kwargs.setdefault("worker_ttl", WORKER_TTL)
        kwargs.setdefault("maintenance_interval", MAINTENANCE_EVERY)
        super().__init__(queues, *args, **kwargs)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if batch_wait < 0:
            raise ValueError(f"batch_wait must be at least 0, got {batch_wait}")
        self.max_connection_wait_time = REDIS_BACKOFF_MAX
        self.votes_queue = votes_queue
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self._burst = False
        self._take_script = self.connection.register_script(_TAKE_SCRIPT)
        self._finish_script = self.connection.register_script(_FINISH_SCRIPT)
        self._job_prefix = rq_internals.job_prefix(self.job_class)
        self._dependents_suffix = rq_internals.dependents_suffix(self.job_class)
        self._claims_key = liveness.claims_key(self.name)
        self._heartbeat = liveness.Heartbeat(self, on_tick=self.recover_dead_workers_jobs)

    def work(self, burst: bool = False, *args, **kwargs) -> bool:
        self._burst = burst
        return super().work(burst, *args, **kwargs)

    def bootstrap(self, *args, **kwargs):
        """rq's bootstrap, then the heartbeat thread (which also recovers the jobs
        of dead workers, once at once)."""
        super().bootstrap(*args, **kwargs)
        self.recover_dead_workers_jobs()
        self._heartbeat.start()

    def teardown(self):
        self._heartbeat.stop()
        try:
            super().teardown()
        except (redis.exceptions.RedisError, OSError):
            # Redis is away: rq's teardown stopped before ending the pubsub thread,
            # which would go on trying to reconnect for a worker that is gone.
            if self.pubsub_thread is not None:
                with contextlib.suppress(Exception):
                    self.pubsub_thread.stop()
                    self.pubsub_thread.join(timeout=1)
                    self.pubsub.close()
            raise

    def _start_scheduler(self, burst=False, logging_level="INFO", *args, **kwargs):
        """rq's ``_start_scheduler`` with :class:`WorkerScheduler`, which dies with us."""
        self.scheduler = WorkerScheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            serializer=self.serializer,
        )
        self.scheduler.acquire_locks()
        if self.scheduler.acquired_locks:
            if burst:
                try:
                    self.scheduler.register_birth()
                    self.scheduler.enqueue_scheduled_jobs()
                finally:
                    self.scheduler.release_locks()
                    self.scheduler.register_death()
            else:
                self.scheduler.start()

    def recover_dead_workers_jobs(self) -> list[str]:
        """Put the vote jobs that dead workers took back on the votes queue."""
        for queue in self.queues:
            if queue.name == self.votes_queue:
                return liveness.recover(self.connection, queue, type(self), self.job_class)
        return []

    def heartbeat(self, timeout: int | None = None, pipeline=None):
        """rq's heartbeat, its three writes sent in one round trip; the worker's hash
        lives :data:`workers.liveness.LIVENESS_TTL` seconds without another.

        rq's work loop beats three times per job; a beat with no timeout less than
        :data:`workers.liveness.HEARTBEAT_EVERY` seconds after the previous one is
        skipped (the heartbeat thread beats every second anyway).
        """
        if pipeline is not None:
            return super().heartbeat(timeout, pipeline=pipeline)
        if timeout is None:
            if (
                self.last_heartbeat is not None
                and (now() - self.last_heartbeat).total_seconds() < liveness.HEARTBEAT_EVERY
            ):
                return
            timeout = liveness.LIVENESS_TTL
        with self.connection.pipeline(transaction=False) as pipe:
            super().heartbeat(timeout, pipeline=pipe)
            pipe.execute()

    def execute_job(self, job: Job, queue) -> None:
        """Run ``job``; a plain vote job takes more ready vote jobs along (see the module)."""
        if queue.name != self.votes_queue or not is_plain_vote_job(job):
            return super().execute_job(job, queue)
        # Busy from here on: a warm shutdown lets the whole batch finish.
        self.set_state(WorkerStatus.BUSY)
        in_list = rq_internals.dequeue_keeps_in_intermediate(self)
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
                logger.debug("waiting for votes: a look found %d more", len(more))
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
        done = self._store(batch, queue, missing)
        if done is None:
            # Stop requested while the database was away: the jobs stay claimed, and
            # are put back on the queue once this worker has registered its death.
            return
        if not done:
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
            if not rq_internals.perform_removes_from_intermediate(self):
                self.connection.lrem(rq_internals.intermediate_key(queue), 1, other.id)
        liveness.release(self.connection, self.name)
        # The worker stays busy until rq's loop dequeues again (its first step marks
        # it idle), so a warm shutdown requested in between stops it cleanly too.

    def _take(self, queue, n: int, first: Job | None = None, track_first: bool = False):
        """Take and claim up to ``n`` ready jobs in one step (see ``_TAKE_SCRIPT``).

        Returns whether ``first`` has dependents, and for each job taken its id,
        the job (None when it no longer exists) and whether it has dependents.
        Only the fields :func:`is_plain_vote_job` looks at are read (:data:`FIELDS`);
        a job that leaves the batch is read whole before rq runs it.
        """
        reply = self._take_script(
            keys=[
                queue.key,
                rq_internals.intermediate_key(queue),
                self._claims_key,
                liveness.CLAIMERS_KEY,
            ],
            args=[
                max(n, 0),
                first.id if first else "",
                "1" if track_first else "0",
                self._job_prefix,
                self._dependents_suffix,
                self.name,
                *FIELDS,
            ],
        )
        taken = []
        for raw_id, has_dependents, values in zip(reply[1::3], reply[2::3], reply[3::3]):
            job_id, job = as_text(raw_id), None
            if values[0] is not None:
                job = self.job_class(job_id, connection=self.connection, serializer=self.serializer)
                try:
                    rq_internals.restore_fields(
                        job, {k: v for k, v in zip(FIELDS, values) if v is not None}
                    )
                except Exception:
                    # A damaged hash: neither run nor deleted, it stays on the
                    # intermediate list for rq's maintenance, as rq leaves such a job.
                    logger.error(
                        "job %s cannot be read; left on %s",
                        job_id,
                        rq_internals.intermediate_key(queue),
                        exc_info=True,
                    )
                    continue
            taken.append((job_id, job, bool(has_dependents)))
        return bool(reply[0]), taken

    def _store(self, batch: list[Job], queue, missing: list[str]) -> bool | None:
        """Store the votes of ``batch`` in one transaction and finish the jobs.

        Returns True when stored; False, having stored nothing, when the transaction
        failed while the database answers (the caller then runs each job the ordinary
        way); None when a stop was requested while the database was away.
        """
        if not batch:
            self._finish(queue, missing)
            return True
        # The shortest timeout of the batch (rq's default for a job without one).
        timeout = min(
            job.timeout if job.timeout and job.timeout > 0 else queue.DEFAULT_TIMEOUT
            for job in batch
        )
        while True:
            started = now()
            try:
                with self.death_penalty_class(timeout, JobTimeoutException, job_id=batch[0].id):
                    stored = ingest.store_votes([job.args[0] for job in batch])
                break
            except Exception as exc:
                if database_answers():
                    logger.warning(
                        "batch of %d vote jobs failed; running them one at a time",
                        len(batch),
                        exc_info=True,
                    )
                    self._finish(queue, missing)
                    return False
                if not self._wait_for_database(exc):
                    return None
        self._finish(
            queue, batch + missing, succeeded=len(batch), seconds=(now() - started).total_seconds()
        )
        logger.info("stored %d new votes from %d vote jobs", stored, len(batch))
        return True

    def _wait_for_database(self, exc: Exception) -> bool:
        """Pause until the database answers again, probing with backoff; one log line
        when the pause starts and one when it ends. False when a stop was requested."""
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        logger.warning("database unreachable (%s); vote jobs wait", reason[:200])
        since = time.monotonic()
        wait = DATABASE_BACKOFF[0]
        while not database_answers():
            end = time.monotonic() + wait
            while time.monotonic() < end:
                if self._stop_requested:
                    logger.warning("stop requested while the database is unreachable")
                    return False
                time.sleep(0.1)
            wait = min(wait * 2, DATABASE_BACKOFF[1])
        logger.warning(
            "database reachable again after %.0f s; vote jobs resume", time.monotonic() - since
        )
        return True

    def _finish(self, queue, jobs: list, succeeded: int = 0, seconds: float = 0.0) -> None:
        """Finish ``jobs`` (jobs or ids of jobs gone) in one step (see ``_FINISH_SCRIPT``):
        out of the intermediate list, and deleted with what rq keeps beside a job."""
        if not jobs:
            return
        args = [
            succeeded,
            seconds,
            5,
            rq_internals.SUCCESS_COUNT_FIELD,
            rq_internals.WORKING_TIME_FIELD,
        ]
        for job in jobs:
            if isinstance(job, str):
                job = self.job_class(job, connection=self.connection)
            args += [job.id, *rq_internals.finished_keys(job)]
        self._finish_script(keys=[rq_internals.intermediate_key(queue), self.key], args=args)


def database_answers() -> bool:
    """Whether the database of this process's settings answers a ``SELECT 1``."""
    try:
        db.ping(runtime.current().engine)
    except Exception:
        return False
    return True
