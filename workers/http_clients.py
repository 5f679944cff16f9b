"""HTTP clients for many model streams at once: several small connection pools, not one big one.

The generation worker holds one streaming connection per answer in progress, up to
``[live] max_streams`` (64 battles at once are 128 connections). httpcore's connection pool
(under httpx) walks all its connections on every request it starts and every response it
closes, and, for each idle connection, all of them again (encode/httpcore#1035, open for
httpcore 1.0.9): its bookkeeping grows with the square of the pool's size. With one pool of
128 streams it was the largest single cost in the worker's profile (bench/live.py under
cProfile, 2026-12-02: 1.1 million ``is_idle`` calls and 1.34 s in the pool's assignment pass in
one run; with pools of 16, 2,246 calls and 0.13 s).

:class:`ClientShards` keeps that cost flat: it lends out one of several ``httpx.AsyncClient``,
each with at most :data:`SHARD_CONNECTIONS` connections, choosing the one with the fewest
streams in hand. Their capacity together is at least ``capacity``, so while no more than
``capacity`` streams run, a stream never waits for a connection while another client has one
free. A client is made when first needed; all share one SSL context (building one reads the
system's certificates, about 20 ms of CPU).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx

SHARD_CONNECTIONS = 16  # connections per client


class ClientShards:
    """Lends ``httpx.AsyncClient`` for ``capacity`` streams at once (module docstring)."""

    def __init__(self, capacity: int, timeout: httpx.Timeout, size: int = SHARD_CONNECTIONS):
        self.size = size
        self.timeout = timeout
        count = max(1, -(-capacity // size))
        self._clients: list[httpx.AsyncClient | None] = [None] * count
        self._busy = [0] * count
        self._ssl = None

    def _client(self, k: int) -> httpx.AsyncClient:
        client = self._clients[k]
        if client is None:
            if self._ssl is None:
                self._ssl = httpx.create_ssl_context()
            limits = httpx.Limits(max_connections=self.size, max_keepalive_connections=self.size)
            client = httpx.AsyncClient(timeout=self.timeout, limits=limits, verify=self._ssl)
            self._clients[k] = client
        return client

    @property
    def busy(self) -> list[int]:
        """Streams in hand per client (for tests and logs)."""
        return list(self._busy)

    @contextlib.asynccontextmanager
    async def lease(self) -> AsyncIterator[httpx.AsyncClient]:
        """A client with a connection free for one stream, for the ``async with`` block."""
        k = min(range(len(self._busy)), key=self._busy.__getitem__)
        self._busy[k] += 1
        try:
            yield self._client(k)
        finally:
            self._busy[k] -= 1

    async def aclose(self) -> None:
        """Close every client made."""
        for client in self._clients:
            if client is not None:
                await client.aclose()
