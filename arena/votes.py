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
from rq.exceptions import DuplicateJobError
from rq.utils import now
from sqlalchemy import bindparam, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session

from arena.db import dialect_insert
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
_BattleRater, _Voter = aliased(Rater), aliased(Rater)
_PAYLOAD_QUERY = (
    select(
        Battle.id,
        Battle.rater_id,
        _LeftModel.id,
        _LeftModel.name,
        _RightModel.id,
        _RightModel.name,
        Prompt.category,
        _BattleRater.group,
        _Voter.group,
        Vote.id,
    )
    .join(_LeftModel, _LeftModel.id == Battle.left_model_id)
    .join(_RightModel, _RightModel.id == Battle.right_model_id)
    .outerjoin(Prompt, Prompt.id == Battle.prompt_id)
    .outerjoin(_BattleRater, _BattleRater.id == Battle.rater_id)
    .outerjoin(_Voter, _Voter.id == bindparam("rater_id", type_=Rater.__table__.c.id.type))
    .outerjoin(Vote, Vote.battle_id == Battle.id)
    .where(Battle.id == bindparam("battle_id"))
)  # built once: a fixed statement skips SQLAlchemy's per-call cache-key work


def payload_for(
    db: Session | Connection,
    battle_id: int,
    choice: str,
    *,
    source: str = "human",
    rater_id: str | None = None,
    created_at: datetime | None = None,
) -> dict:
    """Everything the vote job needs, read in ONE query where the vote is accepted.

    ``db`` is a session (the query runs on its connection, in its transaction) or
    a plain connection. ``rater_id`` defaults to the rater the battle was issued
    to; the rater group is that of whoever the vote is counted for.

    Raises
    ------
    VoteError
        For an unknown choice; :class:`NoSuchBattle` and :class:`AlreadyVoted`
        are its subclasses.
    """
    winner_of(choice, "", "")
    conn = db if isinstance(db, Connection) else db.connection()
    row = conn.execute(_PAYLOAD_QUERY, {"battle_id": battle_id, "rater_id": rater_id}).first()
    if row is None:
        raise NoSuchBattle(f"battle {battle_id} does not exist")
    (
        _,
        battle_rater,
        left_id,
        left_name,
        right_id,
        right_name,
        category,
        group,
        voter_group,
        vote_id,
    ) = row
    if vote_id is not None:
        raise AlreadyVoted(f"battle {battle_id} already has a vote")
    if rater_id is None:
        rater_id = battle_rater
    elif rater_id != battle_rater:
        group = voter_group
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

_COUNT_VOTES = text(
    "INSERT INTO pair_counts (category, source, rater_group, left_model_id, right_model_id, "
    "left_wins, right_wins, ties, both_bad) VALUES (:category, :source, :rater_group, "
    ":left_model_id, :right_model_id, :left_wins, :right_wins, :ties, :both_bad) "
    "ON CONFLICT (category, source, rater_group, left_model_id, right_model_id) DO UPDATE SET "
    + ", ".join(f"{c} = pair_counts.{c} + excluded.{c}" for c in _COUNT_COLUMNS)
)  # plain SQL that SQLite (3.35+) and PostgreSQL both run, compiled once
_insert_votes: dict[str, object] = {}


def _insert_votes_for(conn: Connection):
    """``INSERT INTO votes ... ON CONFLICT (battle_id) DO NOTHING RETURNING battle_id``.

    Built once per dialect; run with many rows, SQLAlchemy sends them as multi-row
    INSERTs ("insertmanyvalues") and returns the battle ids of the rows inserted.
    """
    name = conn.dialect.name
    if name not in _insert_votes:
        table = Vote.__table__
        _insert_votes[name] = (
            dialect_insert(conn)(table)
            .on_conflict_do_nothing(index_elements=["battle_id"])
            .returning(table.c.battle_id)
        )
    return _insert_votes[name]


def store_in(conn: Connection, payloads: Iterable[dict]) -> int:
    """Store votes on an open connection (inside the caller's transaction).

    Returns how many were new. A vote whose battle already has one is skipped
    (the insert returns nothing for it) and not counted again; of several votes
    on one battle in ``payloads`` only the first counts. All votes go in one
    multi-row insert, and the new ones are added to ``pair_counts`` with one
    upsert per scope and pair.
    """
    first: dict[int, dict] = {}
    for p in payloads:
        first.setdefault(p["battle_id"], p)
    if not first:
        return 0
    rows = []
    for p in first.values():
        created = p.get("created_at")
        created = datetime.fromisoformat(created) if isinstance(created, str) else created
        rows.append(
            {
                "battle_id": p["battle_id"],
                "choice": p["choice"],
                "winner": p["winner"],
                "source": p["source"],
                "rater_id": p.get("rater_id"),
                "created_at": created or utcnow(),
            }
        )
    new = set(conn.execute(_insert_votes_for(conn), rows).scalars())
    counts: dict[tuple, dict[str, int]] = {}
    for battle_id in new:
        p = first[battle_id]
        key = (
            p["category"],
            p["source"],
            p.get("rater_group") or "",
            p["left_model_id"],
            p["right_model_id"],
        )
        row = counts.setdefault(key, dict.fromkeys(_COUNT_COLUMNS, 0))
        row[_COLUMN_OF_CHOICE[p["choice"]]] += 1
    if counts:
        names = ("category", "source", "rater_group", "left_model_id", "right_model_id")
        conn.execute(_COUNT_VOTES, [dict(zip(names, key), **row) for key, row in counts.items()])
    return len(new)


def store(engine: Engine, payloads: Iterable[dict]) -> int:
    """Store votes in one transaction; returns how many were new."""
    with engine.begin() as conn:
        return store_in(conn, payloads)


# rq 3's unique enqueue (``Queue.enqueue(..., unique=True)``: refuse an existing job id,
# save the job hash, push the id on the queue) and the queue's entry in rq's set of
# queues, which rq writes in a second round trip, done in one atomic step.
_ENQUEUE_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
return 1
"""


def enqueue(queue, payload: dict, *, timeout: int = 30, retries: int = 3):
    """Put a vote job on ``queue`` in one Redis round trip, and return it.

    The job is rq's own (built by ``Queue.create_job``, saved in rq's format,
    pushed where rq pushes it); its id names the battle and is unique, so a
    second enqueue for the same battle raises
    :class:`rq.exceptions.DuplicateJobError`.
    """
    job = queue.create_job(
        STORE_VOTE_JOB,
        args=(payload,),
        job_id=f"vote-{payload['battle_id']}",
        timeout=timeout,
        result_ttl=0,
        failure_ttl=30 * 86400,
        retry=Retry(max=retries, interval=RETRY_INTERVALS[-retries:]) if retries else None,
        description=f"vote on battle {payload['battle_id']}",
    )
    job.enqueued_at = now()
    fields = []
    for key, value in job.to_dict().items():
        # rq reads an absent field as it reads an empty one (no callback, not started).
        if value is not None and value != "":
            fields += (key, value if isinstance(value, (bytes, str)) else str(value))
    added = queue.connection.register_script(_ENQUEUE_SCRIPT)(
        keys=[job.key, queue.key, queue.redis_queues_keys], args=[job.id, queue.key, *fields]
    )
    if not added:
        raise DuplicateJobError(f"Job with ID '{job.id}' already exists")
    return job
