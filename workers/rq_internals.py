"""Every rq internal the vote worker relies on, in one place.

:class:`workers.vote_batches.VoteBatchWorker` takes, stores and finishes vote jobs
with its own Lua scripts instead of rq's per-job path, so it must write Redis the
way rq does. Each fact about rq's key layout and behaviour it relies on is named
here, derived from rq's own functions where rq has one, and checked against what
rq itself writes by ``tests/test_rq_internals.py``: an rq release that changes any of
them fails that test loudly rather than the worker silently.

Checked against rq 3.0.
"""

from __future__ import annotations

from rq import Queue
from rq.job import Job
from rq.results import Result
from rq.utils import get_version
from rq.worker import BaseWorker

#: The job hash fields a batch reads: the call (``data``) and everything rq would act
#: on when the job finishes (callbacks, webhooks, repeats, rate limit, group).
JOB_FIELDS = (
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

#: The job hash field holding its status, and the statuses of a job that a dead
#: worker took but had not finished (queued: taken by a batch; started: run by rq).
STATUS_FIELD = "status"
UNFINISHED_STATUSES = ("queued", "started")

#: The worker hash fields rq counts finished jobs and their seconds in.
SUCCESS_COUNT_FIELD = "successful_job_count"
WORKING_TIME_FIELD = "total_working_time"
#: The worker hash field rq sets when a worker registers its death.
DEATH_FIELD = "death"


def job_prefix(job_class: type[Job] = Job) -> str:
    """The prefix of a job's hash key: the key is prefix + id."""
    return job_class.key_for("")


def dependents_suffix(job_class: type[Job] = Job) -> str:
    """What follows the job id in its dependents' key: prefix + id + suffix."""
    return job_class.dependents_key_for("")[len(job_prefix(job_class)) :]


def finished_keys(job: Job) -> list[str]:
    """The keys rq keeps beside a job, all deleted when a job with ``result_ttl=0``
    finishes: its hash, dependents, dependencies, results and executions."""
    return [
        job.key,
        job.dependents_key,
        job.dependencies_key,
        Result.get_key(job.id),
        job.execution_registry.key,
    ]


def intermediate_key(queue: Queue) -> str:
    """The list a job's id sits on between rq's dequeue and its start."""
    return queue.intermediate_queue_key


def worker_key(worker_class: type[BaseWorker], name: str) -> str:
    """The key of a worker's hash (it expires when the worker stops beating)."""
    return worker_class.redis_worker_namespace_prefix + name


def worker_prefix(worker_class: type[BaseWorker]) -> str:
    """The prefix of every worker's hash key."""
    return worker_class.redis_worker_namespace_prefix


def dequeue_keeps_in_intermediate(worker: BaseWorker) -> bool:
    """Whether rq's dequeue left the job it returned on the intermediate list.

    rq moves the id there (LMOVE/BLMOVE) only when the worker listens on one queue
    and Redis is 6.2 or later; from several queues it pops the id plainly.
    """
    return len(worker.queues) == 1 and get_version(worker.connection) >= (6, 2, 0)


def perform_removes_from_intermediate(worker: BaseWorker) -> bool:
    """Whether rq's ``perform_job`` removes the job's id from the intermediate list
    (it does when the worker listens on one queue)."""
    return len(worker.queues) == 1


def restore_fields(job: Job, fields: dict) -> None:
    """Fill ``job`` from the hash ``fields`` read (a subset of :data:`JOB_FIELDS`)."""
    job.restore(fields)
