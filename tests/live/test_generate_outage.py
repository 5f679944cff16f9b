"""The generation worker through a Redis outage: a private redis-server stopped mid-stream and
started again (same folder and socket). No chunk is lost, repeated or reordered, and the battle
is settled once Redis is back."""

from __future__ import annotations

import time

import pytest

from arena import runtime
from arena.demo_models import Behaviour, StandinModels
from arena.redis_server import EmbeddedRedis
from tests.conftest import make_settings
from tests.live.test_generate import answers, begin, entries, streamed, wait_for
from tests.live.test_generate import worker as worker


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
