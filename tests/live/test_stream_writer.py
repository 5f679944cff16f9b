"""workers.stream_writer: entries reach their Redis streams exactly, in order, batched."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from workers.stream_writer import StreamWriter

ODD = ["plain", "ünïcode 🎉", 'quote " and \\ backslash', "nul \x00 tab \t nl \n", "", " "]


def test_entries_are_written_exactly_and_in_order(redis_url, redis_conn):
    async def main():
        r = aioredis.Redis.from_url(redis_url)
        writer = StreamWriter(r, 77)
        writer.start()
        for i in range(300):
            writer.append(f"s:{i % 3}", {"kind": "delta", "n": str(i), "text": ODD[i % len(ODD)]})
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
