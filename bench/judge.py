"""Judge throughput benchmark: judge jobs/s through the queue against a fixed-delay judge.

The judge is the stand-in server from ``tests/standin_judge.py`` (NOT a model:
it answers every request after a fixed delay). For 1, 4 and 16 worker slots
(``arena worker --queue judge`` processes, each running one judge job at a
time, a job calling both orders at once) it enqueues ``rounds x slots`` judge
jobs and measures jobs/s from the enqueue to the last job finished. The
ideal is ``slots / delay`` (every slot busy all the time, each job taking
exactly one reply delay); the ratio to it is printed. Each measurement follows
a warm-up of two jobs per slot (not counted), so the workers' first-job
imports and connections are not in the figure. Target: >= 0.8 at 16
slots. At the end the vote jobs are drained and checked: exactly one vote per
judged battle, source ``judge:bench``.

Then the parse-failure rate: for each format (prometheus, judgelm, mtbench) a
second stand-in answers in every official phrasing of the verdicts in turn
(``phrasings`` mode: prometheus-eval's parser cases, JudgeLM's score lines,
FastChat's ``[[A]]``), ``--phrasing-jobs`` jobs each with no parse retry, and
the verdicts lost (calls whose reply did not parse) are counted. Target: 0.

Usage::

    .venv/bin/python bench/judge.py [--delay 0.5] [--rounds 8] [--slots 1 4 16]
                                    [--database-url URL]

Defaults to a SQLite file and an embedded redis-server in a temporary folder;
``--database-url``: a PostgreSQL server, on which a scratch database is made and dropped.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rq import SimpleWorker, Worker
from sqlalchemy import func, select
from sqlmodel import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arena import db, runtime  # noqa: E402 (after sys.path names the repository)
from arena.cli.run import stop_processes  # noqa: E402 (after sys.path names the repository)
from arena.config import load  # noqa: E402 (after sys.path names the repository)
from arena.models import Battle, JudgeCall, Vote  # noqa: E402 (after sys.path names the repository)
from bench.scratch import scratch_database, seed  # noqa: E402 (after sys.path names the repository)
from tests.standin_judge import StandinJudge, write_config  # noqa: E402 (after sys.path names the repository)
from workers.judge import enqueue_jobs  # noqa: E402 (after sys.path names the repository)
from workers.judge_config import get_judge  # noqa: E402 (after sys.path names the repository)


def start_workers(n: int, config: Path, rt) -> list[subprocess.Popen]:
    env = dict(os.environ, ARENA_CONFIG=str(config))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "arena", "worker", "--queue", "judge", "--config", str(config)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(n)
    ]
    deadline = time.monotonic() + 120
    queue = rt.queue("judge")
    while Worker.count(queue=queue) < n:
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            stop_workers(procs)
            raise RuntimeError("judge workers did not start")
        time.sleep(0.1)
    return procs


def stop_workers(procs: list[subprocess.Popen]) -> None:
    stop_processes(procs, timeout=20)


def measure(rt, judge, n_jobs: int) -> tuple[float, int]:
    """Enqueue ``n_jobs`` and wait for them all; (seconds, failed jobs).

    Completion is read from rq's finished and failed registries (two cheap
    counts per poll), so watching costs the workers next to nothing.
    """
    queue = rt.queue("judge")
    finished, failed = queue.finished_job_registry, queue.failed_job_registry
    before = finished.get_job_count(cleanup=False), failed.get_job_count(cleanup=False)
    start = time.perf_counter()
    enqueue_jobs(queue, judge, n_jobs)
    while True:
        done_ok = finished.get_job_count(cleanup=False) - before[0]
        done_failed = failed.get_job_count(cleanup=False) - before[1]
        if done_ok + done_failed >= n_jobs:
            return time.perf_counter() - start, done_failed
        time.sleep(0.01)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay", type=float, default=0.5, help="stand-in reply delay (s)")
    parser.add_argument("--rounds", type=int, default=8, help="jobs per slot per measurement")
    parser.add_argument("--slots", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--phrasing-jobs", type=int, default=40, help="jobs per format on the phrasings stand-in"
    )
    args = parser.parse_args()

    from arena.redis_server import EmbeddedRedis

    folder = Path(tempfile.mkdtemp(prefix="arena-bench-judge-"))
    redis_server = EmbeddedRedis(folder / "redis")
    try:  # a scratch database that cannot be made must not leave redis-server running
        redis_url = redis_server.start()
        with scratch_database(args.database_url or f"sqlite:///{folder / 'bench.db'}") as url:
            return run(args, folder, redis_url, url)
    finally:
        redis_server.stop()
        shutil.rmtree(folder, ignore_errors=True)


PHRASED = ("prometheus", "judgelm", "mtbench")


def parse_failures(rt, n_jobs: int) -> bool:
    """Judge ``n_jobs`` battles per format on the phrasings stand-in; print lost verdicts."""
    print(f"{'format':>12} {'calls':>6} {'replies':>7} {'parse failures':>14} {'rate':>6}")
    lost = 0
    for fmt in PHRASED:
        name = f"phrasings-{fmt}"
        enqueue_jobs(rt.queue("judge"), get_judge(rt.settings, name), n_jobs)
        SimpleWorker([rt.queue("judge")], connection=rt.redis).work(
            burst=True, logging_level="WARNING"
        )
        with Session(rt.engine) as s:
            calls = s.execute(select(JudgeCall).where(JudgeCall.judge == name)).scalars().all()
        replies = [c for c in calls if c.raw_reply is not None]
        failed = [c for c in replies if (c.error or "").startswith("parse:")]
        lost += len(failed)
        rate = len(failed) / len(replies) if replies else float("nan")
        print(f"{fmt:>12} {len(calls):>6} {len(replies):>7} {len(failed):>14} {rate:>6.3f}")
    verdict = "met" if not lost else "NOT met"
    print(f"target: 0 lost verdicts on every official phrasing: {lost} ({verdict})")
    return lost == 0


def run(args, folder, redis_url, database_url) -> int:
    standin = StandinJudge(delay=args.delay).start()
    phrasings = StandinJudge("phrasings").start()
    try:
        db.upgrade(database_url)
        config = write_config(
            folder / "bench.toml",
            database_url=database_url,
            redis_url=redis_url,
            secret_key="bench",
            judges={
                "bench": {
                    "base_url": standin.base_url,
                    "model": "standin",
                    "format": "mtbench",
                    "timeout": 30.0,
                    "concurrency": 2 * max(args.slots),
                },
                **{
                    f"phrasings-{fmt}": {
                        "base_url": phrasings.base_url,
                        "model": "standin-phrasings",
                        "format": fmt,
                        "parse_retries": 0,  # a reply that does not parse is a lost verdict
                    }
                    for fmt in PHRASED
                },
            },
        )
        rt = runtime.configure(load(config, env={}))
        seed(rt.engine, n_models=6, n_prompts=20, marker="GOLD")
        judge = get_judge(rt.settings, "bench")
        print(
            f"stand-in judge (not a model), reply delay {args.delay:g} s; "
            f"{args.rounds} jobs per slot; database {database_url.split(':')[0]}"
        )
        print(
            f"{'slots':>5} {'jobs':>5} {'seconds':>8} {'jobs/s':>8} {'ideal':>8} "
            f"{'ratio':>6} {'failed':>6}"
        )
        total = 0
        ratios = {}
        for slots in args.slots:
            procs = start_workers(slots, config, rt)
            try:
                measure(rt, judge, 2 * slots)  # warm-up: first-job imports, connections
                n = args.rounds * slots
                seconds, failed = measure(rt, judge, n)
            finally:
                stop_workers(procs)
            total += n + 2 * slots
            rate, ideal = n / seconds, slots / args.delay
            ratios[slots] = rate / ideal
            print(
                f"{slots:>5} {n:>5} {seconds:>8.2f} {rate:>8.2f} {ideal:>8.2f} "
                f"{rate / ideal:>6.2f} {failed:>6}"
            )
        SimpleWorker([rt.queue("votes")], connection=rt.redis).work(
            burst=True, logging_level="WARNING"
        )
        with Session(rt.engine) as s:
            battles = s.execute(select(func.count()).select_from(Battle)).scalar_one()
            votes = s.execute(
                select(func.count()).select_from(Vote).where(Vote.source == "judge:bench")
            ).scalar_one()
            distinct = s.execute(select(func.count(func.distinct(Vote.battle_id)))).scalar_one()
            calls = s.execute(select(func.count()).select_from(JudgeCall)).scalar_one()
        print(
            f"jobs {total}, battles {battles}, judge calls {calls}, "
            f"stored votes {votes} ({distinct} distinct battles), "
            f"stand-in requests {len(standin.requests)}, "
            f"most requests in flight {standin.max_in_flight}"
        )
        ok = votes == distinct == battles == total and calls == 2 * total
        print(
            "votes: "
            + (
                "one per judged battle, none lost or doubled"
                if ok
                else "MISMATCH: lost or doubled votes"
            )
        )
        top = max(args.slots)
        print(
            f"target: >= 0.80 of ideal at {top} slots: {ratios[top]:.2f} "
            f"({'met' if ratios[top] >= 0.8 else 'NOT met'})"
        )
        print()
        print(
            "parse failures on a stand-in in every official phrasing "
            f"({args.phrasing_jobs} jobs per format):"
        )
        none_lost = parse_failures(rt, args.phrasing_jobs)
        return 0 if ok and none_lost else 1
    finally:
        phrasings.stop()
        standin.stop()
        db.dispose_all()


if __name__ == "__main__":
    sys.exit(main())
