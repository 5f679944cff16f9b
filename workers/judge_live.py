"""Judge replays of live battles: a judge votes on a stored live conversation.

``arena judge run --live`` picks finished live battles (status "ready" or
"voted", oldest first) that the judge has not replayed yet
(:func:`live_battles_to_judge`) and enqueues one judge job per battle
(:func:`enqueue_live_jobs`). A live battle keeps at most one vote (the rater's),
so the job stores a *replay*: a battle of origin ``judge:NAME`` with the same
prompt, the same models in the same positions, the conversation's answers that
count (the highest attempt of each turn) copied as its messages, its
``identity_leak`` flag (a leaked answer biases a judge as it does a rater: the
vote is left out of ratings the same way), and ``external_key``
``judge:NAME:live:<live battle id>``, so a retried or repeated job finds its
replay instead of making a second one.

The judge then sees every turn (:func:`conversation_view`): formats with a
multi-turn template (MT-bench: two turns) judge the whole conversation, the
others record a refusal and make no vote, as for any battle of several turns.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from arena.live import ORIGIN, SIDES, current_messages
from arena.models import Battle, BattleMessage, Model, Prompt
from workers.judge_config import JudgeSettings

REPLAY_SAMPLER = "live-replay"
FINISHED = ("ready", "voted")


class NotReplayable(LookupError):
    """The named battle is not a finished live battle."""


def replay_key(judge: JudgeSettings, live_battle_id: int) -> str:
    return f"{judge.source}:live:{live_battle_id}"


def live_battles_to_judge(
    session: Session, judge: JudgeSettings, n: int, category: str | None = None
) -> list[int]:
    """Up to ``n`` finished live battles (oldest first) not yet replayed to ``judge``."""
    prefix = f"{judge.source}:live:"
    done = {
        int(key[len(prefix) :])
        for key in session.execute(
            select(Battle.external_key).where(Battle.external_key.startswith(prefix))
        ).scalars()
    }
    query = select(Battle.id).where(Battle.origin == ORIGIN, Battle.status.in_(FINISHED))
    if category:
        query = query.join(Prompt, Prompt.id == Battle.prompt_id).where(Prompt.category == category)
    out = []
    for (battle_id,) in session.execute(query.order_by(Battle.id)):
        if battle_id not in done:
            out.append(battle_id)
            if len(out) == n:
                break
    return out


def enqueue_live_jobs(queue, judge: JudgeSettings, battle_ids: list[int]) -> list:
    """One judge job per live battle in ``battle_ids``; returns the jobs."""
    from workers.judge import job_spec

    specs = [
        job_spec(
            queue,
            judge,
            None,
            live_battle=battle_id,
            description=f"judge {judge.name} replays live battle {battle_id}",
        )
        for battle_id in battle_ids
    ]
    return queue.enqueue_many(specs)


def replay(engine, judge: JudgeSettings, live_battle_id: int):
    """The judge's replay of a live battle: the stored one, else a new one.

    Returns ``(BattleView, fresh)`` like :func:`workers.judge.draw_or_reuse`.

    Raises
    ------
    NotReplayable
        When ``live_battle_id`` names no finished live battle.
    """
    key = replay_key(judge, live_battle_id)
    with Session(engine) as s:
        battle = s.execute(select(Battle).where(Battle.external_key == key)).scalar_one_or_none()
        fresh = False
        if battle is None:
            source = s.get(Battle, live_battle_id)
            if source is None or source.origin != ORIGIN or source.status not in FINISHED:
                raise NotReplayable(f"battle {live_battle_id} is no finished live battle")
            battle = Battle(
                prompt_id=source.prompt_id,
                left_model_id=source.left_model_id,
                right_model_id=source.right_model_id,
                origin=judge.source,
                sampler=REPLAY_SAMPLER,
                external_key=key,
                identity_leak=source.identity_leak,
                turns=source.turns,
            )
            s.add(battle)
            s.flush()
            for (turn, side), m in sorted(current_messages(s, live_battle_id).items()):
                s.add(
                    BattleMessage(
                        battle_id=battle.id,
                        turn=turn,
                        side=side,
                        text=m.text,
                        status=m.status,
                        finish_reason=m.finish_reason,
                        prompt_tokens=m.prompt_tokens,
                        completion_tokens=m.completion_tokens,
                        ttft_ms=m.ttft_ms,
                        latency_ms=m.latency_ms,
                        tokens_per_second=m.tokens_per_second,
                        settings=m.settings,
                        created_at=m.created_at,
                        finished_at=m.finished_at,
                        style_tokens=m.style_tokens,
                        style_headers=m.style_headers,
                        style_lists=m.style_lists,
                        style_bold=m.style_bold,
                    )
                )
            try:
                s.commit()
                fresh = True
            except IntegrityError:  # the same job ran twice at once: use the first replay
                s.rollback()
                battle = s.execute(select(Battle).where(Battle.external_key == key)).scalar_one()
        return conversation_view(s, battle), fresh


def conversation_view(session: Session, battle: Battle):
    """A battle with a stored conversation, as a judge sees it: every turn, in order."""
    from workers.judge import BattleView, SideTurn

    prompt = session.get(Prompt, battle.prompt_id)
    messages = current_messages(session, battle.id)
    turns = []
    for turn in range(1, battle.turns + 1):
        user = messages.get((turn, "user"))
        left, right = (messages.get((turn, side)) for side in SIDES)
        turns.append(
            SideTurn(
                user.text if user else "",
                left.text if left else "",
                right.text if right else "",
                prompt.reference if turn == 1 and prompt is not None else None,
            )
        )
    family = dict(
        session.execute(
            select(Model.id, Model.family).where(
                Model.id.in_([battle.left_model_id, battle.right_model_id])
            )
        ).all()
    )
    return BattleView(
        battle.id,
        tuple(turns),
        prompt.category if prompt is not None else None,
        family.get(battle.left_model_id),
        family.get(battle.right_model_id),
    )


def has_conversation(session: Session, battle: Battle) -> bool:
    """Whether ``battle`` keeps its conversation as messages (live battles, replays)."""
    return bool(battle.turns) and (
        session.execute(
            select(BattleMessage.id).where(BattleMessage.battle_id == battle.id).limit(1)
        ).first()
        is not None
    )
