"""Votes: the payload a vote job carries, and storing it exactly once.

The web app (and the judge workers) build a payload with :func:`payload_for`
(a stored battle) or :func:`payload_for_unstored` (a battle the token carries)
and put it on the ``votes`` queue with :func:`enqueue`, which also *claims*
the battle in Redis: exactly one vote per battle is ever accepted while its
token is valid (every other gets :class:`AlreadyVoted` / HTTP 409), whether the
first vote is still queued or long stored. The job
(:func:`workers.ingest.store_vote`) calls :func:`store`, which stores an
unstored battle (``ON CONFLICT (external_key) DO NOTHING``), inserts the vote
with ``ON CONFLICT (battle_id) DO NOTHING`` and, only when the row was new,
adds it to ``pair_counts``, all in one transaction. A job that runs twice
therefore stores one battle and one vote and counts it once.

Live battles (:mod:`arena.live`) take a vote only when their answers are all in
(status "ready": :class:`BattleNotReady` otherwise), and storing it sets their
status "voted". A vote on a battle whose answers gave a model's identity away
(``identity_leak``), or one cast after the names were shown (``after_reveal``,
from imported data), is stored but not added to ``pair_counts``: ratings read
from the counts leave it out; ``arena rate --include-leaked`` reads it from the
votes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from rq import Retry
from rq.exceptions import DuplicateJobError
from rq.utils import now
from sqlalchemy import bindparam, select, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from arena.battles import UnstoredBattle
from arena.db import dialect_insert, shared_alias
from arena.models import CHOICES, Battle, Model, Prompt, Rater, Vote, utcnow

STORE_VOTE_JOB = "workers.ingest.store_vote"
RECOMPUTE_JOB = "workers.recompute.recompute_ratings"
RECOMPUTE_JOB_ID = "recompute-ratings"
VOTE_COUNT_KEY = "arena:votes-counted"  # stored votes, for scheduling recomputes
DEFAULT_CATEGORY = "general"
# Seconds between retries of a failed vote job (the last ones when fewer retries are asked);
# the worker's rq scheduler puts the job back on the queue.
RETRY_INTERVALS = [1, 5, 30]
CLAIM_KEY = "arena:vote-claim:"  # + the vote job's id; set once, never renewed
# A claim outlives the token it was made with by this many seconds, so no request that
# saw a valid token can find the claim gone; and when no token bounds the battle (judge
# votes), it lives this long.
CLAIM_MARGIN_SECONDS = 600
CLAIM_DEFAULT_SECONDS = 7 * 86400


class VoteError(ValueError):
    """A vote that cannot be stored (unknown choice or battle)."""


class NoSuchBattle(VoteError):
    """The battle named by the vote does not exist."""


class AlreadyVoted(VoteError):
    """The battle already has a stored vote."""


class BattleNotReady(VoteError):
    """A live battle whose answers are still streaming (``code`` "not_ready") or that
    failed (``code`` "battle_failed"): it cannot be voted on."""

    def __init__(self, message: str, code: str = "not_ready"):
        super().__init__(message)
        self.code = code


def winner_of(choice: str, left: str, right: str) -> str:
    """The winner as stored: the model's name, ``tie`` or ``both_bad``."""
    if choice not in CHOICES:
        raise VoteError(f"choice must be one of {', '.join(CHOICES)}; got {choice!r}")
    return {"left": left, "right": right}.get(choice, choice)


_LEFT = shared_alias(Model.__table__, "left_model")
_RIGHT = shared_alias(Model.__table__, "right_model")
_BATTLE_RATER = shared_alias(Rater.__table__, "battle_rater")
_VOTER = shared_alias(Rater.__table__, "voter")
_PAYLOAD_QUERY = (
    select(
        Battle.id,
        Battle.rater_id,
        _LEFT.c.id,
        _LEFT.c.name,
        _RIGHT.c.id,
        _RIGHT.c.name,
        Prompt.category,
        _BATTLE_RATER.c.group,
        _VOTER.c.group,
        Vote.id,
        Battle.status,
        Battle.identity_leak,
    )
    .join(_LEFT, _LEFT.c.id == Battle.left_model_id)
    .join(_RIGHT, _RIGHT.c.id == Battle.right_model_id)
    .outerjoin(Prompt, Prompt.id == Battle.prompt_id)
    .outerjoin(_BATTLE_RATER, _BATTLE_RATER.c.id == Battle.rater_id)
    .outerjoin(_VOTER, _VOTER.c.id == bindparam("rater_id", type_=Rater.__table__.c.id.type))
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
        For an unknown choice; :class:`NoSuchBattle`, :class:`AlreadyVoted` and
        :class:`BattleNotReady` (a live battle still streaming, or failed) are its
        subclasses.
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
        status,
        identity_leak,
    ) = row
    if vote_id is not None or status == "voted":
        raise AlreadyVoted(f"battle {battle_id} already has a vote")
    if status == "failed":
        raise BattleNotReady(f"battle {battle_id} failed: it cannot be voted on", "battle_failed")
    if status is not None and status != "ready":
        raise BattleNotReady(f"battle {battle_id} is still answering: vote when it is done")
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
        "identity_leak": bool(identity_leak),
        "live": status is not None,
    }


