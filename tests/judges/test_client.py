"""The OpenAI-compatible client and the judge settings, against the stand-in over real HTTP."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tests.judges.conftest import judge_table
from tests.standin_judge import StandinJudge
from workers.client import JudgeClient, JudgeHTTPError, JudgeUnavailable, retry_after_seconds
from workers.judge_config import JudgeConfigError, JudgeSettings, judge_settings
from workers.judges import JudgeInput, Turn, fit, get_format
from workers.judges.limits import RedisLimiter

PROMPT = get_format("mtbench").render(JudgeInput(turns=(Turn("Q?", "GOLD first", "second"),)))


def ask(c):
    return c.complete(c.body(PROMPT))


def client(standin, limiter=None, **overrides):
    return JudgeClient(judge_settings("t", judge_table(standin, **overrides)), limiter)


def test_chat_is_one_user_message_with_settings_passed_through(standin):
    c = client(
        standin,
        format="mtbench",
        seed=7,
        stop=["\n\n\n"],
        grammar='root ::= "x"',
        extra={"repeat_penalty": 1.1},
        max_tokens=64,
    )
    reply = c.complete(c.body(PROMPT))
    assert reply.text.endswith("[[A]]") and reply.completion_tokens > 0
    assert reply.served_model == "standin-judge" and reply.finish_reason == "stop"
    body = standin.requests[0]
    assert body["messages"] == [
        {"role": "system", "content": PROMPT.system},
        {"role": "user", "content": PROMPT.user},
    ]
    assert (
        body["seed"],
        body["stop"],
        body["grammar"],
        body["repeat_penalty"],
        body["max_tokens"],
    ) == (7, ["\n\n\n"], 'root ::= "x"', 1.1, 64)


def test_completion_mode_posts_the_raw_prompt(standin):
    prompt = fit(
        get_format("judgelm"),
        JudgeInput(turns=(Turn("Q?", "a GOLD", "b"),)),
        mode="completion",
        context_chars=4000,
        max_answer_chars=1000,
    )
    c = client(standin, format="judgelm")  # completion is JudgeLM's default mode
    reply = c.complete(c.body(prompt))
    assert reply.text.startswith("9 4")
    sent = standin.requests[0]
    assert sent["prompt"] == prompt.completion and "messages" not in sent
    assert sent["prompt"].endswith("### Response:")
    assert standin.requests[0]["_path"] == "/v1/completions"


def test_api_key_comes_from_the_named_environment_variable(monkeypatch):
    with StandinJudge(api_key="s3cret") as server:
        monkeypatch.setenv("ARENA_TEST_JUDGE_KEY", "s3cret")
        assert ask(client(server, api_key_env="ARENA_TEST_JUDGE_KEY")).text
        assert server.requests[0]["_authorization"] == "Bearer s3cret"
        monkeypatch.setenv("ARENA_TEST_JUDGE_KEY", "wrong")
        with pytest.raises(JudgeHTTPError, match="HTTP 401"):
            ask(client(server, api_key_env="ARENA_TEST_JUDGE_KEY"))
        monkeypatch.delenv("ARENA_TEST_JUDGE_KEY")
        with pytest.raises(JudgeConfigError, match="ARENA_TEST_JUDGE_KEY is not set"):
            client(server, api_key_env="ARENA_TEST_JUDGE_KEY")


def test_a_reply_with_usage_of_another_shape_still_counts(standin):
    standin.plan("odd-usage")
    reply = ask(client(standin, format="mtbench"))
    assert reply.text.endswith("[[A]]")
    assert (reply.prompt_tokens, reply.completion_tokens) == (None, None)


def test_a_200_that_is_no_completion_is_a_clear_error(standin):
    standin.plan("not-openai")
    with pytest.raises(JudgeHTTPError, match="not an OpenAI completion"):
        ask(client(standin, format="mtbench"))


def test_4xx_is_not_retried(standin):
    table = judge_table(standin)
    table["base_url"] = standin.base_url.replace("/v1", "/nope")
    with pytest.raises(JudgeHTTPError, match="HTTP 404"):
        ask(JudgeClient(judge_settings("t", table)))
    assert len(standin.requests) == 1


def test_5xx_retries_are_bounded(standin):
    standin.mode = "500"
    with pytest.raises(JudgeUnavailable, match="3 attempts failed: HTTP 500; HTTP 500; HTTP 500"):
        ask(client(standin, max_retries=2))
    assert len(standin.requests) == 3


def test_timeouts_are_retried(standin):
    standin.stall = 1.0
    standin.plan("stall")
    reply = ask(client(standin, timeout=0.3))
    assert reply.retries == ["timeout after 0.3s"] and reply.text.endswith("[[A]]")


def test_connection_refused_is_retried_then_gives_up():
    with StandinJudge() as server:
        table = judge_table(server, max_retries=1)
    with pytest.raises(JudgeUnavailable, match="2 attempts failed: ConnectError"):
        ask(JudgeClient(judge_settings("t", table)))


def test_long_retry_after_gives_up_and_cools_every_worker_down(standin, redis_conn):
    standin.mode = "429"
    standin.retry_after = "30"
    limiter = RedisLimiter(redis_conn, "t", 2, lease_seconds=5)
    with pytest.raises(JudgeUnavailable, match="Retry-After 30s is longer"):
        ask(client(standin, limiter))
    assert len(standin.requests) == 1
    assert 25_000 < redis_conn.pttl("arena:judge:t:cooldown") <= 30_000


def test_short_retry_after_is_waited_out(standin, redis_conn):
    standin.retry_after = "1"
    standin.plan("429")
    limiter = RedisLimiter(redis_conn, "t", 2, lease_seconds=5)
    start = time.monotonic()
    reply = ask(client(standin, limiter, backoff_seconds=0.01))
    assert reply.retries == ["HTTP 429"]
    assert time.monotonic() - start >= 0.95  # the header's second, not the 10 ms backoff


def test_retry_after_header_values():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds(
        format_datetime(now + timedelta(seconds=90), usegmt=True), now
    ) == pytest.approx(90)
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
    assert retry_after_seconds("-5") == 0.0
    # float() reads these, but they are no delay (a cooldown of nan ms would crash)
    assert retry_after_seconds("nan") is None and retry_after_seconds("inf") is None
    # an absurd delay is capped at a day (Redis would refuse the cooldown's expiry)
    assert retry_after_seconds("1e12") == 86400.0
    assert (
        retry_after_seconds(format_datetime(now + timedelta(days=400), usegmt=True), now) == 86400.0
    )


def test_retry_after_on_the_last_attempt_still_cools_every_worker_down(standin, redis_conn):
    standin.mode = "429"
    standin.retry_after = "1"
    limiter = RedisLimiter(redis_conn, "t", 2, lease_seconds=5)
    with pytest.raises(JudgeUnavailable, match="1 attempts failed: HTTP 429"):
        ask(client(standin, limiter, max_retries=0))
    assert 0 < redis_conn.pttl("arena:judge:t:cooldown") <= 1_000


def test_the_longest_cooldown_wins(redis_conn):
    a = RedisLimiter(redis_conn, "c", 2, lease_seconds=5)
    b = RedisLimiter(redis_conn, "c", 2, lease_seconds=5)  # another worker, same judge
    a.cooldown(0)
    assert redis_conn.pttl("arena:judge:c:cooldown") == -2  # no key: nothing to wait for
    a.cooldown(0.5)
    assert 0 < redis_conn.pttl("arena:judge:c:cooldown") <= 500
    b.cooldown(30)
    a.cooldown(1)  # shorter: does not cut the longer one short
    assert 25_000 < redis_conn.pttl("arena:judge:c:cooldown") <= 30_000


def test_redis_slots_are_shared_and_expire(redis_conn):
    a = RedisLimiter(redis_conn, "s", 2, lease_seconds=0.2)
    b = RedisLimiter(redis_conn, "s", 2, lease_seconds=0.2)  # another worker, same judge
    t1, t2 = a.try_acquire(), b.try_acquire()
    assert t1 and t2 and a.try_acquire() is None and b.in_use() == 2
    a.release(t1)
    assert b.try_acquire() is not None
    time.sleep(0.3)  # holders that died: their leases run out
    assert a.try_acquire() is not None and b.try_acquire() is not None and a.in_use() == 2


# --- settings ------------------------------------------------------------------

BASE = {"base_url": "http://127.0.0.1:9/v1", "model": "m", "format": "judgelm"}


def test_config_formats_are_the_modules():
    from workers import judge_config, judges

    assert set(judge_config.FORMATS) == set(judges.FORMATS)


def test_defaults_fill_in():
    j = judge_settings("x", BASE)
    assert (j.mode, j.send_mode, j.on_disagreement, j.concurrency) == (
        "default",
        "completion",
        "tie",
        4,
    )
    assert j.source == "judge:x" and j.effective_job_timeout() > 2 * j.timeout
    assert j == JudgeSettings(name="x", **BASE)  # the defaults are the dataclass's, in one place


@pytest.mark.parametrize(
    "change,message",
    [
        ({"base_url": ""}, "judges.x.base_url is missing"),
        ({"base_url": "localhost:8080"}, "must start with http://"),
        ({"model": None}, "judges.x.model is missing"),
        ({"temperature": "hot"}, "judges.x.temperature must be int or float"),
        ({"format": "prometheus2"}, "judges.x.format must be one of"),
        ({"mode": "stream"}, "judges.x.mode must be one of default, chat, completion"),
        ({"on_disagreement": "coin"}, "on_disagreement must be one of tie, none"),
        ({"timeout": 0}, "judges.x.timeout must be positive"),
        ({"max_retries": True}, "judges.x.max_retries must be int"),
        ({"parse_retries": -1}, "must not be negative"),
        ({"stop": [1]}, "stop must be a list of strings"),
        ({"temprature": 0.5}, "[judges.x] has no key 'temprature' (did you mean 'temperature'?)"),
        ({"zzz": 1}, "[judges.x] has no key 'zzz' (known: base_url"),
    ],
)
def test_bad_settings_name_the_key(change, message):
    with pytest.raises(JudgeConfigError, match=re.escape(message)):
        judge_settings("x", {**BASE, **change})


def test_a_parse_retry_changes_the_seed_and_warms_a_deterministic_judge():
    cold = JudgeClient(judge_settings("x", {**BASE, "seed": 5}))
    assert cold.sampling(0) == {"temperature": 0.0, "top_p": 1.0, "max_tokens": 1024, "seed": 5}
    assert cold.sampling(2)["seed"] == 7 and cold.sampling(2)["temperature"] == 0.3
    warm = JudgeClient(judge_settings("x", {**BASE, "temperature": 0.7}))
    assert [warm.sampling(r)["temperature"] for r in (0, 1)] == [0.7, 0.7]  # already sampling
    assert [warm.sampling(r)["seed"] for r in (0, 1)] == [0, 1]
    assert cold.body(PROMPT, retry=1)["seed"] == 6  # what is sent is what is recorded
