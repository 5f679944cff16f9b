"""Judge jobs end to end: real HTTP to the stand-in judge, real rq workers, Redis and database."""

from __future__ import annotations

import json
import threading

import pytest
from rq.job import Job
from sqlalchemy import select
from sqlmodel import Session

from arena.models import Battle, JudgeCall, Vote
from tests.judges.conftest import count, seed, work
from workers.judge import enqueue_jobs
from workers.judge_config import get_judge


def run(rt, n, name="j", category=None):
    jobs = enqueue_jobs(rt.queue("judge"), get_judge(rt.settings, name), n, category)
    work(rt)
    return [Job.fetch(job.id, connection=rt.redis) for job in jobs]


def votes_of(rt):
    with Session(rt.engine) as s:
        return s.execute(select(Vote).order_by(Vote.battle_id)).scalars().all()


def calls_of(rt):
    with Session(rt.engine) as s:
        return s.execute(select(JudgeCall).order_by(JudgeCall.id)).scalars().all()


@pytest.mark.parametrize(
    "fmt,mode",
    [
        ("prometheus", "completion"),
        ("prometheus", "chat"),
        ("judgelm", "completion"),
        ("judgelm", "chat"),
        ("mtbench", "chat"),
    ],
)
def test_consistent_judge_votes_once_per_battle(configure, standin, fmt, mode):
    rt = configure(format=fmt, mode=mode)
    seed(rt.engine)
    jobs = run(rt, 4)
    assert [job.get_status() for job in jobs] == ["finished"] * 4
    assert {job.return_value()["status"] for job in jobs} == {"voted"}
    votes = votes_of(rt)
    assert len(votes) == 4 and len({v.battle_id for v in votes}) == 4
    assert {v.source for v in votes} == {"judge:j"} and {v.winner for v in votes} == {"good"}
    with Session(rt.engine) as s:
        battles = s.execute(select(Battle)).scalars().all()
    assert {b.origin for b in battles} == {"judge:j"} and len(battles) == 4
    calls = calls_of(rt)
    assert len(calls) == 8 and {c.call_order for c in calls} == {"ab", "ba"}
    assert all(c.verdict in ("first", "second") and c.error is None for c in calls)
    assert all(c.raw_reply and c.latency_ms > 0 and c.prompt_tokens > 0 for c in calls)
    if fmt == "judgelm":
        assert {c.confidence for c in calls} == {5.0}
    # the verdicts follow the GOLD answer through both orders
    by_battle = {b.id: b for b in battles}
    for v in votes:
        assert v.choice == (
            "left" if v.winner == "good" and by_battle[v.battle_id].left_model_id == 1 else "right"
        )
    # chat: the format's system prompt and the user message, as upstream sends them
    for body in standin.requests:
        if mode == "chat":
            assert [m["role"] for m in body["messages"]] == ["system", "user"]
            assert body["_path"] == "/v1/chat/completions"
        else:
            assert body["_path"] == "/v1/completions" and "prompt" in body
        assert body["model"] == "standin-judge" and body["temperature"] == 0.0
    # provenance: every call says what it sent and what answered
    sent = [{k: v for k, v in b.items() if not k.startswith("_")} for b in standin.requests]
    for c in calls:
        assert c.format == fmt and c.format_version and c.template
        assert len(c.prompt_sha256) == 64 and json.loads(c.request) in sent
        assert json.loads(c.sampling) == {
            "max_tokens": 1024,
            "seed": 0,
            "temperature": 0.0,
            "top_p": 1.0,
        }
        assert c.served_model == "standin-judge" and c.finish_reason == "stop"
        assert c.completion_tokens > 0
    # running the workers again changes nothing
    work(rt)
    assert len(votes_of(rt)) == 4


def test_always_first_judge_yields_ties(configure, standin):
    standin.mode = "first"
    rt = configure(format="mtbench")
    seed(rt.engine)
    run(rt, 3)
    votes = votes_of(rt)
    assert len(votes) == 3 and {(v.choice, v.winner) for v in votes} == {("tie", "tie")}
    assert {c.verdict for c in calls_of(rt)} == {"first"}


def test_disagreement_can_mean_no_vote(configure, standin):
    standin.mode = "first"
    rt = configure(format="judgelm", on_disagreement="none")
    seed(rt.engine)
    jobs = run(rt, 2)
    assert votes_of(rt) == []
    assert {job.return_value()["reason"] for job in jobs} == {"orders disagree"}


