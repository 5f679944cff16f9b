"""The vote worker (workers.vote_batches.VoteBatchWorker) on real Redis, rq and databases.

Many queued vote jobs stored once each in batches; a job run twice; a bad payload
among good ones; retries through rq's scheduler; jobs a crashed worker left
behind; a warm shutdown in the middle of a batch; other jobs and queues run the
ordinary rq way; ``arena worker --burst``.
"""

from __future__ import annotations

import logging
import os
import signal
import time

import numpy as np
import pytest
from click.testing import CliRunner
from rq import Queue, Retry, SimpleWorker
from rq.exceptions import DuplicateJobError
from rq.job import Job, JobStatus
from sqlalchemy import func, select
from sqlmodel import Session

from arena import battles, votes
from arena.cli import main
from arena.models import Battle, PairCount, Rater, RatingSnapshot, Vote
from tests.conftest import seed
from workers import ingest
from workers.vote_batches import VoteBatchWorker


def new_payloads(rt, n: int, choice: str = "left") -> list[dict]:
    """``n`` battles drawn and stored, and the vote payload for each."""
    rng = np.random.default_rng(7)
    with Session(rt.engine) as s:
        issued = [battles.issue(s, rng, rater_id="rater-1") for _ in range(n)]
        s.commit()
        return [votes.payload_for(s, b.battle.id, choice) for b in issued]


def stored(engine) -> tuple[int, int, int]:
    """Votes stored, distinct battles among them, and the total in pair_counts."""
    with Session(engine) as s:
        n = s.execute(select(func.count()).select_from(Vote)).scalar_one()
        distinct = s.execute(select(func.count(func.distinct(Vote.battle_id)))).scalar_one()
        counted = s.execute(
            select(
                func.coalesce(
                    func.sum(
                        PairCount.left_wins
                        + PairCount.right_wins
                        + PairCount.ties
                        + PairCount.both_bad
                    ),
                    0,
                )
            )
        ).scalar_one()
    return n, distinct, counted


def leftovers(rt, queue: str = "votes") -> dict:
    q = rt.queue(queue)
    return {
        "queued": q.count,
        "intermediate": rt.redis.llen(q.intermediate_queue_key),
        "failed": q.failed_job_registry.get_job_ids(),
        "scheduled": q.scheduled_job_registry.get_job_ids(),
        "jobs": len(rt.redis.keys("rq:job:vote-*")),
    }


CLEAN = {"queued": 0, "intermediate": 0, "failed": [], "scheduled": [], "jobs": 0}


@pytest.fixture
def seeded(rt, caplog):
    seed(rt.engine, n_models=4, n_prompts=3)
    caplog.set_level(logging.INFO, logger="arena.worker")
    return rt


def batch_sizes(caplog) -> list[int]:
    """How many vote jobs each batch the worker stored held (from its log)."""
    return [
        int(r.getMessage().rsplit(" from ", 1)[1].split()[0])
        for r in caplog.records
        if r.name == "arena.worker" and r.getMessage().startswith("stored ")
    ]


def batch_worker(rt, *queues, **kwargs) -> VoteBatchWorker:
    return VoteBatchWorker(
        [rt.queue(q) for q in queues or ("votes",)], connection=rt.redis, **kwargs
    )


@pytest.mark.parametrize("queues", [("votes",), ("votes", "judge", "recompute")])
def test_many_queued_votes_are_stored_once_in_batches(seeded, queues, caplog):
    """rq dequeues one job (LMOVE on one queue, a plain pop on several); the worker
    takes the rest in batches of at most batch_size, all stored, nothing left in Redis."""
    rt = seeded
    payloads = new_payloads(rt, 45)
    for p in payloads:
        votes.enqueue(rt.queue("votes"), p)
    worker = batch_worker(rt, *queues, batch_size=20)
    assert worker.work(burst=True)
    assert batch_sizes(caplog) == [20, 20, 5]
    assert stored(rt.engine) == (45, 45, 45)
    assert leftovers(rt) == CLEAN
    worker.refresh()
    assert worker.successful_job_count == 45 and worker.failed_job_count == 0


