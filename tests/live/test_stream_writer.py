"""workers.stream_writer: entries reach their Redis streams exactly, in order, batched."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from workers.stream_writer import StreamWriter, join_deltas

ODD = ["plain", "ünïcode 🎉", 'quote " and \\ backslash', "nul \x00 tab \t nl \n", "", " "]


def test_entries_are_written_exactly_and_in_order(redis_url, redis_conn):
    async def main():
        r = aioredis.Redis.from_url(redis_url)
        writer = StreamWriter(r, 77)
        writer.start()
        for i in range(300):
            writer.append(f"s:{i % 3}", {"kind": "note", "n": str(i), "text": ODD[i % len(ODD)]})
        await writer.sync()
        batches = writer.batches
        writer.append("s:0", {"kind": "done"})
        await writer.stop()
        await r.aclose()
        return batches

    batches = asyncio.run(main())
    assert batches < 300  # many entries per script call
    for k in range(3):
        got = redis_conn.xrange(f"s:{k}")
        numbers = [int(f[b"n"]) for _, f in got if b"n" in f]
        assert numbers == list(range(k, 300, 3))
        for _, f in got:
            if b"n" in f:
                assert f[b"text"].decode() == ODD[int(f[b"n"]) % len(ODD)]
        assert 0 < redis_conn.ttl(f"s:{k}") <= 77
    assert redis_conn.xrange("s:0")[-1][1] == {b"kind": b"done"}  # stop() writes what is queued


def d(side: str, text: str, turn: str = "1") -> dict:
    return {"kind": "delta", "side": side, "turn": turn, "text": text}


def test_deltas_of_one_answer_are_joined_and_control_entries_keep_their_place():
    batch = [
        ("s:1", d("left", "a")),
        ("s:1", d("right", "x")),
        ("s:2", d("left", "other stream")),
        ("s:1", d("left", "b")),
        ("s:1", d("right", "y")),
        ("s:1", {"kind": "done", "side": "left"}),
        ("s:1", d("left", "c")),  # after a control entry of its stream: a new entry
        ("s:1", d("left", "d", turn="2")),  # another answer
        ("s:2", d("left", " joined")),
    ]
    assert join_deltas(batch) == [
        ("s:1", d("left", "ab")),
        ("s:1", d("right", "xy")),
        ("s:2", d("left", "other stream joined")),
        ("s:1", {"kind": "done", "side": "left"}),
        ("s:1", d("left", "c")),
        ("s:1", d("left", "d", turn="2")),
    ]


def test_later_chunks_are_gathered_and_first_chunks_and_control_entries_are_not(
    redis_url, redis_conn
):
    async def main():
        r = aioredis.Redis.from_url(redis_url)
        writer = StreamWriter(r, 60, gather_seconds=30.0)  # far longer than the test
        writer.start()
        delta = {"kind": "delta", "side": "left", "turn": "1", "attempt": "0"}
        writer.append("g:1", {**delta, "text": "first "}, urgent=True)
        await asyncio.wait_for(writer.sync(), 5)  # an urgent entry is written at once
        for i in range(20):
            writer.append("g:1", {**delta, "text": f"{i} "})
            await asyncio.sleep(0)
        await asyncio.sleep(0.3)
        gathered = redis_conn.xlen("g:1")  # the later chunks wait (the writer gathers)
        writer.append("g:1", {"kind": "done", "side": "left"})  # urgent: ends the wait
        await asyncio.wait_for(writer.sync(), 5)
        await writer.stop()
        await r.aclose()
        return gathered, writer.entries

    gathered, written = asyncio.run(main())
    assert gathered == 1
    got = redis_conn.xrange("g:1")
    assert written == len(got) == 3  # the first chunk, the other twenty as one, done
    assert "".join(f[b"text"].decode() for _, f in got if b"text" in f) == "first " + "".join(
        f"{i} " for i in range(20)
    )
    assert got[-1][1] == {b"kind": b"done", b"side": b"left"}
