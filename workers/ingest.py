"""The vote job: store one vote exactly once, and schedule rating recomputes."""

from __future__ import annotations

from rq.exceptions import DuplicateJobError

from arena import runtime, votes


def store_vote(payload: dict) -> dict:
    """Store the vote in ``payload`` (see :func:`arena.votes.payload_for`).

    Safe to run any number of times: the insert skips a battle that already
    has a vote. Every ``[rating] recompute_every`` new votes it enqueues one
    ``recompute_ratings`` job (at most one waits at a time).
    """
    return {"battle_id": payload["battle_id"], "stored": store_votes([payload])}


def store_votes(payloads: list[dict]) -> int:
    """Store the votes of many vote jobs in ONE transaction; returns how many were new.

    The batch path of :class:`workers.vote_batches.VoteBatchWorker`. Each vote is
    stored exactly once as in :func:`store_vote`, and the new ones count towards
    the next recompute. Raises (having stored nothing) when any vote cannot be
    stored.
    """
    rt = runtime.current()
    stored = votes.store(rt.engine, payloads)
    if stored:
        schedule_recompute(rt, stored)
    return stored


def schedule_recompute(rt: runtime.Runtime, new_votes: int) -> bool:
    """Count new votes; enqueue a recompute when enough have arrived."""
    every = int(rt.settings["rating"]["recompute_every"])
    if every <= 0:
        return False
    # INCRBY is atomic, so the running totals the jobs see are distinct: exactly one
    # job's votes cross each multiple of ``every``, however many workers run at once
    # (reading the count and then resetting it could go negative between two jobs).
    count = rt.redis.incrby(votes.VOTE_COUNT_KEY, new_votes)
    if count // every == (count - new_votes) // every:
        return False
    try:
        rt.queue_for("recompute").enqueue(
            votes.RECOMPUTE_JOB,
            job_id=votes.RECOMPUTE_JOB_ID,
            unique=True,
            result_ttl=0,
            job_timeout=600,
            description="recompute rating snapshots",
        )
    except DuplicateJobError:
        return False
    return True