def test_a_waiting_worker_gathers_votes_that_keep_arriving(seeded, caplog):
    """Not in burst mode, the worker waits for more votes while they keep coming
    (one batch), and stops waiting at the first look that finds none."""
    import threading

    rt = seeded
    caplog.set_level(logging.DEBUG, logger="arena.worker")
    payloads = new_payloads(rt, 8)
    votes.enqueue(rt.queue("votes"), payloads[0])

    def arrive():
        for p in payloads[1:]:
            time.sleep(0.005)
            votes.enqueue(rt.queue("votes"), p)

    sender = threading.Thread(target=arrive)
    try:
        worker = batch_worker(rt, batch_wait=2.0)  # looks again every 0.5 s
        sender.start()
        worker.work(max_jobs=1)
    finally:
        sender.join()
    assert batch_sizes(caplog) == [8]  # one batch: it waited while votes kept coming
    assert stored(rt.engine) == (8, 8, 8)
    # It stopped waiting at the first look that found none (not after all four looks).
    looks = [
        int(r.getMessage().split(" found ")[1].split()[0])
        for r in caplog.records
        if r.name == "arena.worker" and r.getMessage().startswith("waiting for votes")
    ]
    assert looks[-1] == 0 and all(n > 0 for n in looks[:-1])
    assert len(looks) < 4


def test_a_job_run_twice_stores_one_vote(seeded):
    rt = seeded
    payloads = new_payloads(rt, 5, choice="tie")
    for p in payloads:
        votes.enqueue(rt.queue("votes"), p)
    # A worker stored two of them, then died before finishing their jobs.
    assert ingest.store_votes(payloads[:2]) == 2
    # The same battle twice in one batch (a retry queued beside the original job).
    rt.queue("votes").enqueue(votes.STORE_VOTE_JOB, payloads[4], job_id="vote-again", result_ttl=0)
    batch_worker(rt).work(burst=True)
    assert stored(rt.engine) == (5, 5, 5)
    with Session(rt.engine) as s:
        assert s.execute(select(func.sum(PairCount.ties))).scalar_one() == 5
    assert leftovers(rt) == CLEAN


@pytest.mark.parametrize("bad", ["no such battle", "malformed"])
def test_a_bad_payload_fails_alone_into_the_failed_registry(seeded, bad):
    """The batch's transaction fails, is rolled back, and every job of it runs the
    ordinary rq way: the good votes are stored, the bad job (no retries) lands in
    rq's failed registry with its own exception."""
    rt = seeded
    payloads = new_payloads(rt, 6)
    wrong = dict(payloads[3])
    if bad == "no such battle":
        wrong["battle_id"] = 99999  # breaks the foreign key
    else:
        del wrong["winner"]
    for k, p in enumerate(payloads):
        votes.enqueue(rt.queue("votes"), wrong if k == 3 else p, retries=0)
    batch_worker(rt).work(burst=True)
    assert stored(rt.engine) == (5, 5, 5)
    q = rt.queue("votes")
    failed = q.failed_job_registry.get_job_ids()
    assert failed == [f"vote-{wrong['battle_id']}"]
    job = Job.fetch(failed[0], connection=rt.redis)
    assert job.get_status() == JobStatus.FAILED
    assert (
        "KeyError: 'winner'" if bad == "malformed" else "IntegrityError"
    ) in job.latest_result().exc_string
    assert rt.redis.llen(q.intermediate_queue_key) == 0 and q.count == 0


