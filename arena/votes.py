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
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from arena.models import CHOICES, Battle, Model, PairCount, Prompt, Rater, Vote, utcnow

STORE_VOTE_JOB = "workers.ingest.store_vote"
RECOMPUTE_JOB = "workers.recompute.recompute_ratings"
RECOMPUTE_JOB_ID = "recompute-ratings"
SINCE_RECOMPUTE_KEY = "arena:votes-since-recompute"
DEFAULT_CATEGORY = "general"


class VoteError(ValueError):
    """A vote that cannot be stored (unknown choice or battle)."""


def winner_of(choice: str, left: str, right: str) -> str:
    """The winner as stored: the model's name, ``tie`` or ``both_bad``."""
    if choice not in CHOICES:
        raise VoteError(f"choice must be one of {', '.join(CHOICES)}; got {choice!r}")
    return {"left": left, "right": right}.get(choice, choice)


def payload_for(session: Session, battle_id: int, choice: str, *, source: str = "human",
                rater_id: str | None = None, created_at: datetime | None = None) -> dict:
    """Everything the vote job needs, read once where the vote is accepted."""
    if choice not in CHOICES:
        raise VoteError(f"choice must be one of {', '.join(CHOICES)}; got {choice!r}")
    battle = session.get(Battle, battle_id)
    if battle is None:
        raise VoteError(f"battle {battle_id} does not exist")
    left = session.get(Model, battle.left_model_id)
    right = session.get(Model, battle.right_model_id)
    prompt = session.get(Prompt, battle.prompt_id) if battle.prompt_id else None
    rater_id = rater_id if rater_id is not None else battle.rater_id
    rater = session.get(Rater, rater_id) if rater_id else None
    return {
        "battle_id": battle.id,
        "choice": choice,
        "winner": winner_of(choice, left.name, right.name),
        "left_model": left.name,
        "right_model": right.name,
        "left_model_id": left.id,
        "right_model_id": right.id,
        "category": prompt.category if prompt else DEFAULT_CATEGORY,
        "source": source,
        "rater_id": rater_id,
        "rater_group": (rater.group or "") if rater else "",
        "created_at": (created_at or utcnow()).isoformat(),
    }


def _insert(conn: Connection):
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _count_increments(choice: str) -> dict[str, int]:
    column = {"left": "left_wins", "right": "right_wins", "tie": "ties",
              "both_bad": "both_bad"}[choice]
    return {name: int(name == column) for name in ("left_wins", "right_wins", "ties", "both_bad")}


def store_in(conn: Connection, payloads: Iterable[dict]) -> int:
    """Store votes on an open connection (inside the caller's transaction).

    Returns how many were new; votes whose battle already has one are skipped.
    """
    insert = _insert(conn)
    stored = 0
    for p in payloads:
        created = p.get("created_at")
        created = datetime.fromisoformat(created) if isinstance(created, str) else created
        result = conn.execute(
            insert(Vote).values(battle_id=p["battle_id"], choice=p["choice"], winner=p["winner"],
                                source=p["source"], rater_id=p.get("rater_id"),
                                created_at=created or utcnow())
            .on_conflict_do_nothing(index_elements=["battle_id"]).returning(Vote.id))
        if result.first() is None:  # RETURNING is empty when the battle already had a vote
            continue
        stored += 1
        inc = _count_increments(p["choice"])
        stmt = insert(PairCount).values(
            category=p["category"], source=p["source"], rater_group=p.get("rater_group") or "",
            left_model_id=p["left_model_id"], right_model_id=p["right_model_id"], **inc)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=["category", "source", "rater_group", "left_model_id",
                            "right_model_id"],
            set_={name: getattr(PairCount, name) + stmt.excluded[name] for name in inc}))
    return stored


def store(engine: Engine, payloads: Iterable[dict]) -> int:
    """Store votes in one transaction; returns how many were new."""
    with engine.begin() as conn:
        return store_in(conn, payloads)


def exists(session: Session, battle_id: int) -> bool:
    return session.execute(select(Vote.id).where(Vote.battle_id == battle_id)).first() is not None


def enqueue(queue, payload: dict, *, timeout: int = 30, retries: int = 3):
    """Put a vote job on ``queue``.

    The job id names the battle and is enqueued as unique, so a second enqueue
    for the same battle raises :class:`rq.exceptions.DuplicateJobError`.
    """
    return queue.enqueue(STORE_VOTE_JOB, payload, job_id=f"vote-{payload['battle_id']}",
                         unique=True, job_timeout=timeout, result_ttl=60,
                         failure_ttl=30 * 86400,
                         retry=Retry(max=retries, interval=[1, 5, 30]) if retries else None,
                         description=f"vote on battle {payload['battle_id']}")