_UNSTORED_QUERY = (
    select(
        Prompt.category,
        _LEFT.c.name,
        _RIGHT.c.name,
        _VOTER.c.group,
        Vote.id,
    )
    .select_from(Prompt)
    .join(_LEFT, _LEFT.c.id == bindparam("left_id"))
    .join(_RIGHT, _RIGHT.c.id == bindparam("right_id"))
    .outerjoin(_VOTER, _VOTER.c.id == bindparam("rater_id", type_=Rater.__table__.c.id.type))
    .outerjoin(Battle, Battle.external_key == bindparam("key"))
    .outerjoin(Vote, Vote.battle_id == Battle.id)
    .where(Prompt.id == bindparam("prompt_id"))
)


def payload_for_unstored(
    db: Session | Connection,
    battle: UnstoredBattle,
    choice: str,
    *,
    source: str = "human",
    rater_id: str | None = None,
    created_at: datetime | None = None,
) -> dict:
    """The vote job's payload for a battle its token carries (read in ONE query).

    Like :func:`payload_for`, with ``battle_id`` None and the battle to store
    under ``"battle"``. ``rater_id`` (the voter) defaults to the rater the
    battle was drawn for.

    Raises
    ------
    VoteError
        For an unknown choice; :class:`NoSuchBattle` when the prompt or a model
        is gone; :class:`AlreadyVoted` when the battle is stored with a vote.
    """
    winner_of(choice, "", "")
    conn = db if isinstance(db, Connection) else db.connection()
    rater_id = rater_id or battle.rater_id
    row = conn.execute(
        _UNSTORED_QUERY,
        {
            "prompt_id": battle.prompt_id,
            "left_id": battle.left_model_id,
            "right_id": battle.right_model_id,
            "rater_id": rater_id,
            "key": battle.external_key,
        },
    ).first()
    if row is None:
        raise NoSuchBattle("the battle's prompt or models no longer exist")
    category, left_name, right_name, group, vote_id = row
    if vote_id is not None:
        raise AlreadyVoted("this battle already has a vote")
    return {
        "battle_id": None,
        "battle": {
            "external_key": battle.external_key,
            "prompt_id": battle.prompt_id,
            "left_model_id": battle.left_model_id,
            "right_model_id": battle.right_model_id,
            "rater_id": battle.rater_id,
            "origin": battle.origin,
            "sampler": battle.sampler,
            "issued_at": battle.issued_at.isoformat(),
        },
        "choice": choice,
        "winner": winner_of(choice, left_name, right_name),
        "left_model": left_name,
        "right_model": right_name,
        "left_model_id": battle.left_model_id,
        "right_model_id": battle.right_model_id,
        "category": category or DEFAULT_CATEGORY,
        "source": source,
        "rater_id": rater_id,
        "rater_group": group or "",
        "created_at": (created_at or utcnow()).isoformat(),
    }


def vote_key(payload: dict) -> str:
    """The battle's name in its vote job id: the id if stored, else origin and token key."""
    if payload.get("battle_id") is not None:
        return str(payload["battle_id"])
    origin, key = payload["battle"]["external_key"].split(":", 1)
    return f"{origin}-{key}"