def test_malformed_replies_are_retried_then_recorded_without_vote(configure, standin):
    standin.mode = "malformed"
    rt = configure(format="prometheus", parse_retries=2)
    seed(rt.engine)
    jobs = run(rt, 1)
    assert jobs[0].return_value()["status"] == "no-vote"
    assert votes_of(rt) == []
    calls = calls_of(rt)
    assert len(calls) == 6  # 1 + 2 parse retries, in each order
    assert all(c.verdict is None and c.error.startswith("parse: no verdict") for c in calls)
    assert sorted(c.attempt for c in calls if c.call_order == "ab") == [1, 2, 3]
    assert len(standin.requests) == 6
    # each retry can change the answer: another seed, and a warmer temperature (the judge
    # is deterministic at 0), recorded on the call
    ab = sorted((c for c in calls if c.call_order == "ab"), key=lambda c: c.attempt)
    sampling = [json.loads(c.sampling) for c in ab]
    assert [x["seed"] for x in sampling] == [0, 1, 2]
    assert [x["temperature"] for x in sampling] == [0.0, 0.3, 0.3]
    assert [json.loads(c.request)["seed"] for c in ab] == [0, 1, 2]
    assert len({c.prompt_sha256 for c in ab}) == 1  # the same prompt, asked differently


def test_a_parse_failure_then_a_good_reply_votes(configure, standin):
    standin.plan("empty")
    rt = configure(format="mtbench")
    seed(rt.engine)
    run(rt, 1)
    assert [v.winner for v in votes_of(rt)] == ["good"]
    calls = calls_of(rt)
    assert len(calls) == 3
    failed = [c for c in calls if c.verdict is None]
    assert len(failed) == 1 and failed[0].error == "parse: empty reply"
    retried = [c for c in calls if c.call_order == failed[0].call_order and c.verdict]
    assert retried[0].attempt == 2


def test_5xx_and_429_are_retried_by_the_client(configure, standin):
    standin.retry_after = "0"
    standin.plan("500", "429", "500")
    rt = configure(format="judgelm", max_retries=3)
    seed(rt.engine)
    run(rt, 1)
    assert [v.winner for v in votes_of(rt)] == ["good"]
    calls = calls_of(rt)
    assert len(calls) == 2 and all(c.verdict for c in calls)
    notes = " ".join(c.error or "" for c in calls)
    assert notes.count("HTTP 500") == 2 and notes.count("HTTP 429") == 1
    assert len(standin.requests) == 5


def test_job_failing_on_5xx_is_retried_by_rq_and_votes_once(configure, standin):
    standin.plan(*["500"] * 4)  # both orders use up max_retries=1 on the first run
    rt = configure(format="prometheus", max_retries=1, job_retries=2)
    seed(rt.engine)
    jobs = run(rt, 1)
    assert jobs[0].get_status() == "finished"
    assert len(votes_of(rt)) == 1 and count(rt.engine, Battle) == 1
    calls = calls_of(rt)
    assert sorted(bool(c.verdict) for c in calls) == [False, False, True, True]
    assert all(
        c.error.startswith("http:") and "HTTP 500" in c.error for c in calls if not c.verdict
    )
    assert {c.attempt for c in calls if c.verdict} == {2}


def test_stalled_reply_times_out_and_is_retried(configure, standin):
    standin.stall = 1.5
    standin.plan("stall")
    rt = configure(format="mtbench", timeout=0.5)
    seed(rt.engine)
    run(rt, 1)
    assert [v.winner for v in votes_of(rt)] == ["good"]
    notes = [c.error for c in calls_of(rt) if c.error]
    assert notes == ["retried: timeout after 0.5s"]


def test_job_timed_out_by_rq_reuses_its_battle(configure, standin):
    # 3 s: room for rq's alarm at 1 s, or at 2 s should Python drop the first (workers/timeouts.py)
    standin.stall = 3.0
    standin.plan("stall", "stall")
    rt = configure(format="judgelm", timeout=10.0, job_timeout=1, job_retries=2)
    seed(rt.engine)
    jobs = run(rt, 1)
    assert jobs[0].get_status() == "finished"
    assert jobs[0].retries_left == 1  # rq ran it a second time
    assert standin.modes_used[:2] == ["stall", "stall"] and len(standin.modes_used) == 4
    assert count(rt.engine, Battle) == 1
    assert len(votes_of(rt)) == 1
    work(rt)
    assert len(votes_of(rt)) == 1
    # The timed-out attempts' calls still run in their threads (the job does not wait
    # for them); let them end here rather than write into the next test's database.
    for thread in threading.enumerate():
        if thread.name.startswith("judge-"):
            thread.join(timeout=30)


def test_own_family_battles_are_skipped(configure, standin):
    rt = configure(family="Acme")
    seed(rt.engine, good_family="acme")
    jobs = run(rt, 3)
    assert {job.return_value()["status"] for job in jobs} == {"skipped"}
    assert standin.requests == [] and votes_of(rt) == [] and calls_of(rt) == []
    assert count(rt.engine, Battle, Battle.origin == "judge:j") == 3


def test_concurrency_is_respected_across_calls(configure, standin):
    standin.delay = 0.2
    rt = configure(format="mtbench", concurrency=1)
    seed(rt.engine)
    run(rt, 2)
    assert len(votes_of(rt)) == 2
    assert standin.max_in_flight == 1
    assert rt.redis.zcard("arena:judge:j:slots") == 0


