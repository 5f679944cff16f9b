"""arena.live: starting, continuing and viewing live battles (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import select
from sqlmodel import Session

from arena import live, live_rules, live_view, votes
from arena.models import Battle, BattleMessage, Model, Prompt, Vote
from tests.conftest import count


def _start(rt, text="Hello there", **kw):
    with Session(rt.engine) as s:
        rng = np.random.default_rng(kw.pop("seed", 0))
        kw.setdefault("rater_id", None)
        battle_id = live.start(s, rt.settings, rng, text=text, **kw)
        s.commit()
    return battle_id


def _finish(rt, battle_id, turn, attempt=0, status="ready", texts=("L", "R")):
    """What the generation worker does when both answers are in (tests of arena.live alone)."""
    with Session(rt.engine) as s:
        for side, text in zip(("left", "right"), texts):
            m = s.execute(
                select(BattleMessage).where(
                    BattleMessage.battle_id == battle_id,
                    BattleMessage.turn == turn,
                    BattleMessage.side == side,
                    BattleMessage.attempt == attempt,
                )
            ).scalar_one()
            m.text, m.status, m.finish_reason = text, "done", "stop"
            m.ttft_ms, m.tokens_per_second = 10.0, 50.0
        b = s.get(Battle, battle_id)
        b.status = status
        if status == "failed":
            b.failure = "left: HTTP 500 from the endpoint"
        s.commit()


@pytest.mark.parametrize(
    "text, category",
    [
        ("Write a Python function that reverses a string", "coding"),
        ("```\nprint(1)\n```\nwhat does this print?", "coding"),
        ("Why does my SQL query return duplicates?", "coding"),
        ("What is 17 * 23?", "math"),
        ("Solve for x: 2x + 3 = 11", "math"),
        ("What is the probability of rolling two sixes with 2 dice?", "math"),
        ("Tell me a story about a lighthouse", "general"),
        ("I was born in 1990; what happened that year?", "general"),
        ("How much sleep do people need?", "general"),
        ("What is the function of the liver?", "general"),
        ("My class visited a museum; what should we see?", "general"),
        ("Write a function that checks for palindromes", "coding"),
        ("Why does fetch() hang in my page?", "coding"),
    ],
)
def test_categorize(text, category):
    assert live_rules.categorize(text) == category


def test_start_stores_prompt_battle_and_streaming_answers(configure):
    rt = configure()
    battle_id = _start(rt, "Write a Python function to add two numbers", rater_id="r1")
    with Session(rt.engine) as s:
        b = s.get(Battle, battle_id)
        assert (b.origin, b.status, b.turns, b.sampler) == ("live", "open", 1, "uniform")
        assert b.external_key.startswith("live:")
        p = s.get(Prompt, b.prompt_id)
        assert p.prompt_set == "live" and p.key == b.external_key and p.category == "coding"
        assert p.text == "Write a Python function to add two numbers"
        names = {s.get(Model, b.left_model_id).name, s.get(Model, b.right_model_id).name}
        assert names == {"alpha", "beta"}
        msgs = (
            s.execute(select(BattleMessage).where(BattleMessage.battle_id == battle_id))
            .scalars()
            .all()
        )
        assert sorted((m.turn, m.side, m.attempt, m.status) for m in msgs) == [
            (1, "left", 0, "streaming"),
            (1, "right", 0, "streaming"),
            (1, "user", 0, "done"),
        ]
        left = next(m for m in msgs if m.side == "left")
        assert json.loads(left.settings)["model"] == s.get(Model, b.left_model_id).name
        assert b.rater_id == "r1"


def test_the_side_coin_is_fair_enough(configure):
    rt = configure()
    lefts = []
    for seed in range(40):
        with Session(rt.engine) as s:
            b = s.get(Battle, _start(rt, seed=seed))
            lefts.append(s.get(Model, b.left_model_id).name)
    assert 8 <= lefts.count("alpha") <= 32  # both orders happen


def test_the_rater_may_choose_a_known_category(configure):
    rt = configure()
    battle_id = _start(rt, "Hi", category="math")
    with Session(rt.engine) as s:
        assert s.get(Prompt, s.get(Battle, battle_id).prompt_id).category == "math"
    with pytest.raises(live.LiveError) as err:
        _start(rt, "Hi", category="astrology")
    assert err.value.code == "bad_prompt" and err.value.status == 400


@pytest.mark.parametrize(
    "text, code",
    [
        ("", "bad_prompt"),
        ("   \n", "bad_prompt"),
        (None, "bad_prompt"),
        ("a\x00b", "bad_prompt"),
        ("x" * 101, "too_long"),
    ],
)
def test_bad_prompts_are_refused_and_nothing_is_stored(configure, text, code):
    rt = configure(live={"max_prompt_chars": 100})
    with pytest.raises(live.LiveError) as err:
        _start(rt, text)
    assert err.value.code == code and err.value.status == 400
    assert count(rt.engine, Battle) == 0 and count(rt.engine, Prompt) == 0


def test_no_live_models(configure, standin):
    from tests.live.conftest import model_tables

    rt = configure(models=model_tables(standin, names=("alpha",)))
    with pytest.raises(live.LiveError) as err:
        _start(rt)
    assert err.value.code == "no_live_models" and err.value.status == 503
    rt = configure(live={"enabled": False})
    with Session(rt.engine) as s:
        assert live.live_model_names(rt.settings, s) == []
    with pytest.raises(live.LiveError, match="turned off"):
        _start(rt)


def test_retired_models_are_not_drawn(configure, standin):
    from tests.live.conftest import model_tables

    rt = configure(models=model_tables(standin, names=("alpha", "beta", "gamma")))
    with Session(rt.engine) as s:
        s.add(Model(name="gamma", state="retired"))
        s.commit()
        assert live.live_model_names(rt.settings, s) == ["alpha", "beta"]


def test_turns_regenerate_view_vote_and_reveal(configure, redis_conn):
    rt = configure(live={"max_turns": 2})
    battle_id = _start(rt, "First question")
    with Session(rt.engine) as s:
        v = live_view.view(s, battle_id, rt.settings)
        assert v["status"] == "open" and not v["can_vote"] and v["max_turns"] == 2
        assert "alpha" not in json.dumps(v) and "beta" not in json.dumps(v)
        for call in (
            lambda: live.add_turn(s, rt.settings, battle_id, "more"),
            lambda: live.regenerate(s, rt.settings, battle_id),
        ):
            with pytest.raises(live.LiveError) as err:
                call()
            assert err.value.code == "not_ready" and err.value.status == 409
        with pytest.raises(votes.BattleNotReady):
            votes.payload_for(s, battle_id, "left")
    _finish(rt, battle_id, 1)
    with Session(rt.engine) as s:
        assert live_view.view(s, battle_id, rt.settings)["can_vote"]
        assert live.add_turn(s, rt.settings, battle_id, "Second question") == 2
        s.commit()
    _finish(rt, battle_id, 2, texts=("L2", "R2"))
    with Session(rt.engine) as s:
        with pytest.raises(live.LiveError) as err:
            live.add_turn(s, rt.settings, battle_id, "Third")
        assert err.value.code == "max_turns"
        assert live.regenerate(s, rt.settings, battle_id) == (2, 1)
        s.commit()
        v = live_view.view(s, battle_id)
        assert v["turns"][1]["left"]["status"] == "streaming"
        assert v["turns"][1]["left"]["attempt"] == 1
    _finish(rt, battle_id, 2, attempt=1, texts=("L2b", "R2b"))
    with Session(rt.engine) as s:
        v = live_view.view(s, battle_id, rt.settings)
        assert [t["user"] for t in v["turns"]] == ["First question", "Second question"]
        assert [(t["left"]["text"], t["right"]["text"]) for t in v["turns"]] == [
            ("L", "R"),
            ("L2b", "R2b"),
        ]
        assert v["can_vote"] and not v["can_continue"]
        with pytest.raises(live.LiveError) as err:
            live_view.reveal(s, battle_id)
        assert err.value.code == "not_voted"
        payload = votes.payload_for(s, battle_id, "left")
        assert payload["live"] and not payload["identity_leak"]
    assert votes.store(rt.engine, [payload]) == 1
    with Session(rt.engine) as s:
        assert s.get(Battle, battle_id).status == "voted"
        v = live_view.view(s, battle_id)
        assert v["status"] == "voted" and not v["can_vote"]
        r = live_view.reveal(s, battle_id)
        assert {r["left"]["model"], r["right"]["model"]} == {"alpha", "beta"}
        assert r["left"]["ttft_ms"] == 10.0 and r["left"]["tokens_per_second"] == 50.0
        with pytest.raises(votes.AlreadyVoted):
            votes.payload_for(s, battle_id, "right")
        with pytest.raises(live.LiveError) as err:
            live.regenerate(s, rt.settings, battle_id)
        assert err.value.code == "already_voted"


def test_a_failed_battle_cannot_be_voted_or_continued(configure):
    rt = configure()
    battle_id = _start(rt)
    _finish(rt, battle_id, 1, status="failed")
    with Session(rt.engine) as s:
        with pytest.raises(votes.BattleNotReady) as err:
            votes.payload_for(s, battle_id, "tie")
        assert err.value.code == "battle_failed"
        with pytest.raises(live.LiveError) as err:
            live.add_turn(s, rt.settings, battle_id, "more")
        assert err.value.code == "battle_failed"
        v = live_view.view(s, battle_id)
        assert v["status"] == "failed" and v["failure"] and not v["can_vote"]
    assert count(rt.engine, Vote) == 0


def test_unknown_battles(configure):
    rt = configure()
    with Session(rt.engine) as s:
        for call in (
            lambda: live_view.view(s, 999),
            lambda: live.add_turn(s, rt.settings, 999, "x"),
            lambda: live.regenerate(s, rt.settings, 999),
            lambda: live_view.reveal(s, 999),
        ):
            with pytest.raises(live.LiveError) as err:
                call()
            assert err.value.code == "no_battle" and err.value.status == 404


def test_request_generation_writes_the_turn_and_two_requests(configure, redis_conn):
    rt = configure(live={"stream_ttl_seconds": 100})
    battle_id = _start(rt)
    live.request_generation(rt.redis, rt.settings, battle_id, 1, 0)
    entries = redis_conn.xrange(live.stream_key(battle_id))
    assert [e[1] for e in entries] == [{b"kind": b"turn", b"turn": b"1", b"attempt": b"0"}]
    assert 0 < redis_conn.ttl(live.stream_key(battle_id)) <= 100
    requests = [e[1] for e in redis_conn.xrange("arena:generate")]
    assert [r[b"side"] for r in requests] == [b"left", b"right"]
    assert all(r[b"battle_id"] == str(battle_id).encode() for r in requests)
    assert live.stream_key(7) == "arena:live:7"
    assert not live.vote_claimed(rt.redis, battle_id)


def test_a_queued_vote_counts_for_view_and_reveal_when_redis_is_given(configure, redis_conn):
    rt = configure()
    battle_id = _start(rt)
    _finish(rt, battle_id, 1)
    with Session(rt.engine) as s:
        payload = votes.payload_for(s, battle_id, "left")
    votes.enqueue(rt.queue("votes"), payload)  # accepted, not stored yet
    with Session(rt.engine) as s:
        assert live_view.view(s, battle_id)["can_vote"]  # without Redis: only what is stored
        v = live_view.view(s, battle_id, rt.settings, rt.redis)
        assert v["status"] == "voted" and not v["can_vote"]
        assert {
            live_view.reveal(s, battle_id, rt.redis)[k]["model"] for k in ("left", "right")
        } == {
            "alpha",
            "beta",
        }
        with pytest.raises(live.LiveError):
            live_view.reveal(s, battle_id)
