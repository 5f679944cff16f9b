"""Vote ingestion benchmark: gunicorn + rq workers on loopback, concurrent clients.

Measures, in one run on the same servers:

* ``GET /healthz`` requests/s (the baseline: one database and one Redis round trip);
* votes/s from accept to stored: clients draw a battle and vote on it, workers
  store the votes; the clock runs from the first vote sent to the last vote
  stored in the database;
* p50/p99 latency of ``POST /api/v1/votes`` (accept: checked and queued);
* that no vote was lost or duplicated (stored == accepted, pair_counts agree).

Target: stored votes/s >= 0.5 x healthz requests/s.

Usage::

    .venv/bin/python bench/ingest.py [--votes 3000] [--clients 8] [--web-workers 2]
                                     [--rq-workers 2] [--database-url URL]

Defaults to a SQLite file and an embedded redis-server in a temporary folder; a PostgreSQL
``--database-url`` names a server, on which a scratch database is made and dropped.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import func, select
from sqlmodel import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arena import db, queue  # noqa: E402
from arena.cli.run import stop_processes  # noqa: E402
from arena.queue import free_port  # noqa: E402
from bench.scratch import scratch_database, seed  # noqa: E402
from arena.models import PairCount, Vote  # noqa: E402


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def run_clients(n_clients: int, total: int, task) -> tuple[float, list]:
    """Run ``task(client)`` ``total`` times over ``n_clients`` threads; (seconds, results)."""
    counter = iter(range(total))
    lock = threading.Lock()
    results: list = []

    def loop():
        with httpx.Client(timeout=30) as client:
            while True:
                with lock:
                    if next(counter, None) is None:
                        return
                results.append(task(client))

    threads = [threading.Thread(target=loop) for _ in range(n_clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--votes", type=int, default=3000)
    ap.add_argument("--health", type=int, default=6000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--web-workers", type=int, default=2)
    ap.add_argument("--rq-workers", type=int, default=2)
    ap.add_argument("--database-url", default=os.environ.get("ARENA_BENCH_DATABASE_URL", ""))
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="arena-bench-"))
    try:
        with scratch_database(args.database_url or f"sqlite:///{tmp / 'arena.db'}") as url:
            return run(args, tmp, url)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, tmp: Path, url: str) -> int:
    db.upgrade(url)
    engine = db.get_engine(url)
    seed(engine, n_models=8, n_prompts=20, categories=("a", "b"))
    redis_server = queue.EmbeddedRedis(tmp / "redis")
    procs: list[subprocess.Popen] = []
    try:  # whatever fails to start, what did start is stopped
        redis_url = redis_server.start()
        port = free_port()
        env = dict(os.environ, ARENA_DATABASE_URL=url, ARENA_REDIS_URL=redis_url,
                   ARENA_INSTANCE=str(tmp), ARENA_SECRET_KEY="bench",
                   ARENA_CONFIG=str(tmp / "c.toml"))
        (tmp / "c.toml").write_text("[limits]\nenabled = false\n[rating]\nrecompute_every = 0\n")
        bin_dir = Path(sys.executable).parent
        procs.append(subprocess.Popen(
            [str(bin_dir / "gunicorn"), "-w", str(args.web_workers), "-b", f"127.0.0.1:{port}",
             "--log-level", "warning", "arena.app:create_app()"], env=env, cwd=tmp))
        for _ in range(args.rq_workers):
            procs.append(subprocess.Popen([sys.executable, "-m", "arena", "worker", "--queue",
                                           "votes", "--log-level", "WARNING"],
                                          env=env, cwd=tmp, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/healthz")
        run_clients(args.clients, 200, lambda c: c.get(base + "/healthz"))  # warm up
        secs, res = run_clients(args.clients, args.health, lambda c: c.get(base + "/healthz"))
        assert all(r.status_code == 200 for r in res)
        health_rate = args.health / secs

        # Battles are drawn first (not timed): the timed part is the vote path,
        # from the POST that accepts a vote to the row stored by a worker.
        _, battles = run_clients(args.clients, args.votes,
                                 lambda c: c.post(base + "/api/v1/battles").json()["battle_token"])

        tokens = iter(battles)
        lock = threading.Lock()

        def vote(client):
            with lock:
                token = next(tokens)
            t0 = time.perf_counter()
            r = client.post(base + "/api/v1/votes", json={"battle_token": token, "choice": "left"})
            return r.status_code, time.perf_counter() - t0

        start = time.perf_counter()
        accept_secs, res = run_clients(args.clients, args.votes, vote)
        accepted = sum(1 for status, _ in res if status == 202)
        while True:
            with Session(engine) as s:
                stored = s.execute(select(func.count()).select_from(Vote)).scalar_one()
            if stored >= accepted or time.perf_counter() - start > 300:
                break
            time.sleep(0.02)
        elapsed = time.perf_counter() - start
        with Session(engine) as s:
            counted = s.execute(select(func.sum(PairCount.left_wins + PairCount.right_wins
                                                + PairCount.ties + PairCount.both_bad))
                                ).scalar_one()
            distinct = s.execute(select(func.count(func.distinct(Vote.battle_id)))).scalar_one()
        lat = np.array([t for _, t in res]) * 1000
        vote_rate = stored / elapsed
        print(f"database                 {url.split(':')[0]}")
        print(f"web workers / rq workers {args.web_workers} / {args.rq_workers}, "
              f"{args.clients} clients")
        print(f"healthz                  {health_rate:8.1f} req/s")
        print(f"votes accepted / stored  {accepted} / {stored} (distinct battles {distinct}, "
              f"pair_counts total {counted})")
        print(f"votes stored             {vote_rate:8.1f} votes/s (first vote sent to last "
              f"stored: {elapsed:.2f} s)")
        print(f"votes accepted           {args.votes / accept_secs:8.1f} votes/s "
              f"(POST /api/v1/votes answered 202)")
        print(f"accept latency           p50 {np.percentile(lat, 50):.1f} ms, "
              f"p99 {np.percentile(lat, 99):.1f} ms")
        ratio = vote_rate / health_rate
        print(f"ratio votes/healthz      {ratio:.2f} (target >= 0.5)")
        ok = stored == accepted == distinct == counted == args.votes
        print("no vote lost or duplicated" if ok else "MISMATCH: votes lost or duplicated")
        return 0 if ok else 1
    finally:
        stop_processes(procs)
        redis_server.stop()


if __name__ == "__main__":
    sys.exit(main())
