"""Votes: the payload a vote job carries, and storing it exactly once.

The web app (and the judge workers) build a payload with :func:`payload_for`
and put it on the ``votes`` queue with :func:`enqueue`. The job
(:func:`workers.ingest.store_vote`) calls :func:`store`, which inserts the
vote with ``ON CONFLICT (battle_id) DO NOTHING`` and, only when the row was
new, adds it to ``pair_counts`` in the same transaction. A job that runs
twice therefore stores one vote and counts it once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from rq import Retry
from sqlalchemy import bindparam, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session

from arena.models import CHOICES, Battle, Model, Prompt, Rater, Vote, utcnow

STORE_VOTE_JOB = "workers.ingest.store_vote"
RECOMPUTE_JOB = "workers.recompute.recompute_ratings"
RECOMPUTE_JOB_ID = "recompute-ratings"
VOTE_COUNT_KEY = "arena:votes-counted"  # stored votes, for scheduling recomputes
DEFAULT_CATEGORY = "general"
# Seconds between retries of a failed vote job (the last ones when fewer retries are asked);
# the worker's rq scheduler puts the job back on the queue.
RETRY_INTERVALS = [1, 5, 30]


class VoteError(ValueError):
    """A vote that cannot be stored (unknown choice or battle)."""


class NoSuchBattle(VoteError):
    """The battle named by the vote does not exist."""


class AlreadyVoted(VoteError):
    """The battle already has a stored vote."""


def winner_of(choice: str, left: str, right: str) -> str:
    """The winner as stored: the model's name, ``tie`` or ``both_bad``."""
    if choice not in CHOICES:
        raise VoteError(f"choice must be one of {', '.join(CHOICES)}; got {choice!r}")
    return {"left": left, "right": right}.get(choice, choice)


_LeftModel, _RightModel = aliased(Model), aliased(Model)
_PAYLOAD_QUERY = (
    select(Battle.id, Battle.rater_id, _LeftModel.id, _LeftModel.name, _RightModel.id,
           _RightModel.name, Prompt.category, Rater.group, Vote.id)
    .join(_LeftModel, _LeftModel.id == Battle.left_model_id)
    .join(_RightModel, _RightModel.id == Battle.right_model_id)
    .outerjoin(Prompt, Prompt.id == Battle.prompt_id)
    .outerjoin(Rater, Rater.id == Battle.rater_id)
    .outerjoin(Vote, Vote.battle_id == Battle.id)
    .where(Battle.id == bindparam("battle_id"))
)  # built once: a fixed statement skips SQLAlchemy's per-call cache-key work


def payload_for(session: Session, battle_id: int, choice: str, *, source: str = "human",
                rater_id: str | None = None, created_at: datetime | None = None) -> dict:
    """Everything the vote job needs, read in one query where the vote is accepted.

    ``rater_id`` defaults to the rater the battle was issued to.

    Raises
    ------
    VoteError
        For an unknown choice; :class:`NoSuchBattle` and :class:`AlreadyVoted`
        are its subclasses.
    """
    winner_of(choice, "", "")
    # On the session's own connection (its transaction), as a plain Core statement.
    row = session.connection().execute(_PAYLOAD_QUERY, {"battle_id": battle_id}).first()
    if row is None:
        raise NoSuchBattle(f"battle {battle_id} does not exist")
    (_, battle_rater, left_id, left_name, right_id, right_name, category, group,
     vote_id) = row
    if vote_id is not None:
        raise AlreadyVoted(f"battle {battle_id} already has a vote")
    if rater_id is None:
        rater_id = battle_rater
    elif rater_id != battle_rater:
        rater = session.get(Rater, rater_id)
        group = rater.group if rater else None
    return {
        "battle_id": battle_id,
        "choice": choice,
        "winner": winner_of(choice, left_name, right_name),
        "left_model": left_name,
        "right_model": right_name,
        "left_model_id": left_id,
        "right_model_id": right_id,
        "category": category or DEFAULT_CATEGORY,
        "source": source,
        "rater_id": rater_id,
        "rater_group": group or "",
        "created_at": (created_at or utcnow()).isoformat(),
    }


_COUNT_COLUMNS = ("left_wins", "right_wins", "ties", "both_bad")
_COLUMN_OF_CHOICE = dict(zip(CHOICES, _COUNT_COLUMNS))

# Plain SQL that SQLite (3.35+) and PostgreSQL both run: the hot path of the vote
# job, so it is compiled once rather than built from expressions per vote.
_INSERT_VOTE = text(
    "INSERT INTO votes (battle_id, choice, winner, source, rater_id, created_at) "
    "VALUES (:battle_id, :choice, :winner, :source, :rater_id, :created_at) "
    "ON CONFLICT (battle_id) DO NOTHING RETURNING id"
).bindparams(bindparam("created_at", type_=Vote.__table__.c.created_at.type))
_COUNT_VOTE = text(
    "INSERT INTO pair_counts (category, source, rater_group, left_model_id, right_model_id, "
    "left_wins, right_wins, ties, both_bad) VALUES (:category, :source, :rater_group, "
    ":left_model_id, :right_model_id, :left_wins, :right_wins, :ties, :both_bad) "
    "ON CONFLICT (category, source, rater_group, left_model_id, right_model_id) DO UPDATE SET "
    + ", ".join(f"{c} = pair_counts.{c} + excluded.{c}" for c in _COUNT_COLUMNS)
)


def store_in(conn: Connection, payloads: Iterable[dict]) -> int:
    """Store votes on an open connection (inside the caller's transaction).

    Returns how many were new; votes whose battle already has one are skipped
    (the insert's RETURNING is empty) and are not counted again.
    """
    stored = 0
    for p in payloads:
        created = p.get("created_at")
        created = datetime.fromisoformat(created) if isinstance(created, str) else created
        inserted = conn.execute(_INSERT_VOTE, {
            "battle_id": p["battle_id"], "choice": p["choice"], "winner": p["winner"],
            "source": p["source"], "rater_id": p.get("rater_id"),
            "created_at": created or utcnow()}).first()
        if inserted is None:
            continue
        stored += 1
        column = _COLUMN_OF_CHOICE[p["choice"]]
        conn.execute(_COUNT_VOTE, {
            "category": p["category"], "source": p["source"],
            "rater_group": p.get("rater_group") or "", "left_model_id": p["left_model_id"],
            "right_model_id": p["right_model_id"],
            **{c: int(c == column) for c in _COUNT_COLUMNS}})
    return stored


def store(engine: Engine, payloads: Iterable[dict]) -> int:
    """Store votes in one transaction; returns how many were new."""
    with engine.begin() as conn:
        return store_in(conn, payloads)


def enqueue(queue, payload: dict, *, timeout: int = 30, retries: int = 3):
    """Put a vote job on ``queue``.

    The job id names the battle and is enqueued as unique, so a second enqueue
    for the same battle raises :class:`rq.exceptions.DuplicateJobError`.
    """
    return queue.enqueue(STORE_VOTE_JOB, payload, job_id=f"vote-{payload['battle_id']}",
                         unique=True, job_timeout=timeout, result_ttl=0,
                         failure_ttl=30 * 86400,
                         retry=Retry(max=retries, interval=RETRY_INTERVALS[-retries:])
                         if retries else None,
                         description=f"vote on battle {payload['battle_id']}")
