"""workers.http_clients: streams spread over small httpx clients, through real HTTP on loopback
against the stand-in model server (arena.demo_models, NOT A MODEL)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import httpx

from arena.demo_models import Behaviour, StandinModels
from workers.http_clients import ClientShards

TEXT = "one two three four five six seven eight"


async def _stream(client: httpx.AsyncClient, url: str) -> str:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    parts = []
    async with client.stream("POST", f"{url}/chat/completions", json=body) as res:
        assert res.status_code == 200
        async for line in res.aiter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                chunk = json.loads(line[6:])
                if chunk["choices"]:
                    parts.append(chunk["choices"][0]["delta"].get("content") or "")
    return "".join(parts)


def test_streams_spread_over_clients_of_at_most_size_connections():
    async def main(url):
        shards = ClientShards(40, httpx.Timeout(10), size=16)
        used: Counter = Counter()
        peak: list[int] = []

        async def one():
            async with shards.lease() as client:
                used[id(client)] += 1
                peak.append(max(shards.busy))
                return await _stream(client, url)

        try:
            texts = await asyncio.gather(*(one() for _ in range(40)))
        finally:
            await shards.aclose()
        return texts, used, max(peak), shards

    with StandinModels({"m": Behaviour(text=TEXT, chunks=4, delay=0.05)}) as standin:
        texts, used, peak, shards = asyncio.run(main(standin.url))
    assert texts == [TEXT] * 40
    assert len(used) == 3  # ceil(40 / 16) clients, each lent
    assert sorted(used.values()) == [13, 13, 14]  # the least busy client each time
    assert peak <= 16
    assert shards.busy == [0, 0, 0]


def test_clients_are_made_when_needed_and_share_one_ssl_context():
    async def main():
        shards = ClientShards(100, httpx.Timeout(1), size=16)
        async with shards.lease() as a, shards.lease() as b:
            assert a is not b
            assert shards.busy[:2] == [1, 1] and sum(shards.busy) == 2
        made = [c for c in shards._clients if c is not None]
        contexts = {id(c._transport._pool._ssl_context) for c in made}
        await shards.aclose()
        return len(shards._clients), len(made), contexts

    count, made, contexts = asyncio.run(main())
    assert count == 7  # capacity 100 in clients of 16
    assert made == 2
    assert len(contexts) == 1


def test_a_lease_is_returned_when_the_block_fails():
    async def main():
        shards = ClientShards(4, httpx.Timeout(1), size=2)
        try:
            async with shards.lease():
                raise RuntimeError("the stream broke")
        except RuntimeError:
            pass
        busy = shards.busy
        await shards.aclose()
        return busy

    assert asyncio.run(main()) == [0, 0]