def _store_battles(conn: Connection, payloads: list[dict]) -> list[dict]:
    """Store the unstored battles of ``payloads``; return the payloads with battle ids.

    A battle already stored (its job ran before) is found by its external key.
    The raters named (drawn for, voting) are inserted when new.
    """
    unstored = {
        p["battle"]["external_key"]: p["battle"] for p in payloads if p["battle_id"] is None
    }
    if not unstored:
        return payloads
    raters = {b["rater_id"] for b in unstored.values()} | {p.get("rater_id") for p in payloads}
    raters.discard(None)
    insert = dialect_insert(conn)
    if raters:
        conn.execute(
            insert(Rater.__table__).on_conflict_do_nothing(index_elements=["id"]),
            [{"id": r, "created_at": utcnow()} for r in sorted(raters)],
        )
    conn.execute(
        insert(Battle.__table__).on_conflict_do_nothing(index_elements=["external_key"]),
        [
            {**b, "issued_at": datetime.fromisoformat(b["issued_at"]).astimezone(UTC)}
            for b in unstored.values()
        ],
    )
    table = Battle.__table__
    ids = dict(
        conn.execute(
            select(table.c.external_key, table.c.id).where(table.c.external_key.in_(list(unstored)))
        ).all()
    )
    return [
        p if p["battle_id"] is not None else {**p, "battle_id": ids[p["battle"]["external_key"]]}
        for p in payloads
    ]


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
_MARK_VOTED = text(
    "UPDATE battles SET status = 'voted' WHERE id = :battle_id AND status IS NOT NULL"
)  # live battles only: other battles keep status NULL


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
    on one battle in ``payloads`` only the first counts. Battles that are not
    stored yet (``battle_id`` None, the battle under ``"battle"``) are stored
    first, in one multi-row insert. All votes go in one multi-row insert, and
    the new ones are added to ``pair_counts`` with one upsert per scope and pair,
    except those with ``identity_leak`` or ``after_reveal`` set (stored, not
    counted). Live battles among them get status "voted".
    """
    payloads = list(payloads)
    if any(p.get("battle_id") is None for p in payloads):
        payloads = _store_battles(conn, payloads)
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
                "after_reveal": bool(p.get("after_reveal")),
            }
        )
    new = set(conn.execute(_insert_votes_for(conn), rows).scalars())
    live = sorted(b for b in new if first[b].get("live"))
    if live:
        conn.execute(_MARK_VOTED, [{"battle_id": b} for b in live])
    counts: dict[tuple, dict[str, int]] = {}
    for battle_id in new:
        p = first[battle_id]
        if p.get("identity_leak") or p.get("after_reveal"):
            continue  # stored, not counted: default ratings leave it out
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


# The battle's claim (SET NX with an expiry: refused when the battle was claimed before,
# whether its job is still queued or long done), then rq 3's unique enqueue
# (``Queue.enqueue(..., unique=True)``: refuse an existing job id, save the job hash, push
# the id on the queue) and the queue's entry in rq's set of queues, which rq writes in a
# second round trip, all in one atomic step.
_ENQUEUE_SCRIPT = """
if not redis.call('SET', KEYS[4], '1', 'NX', 'EX', ARGV[3]) then return 0 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
return 1
"""


def claim_seconds(expires_at: datetime | None) -> int:
    """How long a vote's claim lives: past its token's expiry by a margin."""
    if expires_at is None:
        return CLAIM_DEFAULT_SECONDS
    left = (expires_at - datetime.now(UTC)).total_seconds()
    return max(1, int(left) + 1) + CLAIM_MARGIN_SECONDS


def enqueue(
    queue, payload: dict, *, timeout: int = 30, retries: int = 3, claim_for: int | None = None
):
    """Claim the battle and put its vote job on ``queue``, in one Redis round trip.

    The job is rq's own (built by ``Queue.create_job``, saved in rq's format,
    pushed where rq pushes it); its id names the battle and is unique. The
    claim (``arena:vote-claim:<job id>``) lives ``claim_for`` seconds (see
    :func:`claim_seconds`; default :data:`CLAIM_DEFAULT_SECONDS`) and outlives
    the job, so once a vote is accepted every later one for the battle raises
    :class:`rq.exceptions.DuplicateJobError`, also after the job is done.
    """
    job = queue.create_job(
        STORE_VOTE_JOB,
        args=(payload,),
        job_id=f"vote-{vote_key(payload)}",
        timeout=timeout,
        result_ttl=0,
        failure_ttl=30 * 86400,
        retry=Retry(max=retries, interval=RETRY_INTERVALS[-retries:]) if retries else None,
        description=f"vote on battle {vote_key(payload)}",
    )
    job.enqueued_at = now()
    fields = []
    for key, value in job.to_dict().items():
        # rq reads an absent field as it reads an empty one (no callback, not started).
        if value is not None and value != "":
            fields += (key, value if isinstance(value, (bytes, str)) else str(value))
    claim = CLAIM_DEFAULT_SECONDS if claim_for is None else max(1, int(claim_for))
    added = queue.connection.register_script(_ENQUEUE_SCRIPT)(
        keys=[job.key, queue.key, queue.redis_queues_keys, CLAIM_KEY + job.id],
        args=[job.id, queue.key, claim, *fields],
    )
    if not added:
        raise DuplicateJobError(f"Job with ID '{job.id}' already exists")
    return job