def test_both_orders_run_at_once(configure, standin):
    standin.delay = 0.6  # room for the second order to start while the first waits
    rt = configure(format="mtbench", concurrency=4)
    seed(rt.engine)
    run(rt, 1)
    assert standin.max_in_flight == 2


def test_reference_answer_reaches_the_judge(configure, standin):
    rt = configure(format="prometheus")
    seed(rt.engine, reference="The reference says GOLD.")
    run(rt, 1)
    prompt = standin.requests[0]["prompt"]  # completion: Prometheus's default mode
    assert prompt.startswith("[INST] You are a fair judge assistant")
    assert "###Reference Answer:\nThe reference says GOLD." in prompt
    assert "a reference answer, and an evaluation criteria are given" in prompt


def test_mtbench_uses_the_math_template_for_coding_with_a_reference(configure, standin):
    rt = configure(format="mtbench")
    seed(rt.engine, reference="The reference says GOLD.")  # category "coding"
    run(rt, 1)
    assert {c.template for c in calls_of(rt)} == {"pair-math-v1"}
    assert "[The Start of Reference Answer]" in standin.requests[0]["messages"][-1]["content"]


def test_absolute_grading_grades_each_side_and_the_higher_grade_wins(configure, standin):
    rt = configure(format="prometheus-absolute")
    seed(rt.engine)
    jobs = run(rt, 3)
    assert {job.return_value()["status"] for job in jobs} == {"voted"}
    assert [v.winner for v in votes_of(rt)] == ["good"] * 3
    calls = calls_of(rt)
    assert {c.verdict for c in calls} == {"score"} and {c.score for c in calls} == {2.0, 5.0}
    assert {c.template for c in calls} == {"absolute_without_reference"}


def test_no_battle_available_is_reported(configure, standin):
    rt = configure()
    seed(rt.engine)
    jobs = run(rt, 1, category="poetry")
    assert jobs[0].return_value()["status"] == "no-battle"
    assert "poetry" in jobs[0].return_value()["reason"]


def test_long_answers_are_cut_and_the_calls_say_so(configure, standin):
    rt = configure(format="mtbench", max_answer_chars=12)
    seed(rt.engine)
    run(rt, 1)
    assert [v.winner for v in votes_of(rt)] == ["good"]  # "GOLD answer" survives the cut
    assert [c.truncated for c in calls_of(rt)] == [True, True]
    assert "GOLD answer to" not in standin.requests[0]["messages"][0]["content"]


def test_prompt_too_long_for_the_context_makes_no_vote(configure, standin):
    rt = configure(format="prometheus", context_chars=600)
    seed(rt.engine)
    jobs = run(rt, 1)
    assert jobs[0].return_value()["status"] == "no-vote"
    assert standin.requests == [] and votes_of(rt) == []
    assert all(c.error.startswith("context: the prompt needs") for c in calls_of(rt))


def test_same_battle_settings_and_seed_reproduce_the_request_byte_for_byte(configure, standin):
    from workers.client import JudgeClient, encode
    from workers.judge import _view
    from workers.judges import fit, get_format

    rt = configure(format="mtbench", seed=11)
    seed(rt.engine)
    run(rt, 1)
    call = next(c for c in calls_of(rt) if c.call_order == "ba")
    received = [r["_raw"] for r in standin.requests]
    assert call.request.encode("utf-8") in received  # stored exactly as sent
    # rebuild the request from the stored battle and the same settings: the same bytes
    judge = get_judge(rt.settings, "j")
    with Session(rt.engine) as s:
        view = _view(s, s.get(Battle, call.battle_id))
    prompt = fit(
        get_format("mtbench"),
        view.judge_input("ba", judge.rubric),
        mode=judge.send_mode,
        context_chars=judge.context_chars,
        max_answer_chars=judge.max_answer_chars,
    )
    again = encode(JudgeClient(judge).body(prompt, retry=0))
    assert again == call.request.encode("utf-8")
    assert json.loads(again)["seed"] == 11
    other = encode(JudgeClient(judge).body(prompt, retry=1))
    assert other != again  # a retry is not the same request


def test_multi_turn_is_refused_with_a_reason_by_formats_without_a_template(configure, standin):
    from workers.judge import BattleView, SideTurn, judge_order
    from workers.judges.limits import NullLimiter

    rt = configure(format="judgelm")
    seed(rt.engine)
    run(rt, 1)
    battle_id = votes_of(rt)[0].battle_id
    judge = get_judge(rt.settings, "j")
    turns = (SideTurn("Q1?", "a", "b"), SideTurn("Q2?", "c", "d"))
    view = BattleView(battle_id, turns, None, None, None)
    from workers.client import JudgeClient

    before = len(standin.requests)
    assert judge_order(rt, judge, JudgeClient(judge, NullLimiter()), view, "ab", []) is None
    refused = [c for c in calls_of(rt) if (c.error or "").startswith("refused:")]
    assert len(refused) == 1 and "no multi-turn template" in refused[0].error
    assert len(standin.requests) == before  # nothing was sent
