"""Live battles as the rater may see them: the view (no model names before the vote) and,
once the battle has a vote, the reveal (names and speeds).

:func:`view` reads a stored battle, :func:`started_view` builds the same view of a battle
:func:`arena.live.begin` just stored without reading it back, and :func:`reveal` names the
models. Starting, follow-ups and regenerates are in :mod:`arena.live`.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from arena.live import LiveError, Started, current_messages, has_vote, live_battle, vote_claimed
from arena.models import Battle, BattleMessage, Model, Prompt


def _side(m: BattleMessage | None) -> dict:
    if m is None:
        return {
            "text": "",
            "status": "streaming",
            "error": None,
            "attempt": 0,
            "finish_reason": None,
        }
    return {
        "text": m.text,
        "status": m.status,
        "error": m.error,
        "attempt": m.attempt,
        "finish_reason": m.finish_reason,
    }


def _voted(session: Session, battle: Battle, redis) -> bool:
    """Stored as voted, or (with ``redis``) a vote accepted and still in the queue."""
    if battle.status == "voted" or has_vote(session, battle.id):
        return True
    return redis is not None and vote_claimed(redis, battle.id)


def view(session: Session, battle_id: int, settings=None, redis=None) -> dict:
    """A live battle as the rater may see it: the conversation, no model names.

    ``max_turns`` comes from ``settings`` when given, else the default. With ``redis``
    a vote accepted but not stored yet counts as the vote (status "voted"). Raises
    :class:`LiveError` ``no_battle`` for an unknown (or not live) battle.
    """
    from arena.config import LiveSettings

    battle = live_battle(session, battle_id)
    messages = current_messages(session, battle_id)
    voted = _voted(session, battle, redis)
    max_turns = (settings.live if settings is not None else LiveSettings()).max_turns
    prompt = session.get(Prompt, battle.prompt_id) if battle.prompt_id else None
    turns = []
    for turn in range(1, battle.turns + 1):
        user = messages.get((turn, "user"))
        turns.append(
            {
                "turn": turn,
                "user": user.text if user else "",
                "left": _side(messages.get((turn, "left"))),
                "right": _side(messages.get((turn, "right"))),
            }
        )
    status = "voted" if voted else battle.status
    return {
        "battle_id": battle.id,
        "status": status,
        "turns": turns,
        "failure": battle.failure,
        "max_turns": max_turns,
        "can_vote": status == "ready",
        "can_continue": status == "ready" and battle.turns < max_turns,
        "identity_leak": bool(battle.identity_leak),
        "category": prompt.category if prompt else None,
    }


def started_view(started: Started, settings=None) -> dict:
    """:func:`view` of a battle :func:`begin` just stored, built without reading it back:
    turn 1 with the rater's text, both answers "streaming", no vote."""
    from arena.config import LiveSettings

    max_turns = (settings.live if settings is not None else LiveSettings()).max_turns
    return {
        "battle_id": started.battle_id,
        "status": "open",
        "turns": [{"turn": 1, "user": started.text, "left": _side(None), "right": _side(None)}],
        "failure": None,
        "max_turns": max_turns,
        "can_vote": False,
        "can_continue": False,
        "identity_leak": False,
        "category": started.category,
    }


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return round(sum(kept) / len(kept), 1) if kept else None


def reveal(session: Session, battle_id: int, redis=None) -> dict:
    """The models' names and speeds, once the battle has a vote.

    Per side: ``model``, and the mean ``ttft_ms`` and ``tokens_per_second`` of its
    answers that count. With ``redis`` a vote accepted but still in the queue counts
    as the vote. Raises :class:`LiveError` ``not_voted`` before the vote.
    """
    battle = live_battle(session, battle_id)
    if not _voted(session, battle, redis):
        raise LiveError("not_voted", "the models are named after the vote")
    names = dict(
        session.execute(
            select(Model.id, Model.name).where(
                Model.id.in_([battle.left_model_id, battle.right_model_id])
            )
        ).all()
    )
    answers = current_messages(session, battle_id)
    out: dict = {"identity_leak": bool(battle.identity_leak)}
    for side, model_id in (("left", battle.left_model_id), ("right", battle.right_model_id)):
        mine = [m for (_, s), m in answers.items() if s == side and m.status == "done"]
        out[side] = {
            "model": names[model_id],
            "ttft_ms": _mean([m.ttft_ms for m in mine]),
            "tokens_per_second": _mean([m.tokens_per_second for m in mine]),
        }
    return out
