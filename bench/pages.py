"""Page and read-API latency with 200 models and 1 M stored votes, under gunicorn.

Generates the votes (battles, votes and their ``pair_counts``) straight into a
scratch database, stores rating snapshots with :func:`arena.rating_store.recompute`,
starts gunicorn on loopback and measures p50/p99 latency of

* ``GET /healthz`` (the baseline: one database and one Redis round trip),
* ``GET /leaderboard``, ``GET /models/<name>``, ``GET /api/v1/leaderboard``,
  ``GET /api/v1/tiers``,

in ``--rounds`` interleaved rounds (each round requests every path in turn), so
a change in the machine's load reaches all alike. Target: every p99 under
3 x the healthz p99. Prints the ratios; exits 1 when a target is missed.

Usage::

    .venv/bin/python bench/pages.py [--models 200] [--votes 1000000] [--requests 200]
                                    [--rounds 4] [--clients 4] [--web-workers 2]
                                    [--bootstrap 100] [--database-url URL]
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import insert, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arena import db, rating_store  # noqa: E402 (after sys.path names the repository)
from arena.cli.run import stop_processes  # noqa: E402 (after sys.path names the repository)
from arena.models import Battle, Model, PairCount, Prompt, Vote  # noqa: E402 (after sys.path names the repository)
from arena.redis_server import EmbeddedRedis  # noqa: E402 (after sys.path names the repository)
from bench.ingest import in_threads, shares, start_web, wait_http  # noqa: E402 (after sys.path names the repository)
from bench.scratch import scratch_database, seed  # noqa: E402 (after sys.path names the repository)

CHOICES = np.array(["left", "right", "tie", "both_bad"])


def generate_votes(engine, n_votes: int, seed_: int = 0, batch: int = 50_000) -> None:
    """``n_votes`` battles with a human vote each, outcomes drawn from hidden strengths,
    and the matching ``pair_counts`` rows (what the vote job would have kept)."""
    rng = np.random.default_rng(seed_)
    with engine.connect() as conn:
        model_ids = np.array(conn.execute(select(Model.id).order_by(Model.id)).scalars().all())
        prompts = conn.execute(select(Prompt.id, Prompt.category)).all()
    prompt_ids = np.array([p[0] for p in prompts])
    prompt_cat = {p[0]: p[1] for p in prompts}
    strength = rng.normal(0, 1.2, size=len(model_ids))
    counts: dict[tuple, np.ndarray] = {}
    now = datetime.now(UTC)
    next_battle = 1
    for start in range(0, n_votes, batch):
        n = min(batch, n_votes - start)
        left = rng.integers(0, len(model_ids), n)
        right = (left + rng.integers(1, len(model_ids), n)) % len(model_ids)
        p_left = 1 / (1 + np.exp(strength[right] - strength[left]))
        u = rng.random(n)
        choice = np.where(u < 0.1, 2, np.where(u < 0.1 + 0.9 * p_left, 0, 1))
        prompt = prompt_ids[rng.integers(0, len(prompt_ids), n)]
        ids = np.arange(next_battle, next_battle + n)
        next_battle += n
        with engine.begin() as conn:
            conn.execute(
                insert(Battle),
                [
                    {
                        "id": int(b),
                        "prompt_id": int(p),
                        "left_model_id": int(model_ids[lm]),
                        "right_model_id": int(model_ids[rm]),
                        "issued_at": now,
                        "rater_id": f"r{int(b) % 5000}",
                        "origin": "bench",
                    }
                    for b, p, lm, rm in zip(ids, prompt, left, right)
                ],
            )
            conn.execute(
                insert(Vote),
                [
                    {
                        "battle_id": int(b),
                        "choice": CHOICES[c],
                        "winner": "tie" if c == 2 else f"m{int(model_ids[lm if c == 0 else rm])}",
                        "source": "human",
                        "rater_id": f"r{int(b) % 5000}",
                        "created_at": now,
                    }
                    for b, c, lm, rm in zip(ids, choice, left, right)
                ],
            )
        for p, lm, rm, c in zip(prompt, left, right, choice):
            key = (prompt_cat[int(p)], int(model_ids[lm]), int(model_ids[rm]))
            row = counts.get(key)
            if row is None:
                row = counts[key] = np.zeros(4, np.int64)
            row[c] += 1
    with engine.begin() as conn:
        conn.execute(
            insert(PairCount),
            [
                {
                    "category": cat,
                    "source": "human",
                    "rater_group": "",
                    "left_model_id": lm,
                    "right_model_id": rm,
                    "left_wins": int(c[0]),
                    "right_wins": int(c[1]),
                    "ties": int(c[2]),
                    "both_bad": int(c[3]),
                }
                for (cat, lm, rm), c in counts.items()
            ],
        )


def timed_gets(client: httpx.Client, url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        res = client.get(url)
        out.append(time.perf_counter() - t0)
        if res.status_code != 200:
            raise RuntimeError(f"{url}: {res.status_code} {res.text[:200]}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=int, default=200)
    ap.add_argument("--votes", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=200, help="per path, over all rounds")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--web-workers", type=int, default=2)
    ap.add_argument("--bootstrap", type=int, default=100)
    ap.add_argument("--database-url", default=os.environ.get("ARENA_BENCH_DATABASE_URL", ""))
    args = ap.parse_args()
    if min(args.models, args.votes, args.requests, args.rounds, args.clients) < 2:
        ap.error("every count must be at least 2")
    tmp = Path(tempfile.mkdtemp(prefix="arena-bench-pages-"))
    try:
        with scratch_database(args.database_url or f"sqlite:///{tmp / 'arena.db'}") as url:
            return run(args, tmp, url)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, tmp: Path, url: str) -> int:
    db.upgrade(url)
    engine = db.get_engine(url)
    seed(engine, n_models=args.models, n_prompts=40, categories=("coding", "math", "writing"))
    t0 = time.perf_counter()
    generate_votes(engine, args.votes)
    print(f"generated {args.votes} votes in {time.perf_counter() - t0:.1f} s", flush=True)
    t0 = time.perf_counter()
    report = rating_store.recompute(
        engine,
        {
            "bootstrap": args.bootstrap,
            "seed": 42,
            "confidence": 0.95,
            "min_battles": 0,
            "components": "largest",
            "keep_snapshots": 10,
            "method": "bt",
        },
        scopes=[(None, "human", None), ("coding", "human", None), ("math", "human", None)],
    )
    print(
        f"stored {len(report)} snapshots in {time.perf_counter() - t0:.1f} s "
        f"({args.bootstrap} bootstrap rounds)",
        flush=True,
    )
    redis_server = EmbeddedRedis(tmp / "redis")
    procs: list[subprocess.Popen] = []
    try:
        redis_url = redis_server.start()
        port, _, web = start_web(tmp, url, redis_url, args.web_workers)
        procs.append(web)
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/healthz")
        paths = {
            "healthz": "/healthz",
            "leaderboard page": "/leaderboard",
            "model page": "/models/bench-model-7",
            "api leaderboard": "/api/v1/leaderboard",
            "api tiers": "/api/v1/tiers",
        }
        clients = [httpx.Client(timeout=60) for _ in range(args.clients)]
        for path in paths.values():  # warm up: every worker parses the snapshot once
            in_threads([functools.partial(timed_gets, c, base + path, 5) for c in clients])
        times: dict[str, list[float]] = {name: [] for name in paths}
        per_round = shares(args.requests, args.rounds)
        for r in range(args.rounds):
            for name, path in paths.items():
                _, results = in_threads(
                    [
                        functools.partial(timed_gets, c, base + path, n)
                        for c, n in zip(clients, shares(per_round[r], args.clients))
                    ]
                )
                times[name] += [t for res in results for t in res]
        base_p99 = float(np.percentile(times["healthz"], 99))
        print(
            f"\n{args.models} models, {args.votes} votes, {args.web_workers} gunicorn workers, "
            f"{args.clients} clients, {args.requests} requests per path in {args.rounds} rounds"
        )
        print(f"{'path':<18}{'p50 ms':>9}{'p99 ms':>9}{'p99 / healthz p99':>20}")
        ok = True
        for name, values in times.items():
            p50, p99 = (float(np.percentile(values, q)) for q in (50, 99))
            ratio = p99 / base_p99
            ok &= name == "healthz" or ratio < 3
            print(f"{name:<18}{p50 * 1000:>9.1f}{p99 * 1000:>9.1f}{ratio:>20.2f}")
        print("target p99 < 3 x healthz p99:", "met" if ok else "MISSED")
        return 0 if ok else 1
    finally:
        stop_processes(procs)
        redis_server.stop()


if __name__ == "__main__":
    sys.exit(main())