def test_a_damaged_or_vanished_job_is_not_run(seeded):
    """A job whose hash is gone is dropped from the intermediate list; one whose hash
    cannot be read is left there untouched (for rq's maintenance); the rest are stored."""
    rt = seeded
    payloads = new_payloads(rt, 5)
    for p in payloads:
        votes.enqueue(rt.queue("votes"), p)
    gone, damaged = (f"vote-{payloads[k]['battle_id']}" for k in (2, 3))
    rt.redis.delete(Job.key_for(gone))
    rt.redis.hset(Job.key_for(damaged), "timeout", "not a number")
    batch_worker(rt).work(burst=True)
    assert stored(rt.engine) == (3, 3, 3)
    q = rt.queue("votes")
    assert q.intermediate_queue.get_job_ids() == [damaged]
    assert rt.redis.exists(Job.key_for(damaged)) and q.count == 0


def test_a_failing_vote_is_retried_by_the_scheduler(seeded):
    """A vote whose battle is not stored yet fails, waits in rq's scheduled registry,
    and is stored when the worker's scheduler puts it back after the interval."""
    rt = seeded
    payloads = new_payloads(rt, 3)
    early = dict(payloads[0], battle_id=777)
    for p in [early, *payloads[1:]]:
        votes.enqueue(rt.queue("votes"), p, retries=3)
    batch_worker(rt).work(burst=True)
    assert stored(rt.engine)[0] == 2
    assert rt.queue("votes").scheduled_job_registry.get_job_ids() == ["vote-777"]
    with Session(rt.engine) as s:
        b = s.get(Battle, payloads[0]["battle_id"])
        s.add(
            Battle(
                id=777,
                prompt_id=b.prompt_id,
                left_model_id=b.left_model_id,
                right_model_id=b.right_model_id,
            )
        )
        s.commit()
    time.sleep(1.5)  # the first of 3 retries waits 1 s
    batch_worker(rt).work(burst=True, with_scheduler=True)
    assert stored(rt.engine) == (3, 3, 3)
    assert leftovers(rt) == CLEAN


def test_jobs_a_dead_worker_took_are_recovered_by_rq(seeded):
    """Jobs taken into rq's intermediate list by a worker that then died are found
    by rq's registry maintenance, retried, and stored once."""
    rt = seeded
    payloads = new_payloads(rt, 4)
    for p in payloads:
        votes.enqueue(rt.queue("votes"), p)
    q = rt.queue("votes")
    dead = batch_worker(rt)
    taken = [job_id for job_id, _, _ in dead._take(q, 10)[1]]
    assert sorted(taken) == sorted(f"vote-{p['battle_id']}" for p in payloads)
    ingest.store_votes(payloads[:1])  # it had stored one of them
    assert q.count == 0 and rt.redis.llen(q.intermediate_queue_key) == 4

    maintenance = batch_worker(rt)  # what another worker's registry cleaning does
    q.intermediate_queue.cleanup(maintenance, q)  # first sight: rq waits a minute
    for job_id in q.intermediate_queue.get_job_ids():  # ...which has passed
        rt.redis.set(q.intermediate_queue.get_first_seen_key(job_id), time.time() - 120)
    q.intermediate_queue.cleanup(maintenance, q)
    assert rt.redis.llen(q.intermediate_queue_key) == 0
    assert len(q.scheduled_job_registry.get_job_ids()) == 4  # retried after 1 s
    time.sleep(1.5)
    batch_worker(rt).work(burst=True, with_scheduler=True)
    assert stored(rt.engine) == (4, 4, 4)
    assert leftovers(rt) == CLEAN


class _StopInBatch(VoteBatchWorker):
    """Sends itself SIGTERM while its first batch is being stored."""

    def _store(self, batch, queue, missing):
        if not getattr(self, "_signalled", False):
            self._signalled = True
            os.kill(os.getpid(), signal.SIGTERM)
        return super()._store(batch, queue, missing)


