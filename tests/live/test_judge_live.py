"""``arena judge run --live``: judges replay stored live conversations, multi-turn included
(the stand-in judge and real rq workers; SQLite and PostgreSQL)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import select, update
from sqlmodel import Session

from arena import live, runtime, votes
from arena.cli import main
from arena.models import Battle, BattleMessage, JudgeCall, Model, Vote
from tests.conftest import make_settings, work
from tests.judges.conftest import judge_table
from tests.standin_judge import StandinJudge
from workers.judge_config import get_judge
from workers.judge_live import enqueue_live_jobs, live_battles_to_judge


@pytest.fixture
def judge_server():
    with StandinJudge() as server:
        yield server


@pytest.fixture
def rt(tmp_path, database_url, redis_url, redis_conn, judge_server):
    settings = make_settings(
        tmp_path,
        database_url,
        redis_url,
        models={n: {"base_url": "http://127.0.0.1:9/v1"} for n in ("alpha", "beta")},
        judges={
            "mt": judge_table(judge_server, format="mtbench", mode="chat"),
            "pro": judge_table(judge_server, format="prometheus"),
        },
        rating={"recompute_every": 0},
    )
    return runtime.configure(settings)


def _answer_turn(rt, battle_id, turn, attempt=0, status="ready"):
    """Answers as the generation worker would store them; alpha's carry GOLD."""
    with Session(rt.engine) as s:
        b = s.get(Battle, battle_id)
        names = {
            "left": s.get(Model, b.left_model_id).name,
            "right": s.get(Model, b.right_model_id).name,
        }
        for side in ("left", "right"):
            gold = "GOLD " if names[side] == "alpha" else ""
            failed = status == "failed" and names[side] == "beta"
            s.execute(
                update(BattleMessage)
                .where(
                    BattleMessage.battle_id == battle_id,
                    BattleMessage.turn == turn,
                    BattleMessage.side == side,
                    BattleMessage.attempt == attempt,
                )
                .values(
                    status="error" if failed else "done",
                    text=f"{gold}{names[side]} answer {turn}.{attempt}",
                )
            )
        b.status = status
        s.commit()


def _live_battle(rt, turns=1, seed=0, status="ready", regenerate=False) -> int:
    with Session(rt.engine) as s:
        battle_id = live.start(
            s, rt.settings, np.random.default_rng(seed), text="First question?", rater_id=None
        )
        s.commit()
    _answer_turn(rt, battle_id, 1, status=status if turns == 1 else "ready")
    for turn in range(2, turns + 1):
        with Session(rt.engine) as s:
            live.add_turn(s, rt.settings, battle_id, f"Question {turn}?")
            s.commit()
        _answer_turn(rt, battle_id, turn, status=status)
    if regenerate:
        with Session(rt.engine) as s:
            live.regenerate(s, rt.settings, battle_id)
            s.commit()
        _answer_turn(rt, battle_id, turns, attempt=1)
    return battle_id


def test_judges_replay_finished_live_battles_every_turn(rt, judge_server):
    two = _live_battle(rt, turns=2, seed=1, regenerate=True)
    one = _live_battle(rt, turns=1, seed=2)
    _live_battle(rt, turns=1, seed=3, status="failed")  # never replayed
    with Session(rt.engine) as s:  # the rater voted on the two-turn battle
        payload = votes.payload_for(s, two, "tie")
    votes.store(rt.engine, [payload])
    judge = get_judge(rt.settings, "mt")
    with Session(rt.engine) as s:
        assert live_battles_to_judge(s, judge, 10) == [two, one]
    jobs = enqueue_live_jobs(rt.queue("judge"), judge, [two, one])
    work(rt, "judge", "votes")
    assert [j.fetch(j.id, connection=rt.redis).return_value()["status"] for j in jobs] == [
        "voted",
        "voted",
    ]
    with Session(rt.engine) as s:
        replays = s.execute(select(Battle).where(Battle.origin == "judge:mt")).scalars().all()
        assert sorted(b.external_key for b in replays) == sorted(
            f"judge:mt:live:{i}" for i in (one, two)
        )
        for b in replays:
            source = s.get(Battle, int(b.external_key.rsplit(":", 1)[1]))
            assert (b.prompt_id, b.left_model_id, b.right_model_id, b.turns) == (
                source.prompt_id,
                source.left_model_id,
                source.right_model_id,
                source.turns,
            )
            vote = s.execute(select(Vote).where(Vote.battle_id == b.id)).scalar_one()
            assert vote.source == "judge:mt" and vote.winner == "alpha"
        calls = s.execute(select(JudgeCall)).scalars().all()
        by_battle = {c.battle_id: c for c in calls}
        two_replay = next(b for b in replays if b.external_key.endswith(f":{two}"))
        assert by_battle[two_replay.id].template.endswith("-multi-turn")
        copied = live.current_messages(s, two_replay.id)
        assert copied[(2, "left")].text.endswith("answer 2.1")  # the regenerated answer
        assert s.get(Battle, two).status == "voted"  # the rater's vote is untouched
    # the judge saw both turns of the conversation, and only the answers that count
    prompts = [m["content"] for body in judge_server.requests for m in body["messages"]]
    assert any("Question 2?" in p and "answer 2.1" in p and "answer 2.0" not in p for p in prompts)
    with Session(rt.engine) as s:
        assert live_battles_to_judge(s, judge, 10) == []  # each live battle once per judge
    enqueue_live_jobs(rt.queue("judge"), judge, [one])  # asked again: the same replay
    work(rt, "judge", "votes")
    with Session(rt.engine) as s:
        assert len(s.execute(select(Battle).where(Battle.origin == "judge:mt")).all()) == 2


def test_a_format_without_a_multi_turn_template_refuses(rt):
    battle_id = _live_battle(rt, turns=2)
    judge = get_judge(rt.settings, "pro")
    jobs = enqueue_live_jobs(rt.queue("judge"), judge, [battle_id])
    work(rt, "judge", "votes")
    result = jobs[0].fetch(jobs[0].id, connection=rt.redis).return_value()
    assert result["status"] == "no-vote"
    with Session(rt.engine) as s:
        calls = s.execute(select(JudgeCall)).scalars().all()
        assert calls and all(c.error.startswith("refused:") for c in calls)
        assert s.execute(select(Vote)).first() is None


def test_judge_run_live_command(rt, tmp_path):
    from tests.live.test_cli_live import write_config

    cfg = write_config(
        tmp_path / "c.toml",
        models=rt.settings.models,
        database_url=rt.settings.database_url,
        redis_url=rt.settings.redis_url,
        judges=rt.settings.judges,
    )
    runner = CliRunner()
    res = runner.invoke(main, ["judge", "run", "--judge", "mt", "--live", "--config", str(cfg)])
    assert res.exit_code == 1 and "no finished live battle is left for mt" in res.output
    _live_battle(rt)
    res = runner.invoke(
        main, ["judge", "run", "--judge", "mt", "--live", "--battles", "3", "--config", str(cfg)]
    )
    assert res.exit_code == 0, res.output
    assert "enqueued 1 judge job(s) replaying live battles" in res.output
    assert "(only 1 left to replay)" in res.output
