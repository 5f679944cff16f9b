"""Vote ingestion benchmark: gunicorn + rq workers on loopback, concurrent clients.

Measures, in one run on the same servers:

* ``GET /healthz`` requests/s (the baseline: one database and one Redis round trip);
* votes/s from accept to stored: battles are drawn first (not timed), then the
  clients vote on them and the workers store the votes; the clock runs from the
  first vote sent to the last vote stored in the database;
* p50/p99 latency of ``POST /api/v1/votes`` (accept: checked and queued);
* that no vote was lost or duplicated (stored == accepted, pair_counts agree);
* on Linux, the CPU time per request of the web workers, the rq workers, Redis,
  the clients (this process) and everything else on the machine (with PostgreSQL,
  mostly its server), for each phase.

The two phases alternate in ``--rounds`` rounds (healthz, then votes, each time
a share of the requests), so a change in the machine's speed or load during the
run reaches both alike; each round's votes are all stored before the next round
starts. Target: stored votes/s >= 0.5 x healthz requests/s.

Usage::

    .venv/bin/python bench/ingest.py [--votes 3000] [--health 6000] [--rounds 3]
                                     [--clients 8] [--web-workers 2] [--rq-workers 1]
                                     [--database-url URL]

Defaults to a SQLite file and an embedded redis-server in a temporary folder; a PostgreSQL
``--database-url`` names a server, on which a scratch database is made and dropped.
"""

from __future__ import annotations

import argparse
import functools
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

from arena import db  # noqa: E402 (after sys.path names the repository)
from arena.cli.run import stop_processes  # noqa: E402 (after sys.path names the repository)
from arena.models import PairCount, Vote  # noqa: E402 (after sys.path names the repository)
from arena.redis_server import EmbeddedRedis, free_port  # noqa: E402 (after sys.path names the repository)
from bench import cputime  # noqa: E402 (after sys.path names the repository)
from bench.scratch import scratch_database, seed  # noqa: E402 (after sys.path names the repository)


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