def test_warm_shutdown_lets_the_batch_finish(seeded):
    rt = seeded
    payloads = new_payloads(rt, 8)
    for p in payloads:
        votes.enqueue(rt.queue("votes"), p)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        _StopInBatch([rt.queue("votes")], connection=rt.redis, batch_size=5).work(burst=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    # The batch of 5 was stored and finished; the worker stopped before the rest.
    assert stored(rt.engine) == (5, 5, 5)
    assert rt.queue("votes").count == 3
    assert rt.redis.llen(rt.queue("votes").intermediate_queue_key) == 0


def test_other_jobs_on_the_votes_queue_run_the_ordinary_way(seeded):
    """A vote job that keeps its result, and another function, are run by rq one at
    a time beside the batch: the result is kept, the function ran."""
    rt = seeded
    payloads = new_payloads(rt, 4)
    q = rt.queue("votes")
    votes.enqueue(q, payloads[0])
    kept = q.enqueue(votes.STORE_VOTE_JOB, payloads[1], job_id="vote-kept", result_ttl=600)
    other = q.enqueue("workers.recompute.recompute_ratings", job_id="not-a-vote")
    for p in payloads[2:]:
        votes.enqueue(q, p)
    batch_worker(rt).work(burst=True)
    assert stored(rt.engine) == (4, 4, 4)
    assert kept.get_status() == JobStatus.FINISHED
    assert kept.return_value() == {"battle_id": payloads[1]["battle_id"], "stored": 1}
    assert other.get_status() == JobStatus.FINISHED
    assert rt.redis.llen(q.intermediate_queue_key) == 0 and q.count == 0


def test_recompute_and_judge_queues_still_run(seeded):
    """Every third stored vote schedules a recompute (a batch crossing a multiple
    enqueues it once); the same worker runs it from its own queue."""
    rt = seeded
    rt.settings = rt.settings.replace(rating={"recompute_every": 3})
    for p in new_payloads(rt, 7):
        votes.enqueue(rt.queue("votes"), p)
    batch_worker(rt, "votes", "judge", "recompute").work(burst=True)
    assert stored(rt.engine) == (7, 7, 7)
    with Session(rt.engine) as s:
        assert s.execute(select(func.count()).select_from(RatingSnapshot)).scalar_one() > 0
    assert rt.queue("recompute").count == 0


def test_plain_rq_workers_still_run_the_vote_jobs(seeded):
    """The jobs are rq's own: rq's SimpleWorker (``rq worker``) stores them too."""
    rt = seeded
    for p in new_payloads(rt, 3):
        votes.enqueue(rt.queue("votes"), p)
    SimpleWorker([rt.queue("votes")], connection=rt.redis).work(burst=True)
    assert stored(rt.engine) == (3, 3, 3)
    assert leftovers(rt) == CLEAN


def test_enqueue_writes_the_job_rq_would(seeded):
    """One round trip, but the same job as rq 3's unique enqueue: read back by rq
    field for field, refused a second time, and the queue registered."""
    rt = seeded
    payload = new_payloads(rt, 1)[0]
    ours = votes.enqueue(rt.queue("votes"), payload, timeout=45, retries=2)
    with pytest.raises(DuplicateJobError):
        votes.enqueue(rt.queue("votes"), payload)
    theirs = rt.queue("other").enqueue(
        votes.STORE_VOTE_JOB,
        payload,
        job_id="theirs",
        unique=True,
        job_timeout=45,
        result_ttl=0,
        failure_ttl=30 * 86400,
        description=ours.description,
        retry=Retry(max=2, interval=votes.RETRY_INTERVALS[-2:]),
    )
    a = Job.fetch(ours.id, connection=rt.redis)
    b = Job.fetch(theirs.id, connection=rt.redis)
    fields = (
        "func_name",
        "args",
        "kwargs",
        "timeout",
        "result_ttl",
        "failure_ttl",
        "ttl",
        "retries_left",
        "retry_intervals",
        "description",
        "meta",
        "group_id",
        "worker_name",
        "started_at",
        "ended_at",
        "success_callback",
        "failure_callback",
        "stopped_callback",
    )
    assert {f: getattr(a, f) for f in fields} == {f: getattr(b, f) for f in fields}
    assert a.get_status() == b.get_status() == JobStatus.QUEUED
    assert (a.origin, b.origin) == ("votes", "other")
    assert a.enqueued_at is not None and a.created_at is not None
    assert "votes" in [q.name for q in Queue.all(connection=rt.redis)]
    assert rt.queue("votes").job_ids == [ours.id]


def test_payload_counts_the_vote_for_whoever_votes(seeded):
    """One query finds the battle, its models, and the group of the rater voting."""
    rt = seeded
    with Session(rt.engine) as s:
        s.add_all([Rater(id="rater-1", group="experts"), Rater(id="rater-2", group="students")])
        s.commit()
    battle_id = new_payloads(rt, 1)[0]["battle_id"]
    with rt.engine.connect() as conn:
        own = votes.payload_for(conn, battle_id, "right")
        other = votes.payload_for(conn, battle_id, "right", rater_id="rater-2")
        unknown = votes.payload_for(conn, battle_id, "right", rater_id="nobody")
    assert (own["rater_id"], own["rater_group"]) == ("rater-1", "experts")
    assert (other["rater_id"], other["rater_group"]) == ("rater-2", "students")
    assert (unknown["rater_id"], unknown["rater_group"]) == ("nobody", "")


def test_store_in_counts_each_battle_once(seeded):
    rt = seeded
    payloads = new_payloads(rt, 3, choice="right")
    with rt.engine.begin() as conn:
        assert votes.store_in(conn, [payloads[0]]) == 1
    with rt.engine.begin() as conn:
        assert (
            votes.store_in(
                conn, [payloads[0], payloads[1], dict(payloads[1], choice="left"), payloads[2]]
            )
            == 2
        )
    assert stored(rt.engine) == (3, 3, 3)
    with Session(rt.engine) as s:
        assert s.execute(select(func.sum(PairCount.right_wins))).scalar_one() == 3
        assert s.execute(select(Vote.choice)).scalars().all() == ["right"] * 3


def test_arena_worker_burst_drains_the_queue(seeded, settings, tmp_path):
    rt = seeded
    for p in new_payloads(rt, 12):
        votes.enqueue(rt.queue("votes"), p)
    env = {
        "ARENA_DATABASE_URL": settings.database_url,
        "ARENA_REDIS_URL": settings.redis_url,
        "ARENA_INSTANCE": str(tmp_path / "instance"),
        "ARENA_SECRET_KEY": "test-secret",
    }
    result = CliRunner().invoke(main, ["worker", "--burst", "--log-level", "WARNING"], env=env)
    assert result.exit_code == 0, result.output
    assert stored(rt.engine) == (12, 12, 12)
    assert leftovers(rt) == CLEAN


@pytest.mark.parametrize(
    "setting, value, message",
    [
        ("vote_batch_size", 0, "worker.vote_batch_size must be at least 1, got 0"),
        ("vote_batch_size", 2.5, "worker.vote_batch_size must be a whole number, got float 2.5"),
        ("vote_batch_wait_ms", -1, "worker.vote_batch_wait_ms must be at least 0, got -1"),
    ],
)
def test_worker_settings_are_checked(sqlite_url, redis_url, tmp_path, setting, value, message):
    config = tmp_path / "arena.toml"
    config.write_text(f"[worker]\n{setting} = {value}\n")
    env = {
        "ARENA_DATABASE_URL": sqlite_url,
        "ARENA_REDIS_URL": redis_url,
        "ARENA_INSTANCE": str(tmp_path / "instance"),
        "ARENA_SECRET_KEY": "test-secret",
    }
    result = CliRunner().invoke(main, ["worker", "--burst", "--config", str(config)], env=env)
    assert result.exit_code == 1
    assert message in result.output
