"""Finding 1 of issue 10: exactly one 202 per battle, ever, under concurrent votes.

Real parts: the app behind a threaded HTTP server on loopback, clients in threads
(httpx), the vote worker ``arena worker`` in a subprocess, real Redis, SQLite and
PostgreSQL. Each token is voted by several clients at once; and a storm of re-votes
runs across the moment the worker stores the first vote and deletes its job (where
the old accept path, "no vote stored yet" then a unique enqueue, answered 202 twice).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import Session
from werkzeug.serving import make_server

from arena.app import create_app
from arena.models import Battle, Vote
from tests.conftest import ROOT, seed


@pytest.fixture
def server(settings, rt):
    seed(rt.engine, n_models=6, n_prompts=8)
    app = create_app(settings)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(10)


@pytest.fixture
def worker(settings, tmp_path):
    """``arena worker`` in a subprocess, stopped (by its pid) at the end."""
    env = dict(
        os.environ,
        ARENA_DATABASE_URL=settings.database_url,
        ARENA_REDIS_URL=settings.redis_url,
        ARENA_INSTANCE=str(tmp_path / "instance"),
        ARENA_SECRET_KEY="test-secret",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "arena", "worker", "--log-level", "WARNING"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield proc
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def tokens(base: str, n: int) -> list[str]:
    with httpx.Client(base_url=base) as client:
        return [client.post("/api/v1/battles").json()["battle_token"] for _ in range(n)]


def vote(base: str, token: str, choice: str) -> int:
    with httpx.Client(base_url=base, timeout=30) as client:
        return client.post(
            "/api/v1/votes", json={"battle_token": token, "choice": choice}
        ).status_code


def stored(engine) -> tuple[int, int]:
    with Session(engine) as s:
        return (
            s.execute(select(func.count()).select_from(Vote)).scalar_one(),
            s.execute(select(func.count()).select_from(Battle)).scalar_one(),
        )


def wait_stored(engine, n: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while stored(engine)[0] < n and time.monotonic() < deadline:
        time.sleep(0.1)


def test_clients_voting_one_token_at_once_get_one_202(server, worker, rt):
    """Eight clients vote each of 30 tokens at the same moment: one 202, seven 409s."""
    n_tokens, per_token = 30, 8
    statuses: dict[int, list[int]] = {}
    with ThreadPoolExecutor(per_token) as pool:
        for i, token in enumerate(tokens(server, n_tokens)):
            gate = threading.Barrier(per_token)

            def go(choice, token=token, gate=gate):
                gate.wait()
                return vote(server, token, choice)

            choices = ["left", "right", "tie", "both_bad"] * (per_token // 4)
            statuses[i] = list(pool.map(go, choices))
    twice = {i: s for i, s in statuses.items() if Counter(s)[202] != 1}
    assert not twice, f"tokens without exactly one 202: {twice}"
    assert all(set(s) == {202, 409} for s in statuses.values())
    wait_stored(rt.engine, n_tokens)
    assert stored(rt.engine) == (n_tokens, n_tokens)


def test_revote_storm_across_the_store_gets_one_202(server, worker, rt):
    """Eight clients vote one token over and over for 0.4 s, through the first vote's
    acceptance, the worker storing it and deleting its job: one 202 per token in all."""
    n_tokens, clients, seconds = 12, 8, 0.4
    per_token: dict[str, Counter] = {}
    with ThreadPoolExecutor(clients) as pool:
        for token in tokens(server, n_tokens):
            gate = threading.Barrier(clients)

            def storm(choice, token=token, gate=gate) -> Counter:
                seen: Counter = Counter()
                with httpx.Client(base_url=server, timeout=30) as client:
                    gate.wait()
                    stop = time.monotonic() + seconds
                    while time.monotonic() < stop:
                        body = {"battle_token": token, "choice": choice}
                        seen[client.post("/api/v1/votes", json=body).status_code] += 1
                return seen

            per_token[token] = sum(pool.map(storm, ["left", "right"] * (clients // 2)), Counter())
    twice = [dict(c) for c in per_token.values() if c[202] != 1]
    assert not twice, f"tokens without exactly one 202: {twice}"
    assert all(set(c) == {202, 409} for c in per_token.values())
    wait_stored(rt.engine, n_tokens)
    assert stored(rt.engine) == (n_tokens, n_tokens)