def check_health(client: httpx.Client, url: str, n: int) -> list[int]:
    """``n`` health checks in a row; their status codes."""
    return [client.get(url).status_code for _ in range(n)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--votes", type=int, default=3000)
    ap.add_argument("--health", type=int, default=6000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--web-workers", type=int, default=2)
    ap.add_argument(
        "--rq-workers",
        type=int,
        default=1,
        help="arena worker processes (one stores in batches all the votes this "
        "machine accepts; more on one machine split the batches)",
    )
    ap.add_argument("--database-url", default=os.environ.get("ARENA_BENCH_DATABASE_URL", ""))
    args = ap.parse_args()
    if (
        min(args.votes, args.health, args.rounds, args.clients, args.web_workers, args.rq_workers)
        < 1
        or args.votes < args.rounds
        or args.health < args.rounds
    ):
        ap.error("every count must be at least 1, and --votes and --health at least --rounds")

    tmp = Path(tempfile.mkdtemp(prefix="arena-bench-"))
    try:
        with scratch_database(args.database_url or f"sqlite:///{tmp / 'arena.db'}") as url:
            return run(args, tmp, url)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class Rater:
    """One client as a person at the battle page: its own connection and session
    cookie (so its rater id), drawing battles and then voting on them.

    The cookie the first battle set is sent as a plain header from then on, as a
    browser sends it: httpx's cookie jar (Python's ``http.cookiejar``) costs the
    shared CPU more per request than the server's whole token check, a cost of
    the load generator, not of the server being measured.
    """

    def __init__(self, base: str):
        self.base = base
        self.client = httpx.Client(timeout=30)
        self.tokens: list[str] = []
        self.headers: dict[str, str] = {}

    def draw(self, n: int) -> None:
        for _ in range(n):
            res = self.client.post(self.base + "/api/v1/battles", headers=self.headers)
            self.tokens.append(res.json()["battle_token"])
            if not self.headers:
                self.headers = {"Cookie": f"session={self.client.cookies['session']}"}
            self.client.cookies.clear()  # the jar stays empty: nothing for httpx to match

    def vote(self, n: int) -> list[tuple[int, float]]:
        """Vote on the next ``n`` battles drawn; (status, seconds) of each request."""
        out = []
        for _ in range(n):
            token = self.tokens.pop(0)
            t0 = time.perf_counter()
            res = self.client.post(
                self.base + "/api/v1/votes",
                headers=self.headers,
                json={"battle_token": token, "choice": "left"},
            )
            out.append((res.status_code, time.perf_counter() - t0))
        return out


def in_threads(calls) -> tuple[float, list]:
    """Run the callables at once, one thread each; (seconds, their results).

    The first exception a callable raised is raised here, after all have ended.
    """
    results: list = [None] * len(calls)
    errors: list[BaseException] = []

    def run_one(k):
        try:
            results[k] = calls[k]()
        except BaseException as exc:  # re-raised in the calling thread
            errors.append(exc)

    threads = [threading.Thread(target=run_one, args=(k,)) for k in range(len(calls))]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - start, results


def stored_votes(engine) -> int:
    with Session(engine) as s:
        return s.execute(select(func.count()).select_from(Vote)).scalar_one()


def shares(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` near-equal whole shares."""
    return [total // parts + (k < total % parts) for k in range(parts)]


def start_web(tmp: Path, url: str, redis_url: str, workers: int):
    """gunicorn with ``workers`` on a free loopback port, on the database ``url`` and Redis
    ``redis_url`` (rate limits and recomputes off); ``(port, env, process)``, ``env`` being
    the environment other Arena processes of the run should get."""
    port = free_port()
    env = dict(
        os.environ,
        ARENA_DATABASE_URL=url,
        ARENA_REDIS_URL=redis_url,
        ARENA_INSTANCE=str(tmp),
        ARENA_SECRET_KEY="bench",
        ARENA_CONFIG=str(tmp / "c.toml"),
    )
    (tmp / "c.toml").write_text("[limits]\nenabled = false\n[rating]\nrecompute_every = 0\n")
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    process = subprocess.Popen(
        [
            gunicorn,
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "arena.app:create_app()",
        ],
        env=env,
        cwd=tmp,
    )
    return port, env, process


def run(args, tmp: Path, url: str) -> int:
    db.upgrade(url)
    engine = db.get_engine(url)
    seed(engine, n_models=8, n_prompts=20, categories=("a", "b"))
    redis_server = EmbeddedRedis(tmp / "redis")
    procs: list[subprocess.Popen] = []
    try:  # whatever fails to start, what did start is stopped
        redis_url = redis_server.start()
        port, env, web = start_web(tmp, url, redis_url, args.web_workers)
        procs.append(web)
        for _ in range(args.rq_workers):
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "arena",
                        "worker",
                        "--queue",
                        "votes",
                        "--log-level",
                        "WARNING",
                    ],
                    env=env,
                    cwd=tmp,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/healthz")
        # The health checkers and the raters each keep their client (and connection
        # pool) for the whole run, as the clients of a real server do.
        checkers = [httpx.Client(timeout=30) for _ in range(args.clients)]
        in_threads(
            [functools.partial(check_health, c, base + "/healthz", 25) for c in checkers]
        )  # warm up
        groups = {
            "web": [procs[0].pid],
            "workers": [p.pid for p in procs[1:]],
            "redis": [redis_server.process.pid],
        }

        # Battles are drawn first (not timed): the timed part is the vote path,
        # from the POST that accepts a vote to the row stored by a worker. Each
        # client votes on the battles it drew, with the same session, as a person
        # at the battle page does.
        raters = [Rater(base) for _ in range(args.clients)]
        in_threads(
            [functools.partial(r.draw, n) for r, n in zip(raters, shares(args.votes, args.clients))]
        )

        health_secs = vote_secs = 0.0
        accepted = stored = 0
        cpu = {"healthz": {}, "votes": {}}
        round_ratios, latencies = [], []
        # Each rater's battles, split over the rounds.
        plans = [shares(len(r.tokens), args.rounds) for r in raters]
        for k, n_health in enumerate(shares(args.health, args.rounds)):
            n_votes = sum(plan[k] for plan in plans)
            before = cputime.snapshot(groups) if cputime.available() else None
            secs, res = in_threads(
                [
                    functools.partial(check_health, c, base + "/healthz", n)
                    for c, n in zip(checkers, shares(n_health, args.clients))
                ]
            )
            assert all(status == 200 for part in res for status in part)
            health_secs += secs
            if before:
                add_cpu(cpu["healthz"], cputime.used(before, cputime.snapshot(groups)))
            before = cputime.snapshot(groups) if cputime.available() else None
            start = time.perf_counter()
            _, res = in_threads(
                [functools.partial(r.vote, plan[k]) for r, plan in zip(raters, plans)]
            )
            res = [item for part in res for item in part]
            accepted += sum(1 for status, _ in res if status == 202)
            latencies += [t for _, t in res]
            while True:
                stored = stored_votes(engine)
                if stored >= accepted or time.perf_counter() - start > 300:
                    break
                time.sleep(0.02)
            elapsed = time.perf_counter() - start
            vote_secs += elapsed
            if before:
                add_cpu(cpu["votes"], cputime.used(before, cputime.snapshot(groups)))
            round_ratios.append((n_votes / elapsed) / (n_health / secs))
        with Session(engine) as s:
            counted = s.execute(
                select(
                    func.sum(
                        PairCount.left_wins
                        + PairCount.right_wins
                        + PairCount.ties
                        + PairCount.both_bad
                    )
                )
            ).scalar_one()
            distinct = s.execute(select(func.count(func.distinct(Vote.battle_id)))).scalar_one()
        lat = np.array(latencies) * 1000
        health_rate = args.health / health_secs
        vote_rate = stored / vote_secs
        print(f"database                 {url.split(':')[0]}")
        print(
            f"web workers / rq workers {args.web_workers} / {args.rq_workers}, "
            f"{args.clients} clients, {args.rounds} rounds"
        )
        print(f"healthz                  {health_rate:8.1f} req/s")
        print(
            f"votes accepted / stored  {accepted} / {stored} (distinct battles {distinct}, "
            f"pair_counts total {counted})"
        )
        print(
            f"votes stored             {vote_rate:8.1f} votes/s (first vote sent to last "
            f"stored, summed over rounds: {vote_secs:.2f} s)"
        )
        print(
            f"accept latency           p50 {np.percentile(lat, 50):.1f} ms, "
            f"p99 {np.percentile(lat, 99):.1f} ms"
        )
        ratio = vote_rate / health_rate
        print(
            f"ratio votes/healthz      {ratio:.2f} (target >= 0.5; rounds "
            f"{min(round_ratios):.2f}-{max(round_ratios):.2f})"
        )
        if cpu["healthz"]:
            print_cpu(cpu, {"healthz": args.health, "votes": args.votes})
        ok = stored == accepted == distinct == counted == args.votes
        print("no vote lost or duplicated" if ok else "MISMATCH: votes lost or duplicated")
        return 0 if ok else 1
    finally:
        for client in locals().get("checkers", []) + [r.client for r in locals().get("raters", [])]:
            client.close()
        stop_processes(procs)
        redis_server.stop()


def add_cpu(total: dict[str, float], spent: dict[str, float]) -> None:
    for name, seconds in spent.items():
        total[name] = total.get(name, 0.0) + seconds


def print_cpu(cpu: dict[str, dict[str, float]], requests: dict[str, int]) -> None:
    """CPU ms per request of each process group, per phase."""
    names = ["web", "workers", "redis", "this", "other"]
    print(
        "cpu ms per request       "
        + " ".join(f"{n if n != 'this' else 'clients':>8}" for n in names)
        + "     all"
    )
    for phase, spent in cpu.items():
        per = [spent.get(n, 0.0) * 1000 / requests[phase] for n in names]
        print(f"  {phase:<22} " + " ".join(f"{v:8.2f}" for v in per) + f" {sum(per):8.2f}")


if __name__ == "__main__":
    sys.exit(main())
