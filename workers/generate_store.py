"""What the generation worker reads from and writes to the database (plain, blocking calls).

:mod:`workers.generate` runs these in threads (``asyncio.to_thread``), so the
event loop that holds the streams never waits on the database:

* :func:`read_turn` then :func:`job_of`: the answer row one request fills, the model
  that answers, and the conversation to send (that side's own history: earlier turns'
  user messages and that side's answers that count, then this turn's message); the
  read (:func:`read_turn`) serves both sides of a turn, :func:`job_of` picks one side
  from it without the database;
* :func:`finish_answer`: the final row (text, finish reason, token counts, time
  to first token, latency, speed, the exact settings, the style counts, or the
  error), and the battle's ``identity_leak`` flag, in one transaction;
* :func:`finish_turn`: once both sides of a turn are finished, the battle's
  status ("ready", or "failed" with the reasons) with a conditional UPDATE that
  only moves an "open" battle.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from arena import live
from arena.db import shared_alias
from arena.live import SIDES
from arena.models import Battle, BattleMessage, Model
from arena.style_store import style_columns
from workers.chat_stream import Outcome


@dataclass(frozen=True)
class Job:
    """One answer to generate, as the database describes it."""

    battle_id: int
    turn: int
    attempt: int
    side: str
    message_id: int
    status: str  # of the answer row: "streaming" until it is finished
    model: str  # the answering model's name in Arena
    models: tuple[str, str]  # both sides' model names (left, right)
    conversation: tuple[tuple[str, str], ...]  # (role, text): user / assistant, oldest first


_LEFT = shared_alias(Model.__table__, "left_model")
_RIGHT = shared_alias(Model.__table__, "right_model")


def warm(engine: Engine) -> None:
    """Compile :func:`read_turn`'s queries once, in one thread, before requests come.

    The worker reads battles in several threads at once. Compiling the join of the two model
    aliases for the first time in two threads at once once failed in one of them with
    SQLAlchemy's "Can't determine which FROM clause to join from" (SQLAlchemy 2.1.9, a
    fresh-clone CI run of 2026-12-02, the demo's first battle), and both sides failed. The
    cause, the aliases' columns built lazily by whichever thread came first, is gone since
    the aliases are made with :func:`arena.db.shared_alias`; compiling here still takes the
    first compile off the first battle's time to first token (the statement then comes from
    the engine's cache). A database that does not answer yet is no error here: the first
    request reads it as before.
    """
    with contextlib.suppress(SQLAlchemyError):
        read_turn(engine, 0, 1)


@dataclass(frozen=True)
class TurnRows:
    """What :func:`read_turn` read: a battle's models and its messages up to a turn (both
    sides' requests of a turn are answered from one such read)."""

    battle_id: int
    models: tuple[str, str]  # (left, right) names
    rows: tuple  # (id, turn, side, attempt, status, text), ordered by turn, side, attempt


def read_turn(engine: Engine, battle_id: int, turn: int) -> TurnRows | None:
    """The battle's models and its messages up to ``turn``; None when it does not exist.

    Two queries: the battle with its models' names, and the battle's messages.
    """
    with engine.connect() as conn:
        battle = conn.execute(
            select(Battle.turns, _LEFT.c.name, _RIGHT.c.name)
            .join(_LEFT, _LEFT.c.id == Battle.left_model_id)
            .join(_RIGHT, _RIGHT.c.id == Battle.right_model_id)
            .where(Battle.id == battle_id)
        ).first()
        if battle is None:
            return None
        t = BattleMessage.__table__
        rows = conn.execute(
            select(t.c.id, t.c.turn, t.c.side, t.c.attempt, t.c.status, t.c.text)
            .where(t.c.battle_id == battle_id, t.c.turn <= turn)
            .order_by(t.c.turn, t.c.side, t.c.attempt)
        ).all()
    _, left, right = battle
    return TurnRows(battle_id, (left, right), tuple(rows))


