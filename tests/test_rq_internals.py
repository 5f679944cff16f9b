"""What the vote worker assumes of rq (workers/rq_internals.py), checked against what rq
itself writes. A failure here means an rq release changed its layout: update
workers/rq_internals.py (and the vote worker's Lua scripts) before using that release."""

from __future__ import annotations

import pytest
from rq import Callback, Queue, Repeat, SimpleWorker, Worker
from rq.job import Job
from rq.rate_limit import RateLimit
from rq.webhook import Webhook

from workers import rq_internals


def _add(x, y):
    return x + y


@pytest.fixture
def q(redis_conn):
    return Queue("internals", connection=redis_conn)


def test_job_hash_key_and_fields_are_what_rq_writes(q, redis_conn):
    job = q.enqueue(_add, 1, 2, result_ttl=0, job_timeout=30)
    assert rq_internals.job_prefix() + job.id == job.key
    assert redis_conn.type(job.key) == b"hash"
    written = {k.decode() for k in redis_conn.hkeys(job.key)}
    # Every field the batch reads is one rq writes, or could write (to_dict is what
    # rq saves: the optional fields appear there once set).
    full = q.enqueue(
        _add,
        1,
        2,
        result_ttl=0,
        on_success=Callback(_add),
        on_failure=Callback(_add),
        on_stopped=Callback(_add),
        repeat=Repeat(times=2),
        rate_limit=RateLimit("internals", 1),
        webhooks=[Webhook("http://127.0.0.1:9/", "finished")],
    )
    known = {k.decode() for k in redis_conn.hkeys(full.key)}
    missing = [f for f in rq_internals.JOB_FIELDS if f not in known]
    assert not missing, f"rq no longer writes job fields {missing}"
    assert {"data", "timeout", "result_ttl", rq_internals.STATUS_FIELD} <= written
    assert redis_conn.hget(job.key, rq_internals.STATUS_FIELD) == b"queued"
    # The batch restores a job from those fields alone.
    values = redis_conn.hmget(job.key, list(rq_internals.JOB_FIELDS))
    restored = Job(job.id, connection=redis_conn)
    rq_internals.restore_fields(
        restored, {k: v for k, v in zip(rq_internals.JOB_FIELDS, values) if v is not None}
    )
    assert (restored.func_name, restored.args, restored.result_ttl) == (
        job.func_name,
        (1, 2),
        0,
    )


def test_dependents_key_layout(q):
    job = q.enqueue(_add, 1, 2)
    assert job.dependents_key == (
        rq_internals.job_prefix() + job.id + rq_internals.dependents_suffix()
    )


def test_single_queue_dequeue_leaves_the_job_on_the_intermediate_list(q, redis_conn):
    job = q.enqueue(_add, 1, 2, result_ttl=0)
    worker = SimpleWorker([q], connection=redis_conn)
    assert rq_internals.dequeue_keeps_in_intermediate(worker)
    found, _ = Queue.dequeue_any([q], 1, connection=redis_conn)
    assert found.id == job.id
    assert redis_conn.lrange(rq_internals.intermediate_key(q), 0, -1) == [job.id.encode()]
    two = SimpleWorker([q, Queue("other", connection=redis_conn)], connection=redis_conn)
    assert not rq_internals.dequeue_keeps_in_intermediate(two)
    assert rq_internals.perform_removes_from_intermediate(worker)
    assert not rq_internals.perform_removes_from_intermediate(two)


def test_finished_keys_cover_every_key_rq_keeps_beside_a_job(q, redis_conn):
    """rq runs a job that keeps its result; every key naming the job is one the batch
    deletes when it finishes a job (and rq deletes them all with result_ttl=0)."""
    kept = q.enqueue(_add, 1, 2, result_ttl=600)
    dropped = q.enqueue(_add, 3, 4, result_ttl=0)
    worker = SimpleWorker([q], connection=redis_conn)
    worker.work(burst=True)
    for job in (kept, dropped):
        beside = {
            k.decode() for k in redis_conn.keys(f"*{job.id}*") if not k.startswith(b"rq:queue:")
        }
        assert beside <= set(rq_internals.finished_keys(job)), beside
    assert not redis_conn.keys(f"*{dropped.id}*")
    assert redis_conn.exists(kept.key)
    # The worker's counters the batch increments are rq's.
    fields = {k.decode() for k in redis_conn.hkeys(worker.key)}
    assert {rq_internals.SUCCESS_COUNT_FIELD, rq_internals.WORKING_TIME_FIELD} <= fields
    assert rq_internals.DEATH_FIELD in fields  # burst mode ended: rq registered its death


def test_worker_key_layout(q, redis_conn):
    worker = SimpleWorker([q], connection=redis_conn)
    worker.register_birth()
    try:
        assert rq_internals.worker_key(SimpleWorker, worker.name) == worker.key
        assert worker.key.startswith(rq_internals.worker_prefix(Worker))
        assert worker.key in {w.key for w in Worker.all(connection=redis_conn)}
    finally:
        worker.register_death()
