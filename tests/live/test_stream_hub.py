"""arena.web.stream_hub: one reader thread follows many streams for many connections."""

from __future__ import annotations

import pytest
import redis as redis_lib

from arena.redis_server import EmbeddedRedis
from arena.web.stream_hub import RelayUnavailable, StreamHub

WAIT = 10.0  # seconds a test waits for an entry that must come (it comes in milliseconds)


def _texts(entries) -> list[str]:
    return [f[b"t"].decode() for _, f in entries]


def _collect(sub, n: int) -> list[str]:
    got: list[str] = []
    for _ in range(50):
        got += _texts(sub.get(WAIT))
        if len(got) >= n:
            break
    return got


def test_one_reader_serves_many_streams_each_from_its_own_id(redis_conn):
    # A block far longer than the test's waits: entries must arrive because the reader
    # is woken and reads every stream at once, not because a read timed out.
    hub = StreamHub(redis_conn, block_ms=60_000)
    early = redis_conn.xadd("hub:a", {"t": "a0"})
    subs = {k: hub.subscribe(f"hub:{k}", "0") for k in "abc"}
    late = hub.subscribe("hub:a", early.decode())  # a reconnect: after the first entry
    assert _collect(subs["a"], 1) == ["a0"]
    for i in range(1, 4):
        for k in "abc":
            redis_conn.xadd(f"hub:{k}", {"t": f"{k}{i}"})
    assert _collect(subs["a"], 3) == ["a1", "a2", "a3"]
    assert _collect(late, 3) == ["a1", "a2", "a3"]  # never a0: it came before its id
    assert _collect(subs["b"], 3) == ["b1", "b2", "b3"]
    assert _collect(subs["c"], 3) == ["c1", "c2", "c3"]
    for sub in [*subs.values(), late]:
        sub.close()
    assert hub._subs == {}


def test_a_new_subscription_wakes_a_reader_blocked_on_other_streams(redis_conn):
    hub = StreamHub(redis_conn, block_ms=60_000)
    quiet = hub.subscribe("hub:quiet", "0")
    assert quiet.get(0.2) == []  # the reader is now blocked in XREAD on hub:quiet
    redis_conn.xadd("hub:new", {"t": "first"})
    new = hub.subscribe("hub:new", "0")
    assert _texts(new.get(WAIT)) == ["first"]
    redis_conn.xadd("hub:new", {"t": "second"})
    assert _texts(new.get(WAIT)) == ["second"]
    quiet.close()
    new.close()


def test_a_redis_failure_ends_each_relay_and_the_hub_recovers(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis")
    conn = redis_lib.Redis.from_url(server.start())
    try:
        hub = StreamHub(conn, block_ms=100)
        sub = hub.subscribe("hub:y", "0")
        conn.xadd("hub:y", {"t": "y0"})
        assert _collect(sub, 1) == ["y0"]
        server.stop()
        # The relay is told (it ends its response; the browser resumes from its last id).
        with pytest.raises(RelayUnavailable):
            for _ in range(50):
                sub.get(WAIT)
        sub.close()
        with pytest.raises(redis_lib.RedisError):
            hub.subscribe("hub:y", "0")  # refused at once: nothing handed out
        assert hub._subs == {}
        conn = redis_lib.Redis.from_url(server.start())  # Redis is back
        hub.redis = conn
        conn.xadd("hub:z", {"t": "z0"})
        again = hub.subscribe("hub:z", "0")
        assert _collect(again, 1) == ["z0"]  # the same reader thread reads again
        again.close()
    finally:
        server.stop()