def job_of(read: TurnRows | None, turn: int, attempt: int, side: str) -> Job | None:
    """The job of one request from :func:`read_turn`'s read, or None when its battle or
    answer row does not exist."""
    if read is None or side not in SIDES:
        return None
    rows = read.rows
    row = next((r for r in rows if (r.turn, r.side, r.attempt) == (turn, side, attempt)), None)
    if row is None:
        return None
    counted = {(r.turn, r.side): r for r in rows}  # the highest attempt of each turn and side
    left, right = read.models
    return Job(
        battle_id=read.battle_id,
        turn=turn,
        attempt=attempt,
        side=side,
        message_id=row.id,
        status=row.status,
        model=left if side == "left" else right,
        models=read.models,
        conversation=live.conversation(counted, side, turn),
    )


def finish_answer(engine: Engine, job: Job, outcome: Outcome) -> None:
    """Store the final answer row (and a leak on the battle) in one transaction."""
    values = {
        "text": outcome.text,
        "status": outcome.status,
        "error": outcome.error,
        "finish_reason": outcome.finish_reason,
        "prompt_tokens": outcome.prompt_tokens,
        "completion_tokens": outcome.completion_tokens,
        "ttft_ms": outcome.ttft_ms,
        "latency_ms": outcome.latency_ms,
        "tokens_per_second": outcome.tokens_per_second,
        "finished_at": datetime.now(UTC),
    }
    if outcome.settings is not None:
        values["settings"] = outcome.settings
    if outcome.status == "done":
        values.update(style_columns(outcome.text))
    with engine.begin() as conn:
        conn.execute(
            update(BattleMessage.__table__)
            .where(BattleMessage.__table__.c.id == job.message_id)
            .values(**values)
        )
        if outcome.identity_leak:
            conn.execute(
                update(Battle.__table__)
                .where(Battle.__table__.c.id == job.battle_id)
                .values(identity_leak=True)
            )


def finish_turn(engine: Engine, battle_id: int, turn: int, attempt: int) -> dict | None:
    """Set the battle's status once both answers of the turn are finished.

    Returns ``{"status", "identity_leak", "failure"}`` as stored, or None when an
    answer of the turn is still streaming or the turn is no longer the battle's last
    (a later turn or attempt was asked for). Only an "open" battle moves: a battle
    voted on meanwhile keeps "voted".
    """
    table = BattleMessage.__table__
    with engine.begin() as conn:
        rows = conn.execute(
            select(
                table.c.side, table.c.status, table.c.error, table.c.turn, table.c.attempt
            ).where(
                table.c.battle_id == battle_id,
                table.c.turn >= turn,
                table.c.side.in_(SIDES),
            )
        ).all()
        newer = [r for r in rows if (r.turn, r.attempt) > (turn, attempt)]
        rows = [r for r in rows if (r.turn, r.attempt) == (turn, attempt)]
        if newer or len(rows) != 2 or any(r.status == "streaming" for r in rows):
            return None
        errors = sorted((r.side, r.error or "failed") for r in rows if r.status == "error")
        status = "failed" if errors else "ready"
        failure = "; ".join(f"{side}: {error}" for side, error in errors) or None
        battles = Battle.__table__
        conn.execute(
            update(battles)
            .where(battles.c.id == battle_id, battles.c.status == "open")
            .values(status=status, failure=failure)
        )
        stored = conn.execute(
            select(battles.c.status, battles.c.identity_leak, battles.c.failure).where(
                battles.c.id == battle_id
            )
        ).one()
    return {
        "status": stored.status,
        "identity_leak": bool(stored.identity_leak),
        "failure": stored.failure,
    }


def fail_answer(engine: Engine, job: Job, reason: str) -> None:
    """Mark an answer row that never got going as an error (text kept as is)."""
    with engine.begin() as conn:
        conn.execute(
            update(BattleMessage.__table__)
            .where(
                BattleMessage.__table__.c.id == job.message_id,
                BattleMessage.__table__.c.status == "streaming",
            )
            .values(status="error", error=reason, finished_at=datetime.now(UTC))
        )
