"""The generation worker through a Redis outage: a private redis-server stopped mid-stream and
started again (same folder and socket). No chunk is lost, repeated or reordered, and the battle
is settled once Redis is back."""

from __future__ import annotations

import asyncio
import gc
import logging
import time

import pytest

from arena import runtime
from arena.demo_models import Behaviour, StandinModels
from arena.redis_server import EmbeddedRedis
from tests.conftest import make_settings
from tests.live.test_generate import answers, begin, entries, streamed, wait_for
from tests.live.test_generate import worker as worker
from workers import generate
from workers.generate_request import Request


@pytest.fixture
def private_redis(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def test_a_redis_outage_mid_stream_loses_nothing(tmp_path, sqlite_url, private_redis, worker):
    models = {n: Behaviour(chunks=40, delay=0.05) for n in ("alpha", "beta")}
    with StandinModels(models) as standin:
        settings = make_settings(
            tmp_path,
            sqlite_url,
            private_redis.url,
            models={n: {"base_url": standin.url, "timeout": 60.0} for n in models},
        )
        rt = runtime.configure(settings)
        worker(rt)
        battle_id = begin(rt)
        deadline = time.monotonic() + 20
        while not any(e["kind"] == "delta" for e in entries(rt, battle_id)):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        private_redis.stop()
        time.sleep(1.5)  # chunks keep coming from the endpoint meanwhile
        private_redis.start()
        battle = wait_for(rt, battle_id, timeout=60)
        assert battle.status == "ready"
        # the stream catches up as the writer's retries go through: its "status" entry is last
        while not any(e["kind"] == "status" for e in entries(rt, battle_id)):
            assert time.monotonic() < deadline + 60
            time.sleep(0.1)
        stored = answers(rt, battle_id)
        for side in ("left", "right"):
            assert stored[(1, side)].status == "done"
            assert stored[(1, side)].text == streamed(rt, battle_id, side)
        kinds = [e["kind"] for e in entries(rt, battle_id)]
        assert 2 <= kinds.count("delta") <= 80 and kinds.count("done") == 2
        assert kinds.count("status") == 1 and kinds[-1] == "status"
        assert len(standin.requests) == 2


def test_a_claim_that_fails_for_good_leaves_no_read_unretrieved(
    tmp_path, private_redis, monkeypatch
):
    """The database read started next to the claim is still looked after when the claim
    fails after every retry: its error is retrieved, not reported by asyncio as "Task
    exception was never retrieved" when the task is collected."""
    monkeypatch.setattr(generate, "REDIS_RETRIES", 1)
    # (a logged traceback would keep the failed request's frames, and the tasks, alive)
    monkeypatch.setattr(logging.getLogger("arena.generate"), "disabled", True)
    empty = f"sqlite:///{tmp_path / 'no-tables.db'}"  # the read fails: no such table
    settings = make_settings(tmp_path, empty, private_redis.url)
    unretrieved: list[dict] = []

    async def scenario() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: unretrieved.append(ctx))
        gen = generate.GenerationWorker(settings)
        await gen._setup()
        private_redis.stop()  # the claim cannot be made
        try:
            await gen.handle(Request("1-0", battle_id=1, turn=1, attempt=0, side="left"))
            await asyncio.sleep(0.5)  # the read's thread ends and fails
            gc.collect()
            await asyncio.sleep(0)
        finally:
            private_redis.start()
            await gen._teardown()

    asyncio.run(scenario())
    assert [(c.get("message"), repr(c.get("exception"))) for c in unretrieved] == []
