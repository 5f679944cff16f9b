"""The generation worker alone: time to first token it adds, and its CPU per streamed chunk.

Against the stand-in models (``arena.demo_models``, NOT models) in a process of their own,
one ``arena worker --generate`` process, an embedded redis-server and a scratch database:

1. **Time to first token**, ``--sequential`` battles one after another: calling the
   stand-in directly (first content chunk over HTTP) and through the worker (from
   :func:`arena.live.request_generation` to the first ``delta`` entry in the battle's
   Redis Stream, read with a blocking XREAD). The web app's relay is not in this
   figure (bench/live.py measures the whole path through gunicorn). Then the same for
   **follow-ups**, asked as the web app asks (the requests carry the models and the
   conversation: the worker calls the model before it reads the database) and, as the
   baseline in the same run, bare (the worker reads the database first), alternating.
2. **Many streams at once**: ``--battles`` battles started together (two streams each,
   ``--chunks`` chunks, ``--delay`` s apart): wall time until every battle's ``status``
   entry is in, every side's streamed text byte-identical to the stored answer and to
   what the stand-in sends for that prompt, and the worker process's CPU seconds per chunk
   (bench/cputime.py; ``other`` is what the rest of the machine did meanwhile).

Usage::

    .venv/bin/python bench/generate.py [--battles 64] [--chunks 200] [--delay 0.01]
                                       [--first-delay 0] [--sequential 20] [--database-url URL]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from sqlmodel import Session  # noqa: E402

from arena import db, live, live_view, runtime  # noqa: E402 (after sys.path names the repository)
from arena.cli.run import stop_processes  # noqa: E402 (after sys.path names the repository)
from arena.config import load  # noqa: E402 (after sys.path names the repository)
from arena.demo_models import default_answer  # noqa: E402 (after sys.path names the repository)
from arena.redis_server import EmbeddedRedis, free_port  # noqa: E402 (after sys.path names it)
from bench import cputime  # noqa: E402 (after sys.path names the repository)
from bench.scratch import scratch_database  # noqa: E402 (after sys.path names the repository)

MODELS = ("alpha", "beta")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))] * 1000


def start_battle(rt, i: int, text: str) -> int:
    with Session(rt.engine) as s:
        battle_id = live.start(
            s, rt.settings, np.random.default_rng(i), text=text, rater_id="bench"
        )
        s.commit()
    live.request_generation(rt.redis, rt.settings, battle_id, 1, 0)
    return battle_id


def last_entry(rt, battle_id: int) -> str:
    """The id of the battle stream's newest entry."""
    return rt.redis.xrevrange(live.stream_key(battle_id), count=1)[0][0].decode()


def first_delta_after(rt, battle_id: int, t0: float, after: str = "0") -> float:
    """Seconds from ``t0`` until the battle's first delta entry after ``after`` (blocking
    XREAD)."""
    key, last = live.stream_key(battle_id), after
    while True:
        for _, entries in rt.redis.xread({key: last}, block=5000) or []:
            for entry_id, fields in entries:
                last = entry_id
                if fields[b"kind"] == b"delta":
                    return time.perf_counter() - t0


def settled(rt, battle_id: int, after: str = "0") -> None:
    """Wait for the battle's ``status`` entry after ``after``."""
    key, last = live.stream_key(battle_id), after
    while True:
        for _, entries in rt.redis.xread({key: last}, block=5000) or []:
            for entry_id, fields in entries:
                last = entry_id
                if fields[b"kind"] == b"status":
                    return


def time_to_first_token(rt, base_url: str, n: int) -> None:
    direct, via = [], []
    body = {"model": "alpha", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with httpx.Client() as client:
        for _ in range(n):
            t0 = time.perf_counter()
            with client.stream("POST", f"{base_url}/chat/completions", json=body) as res:
                for line in res.iter_lines():
                    if '"content": "' in line and '"content": ""' not in line:
                        direct.append(time.perf_counter() - t0)
                        break
    for i in range(n):
        with Session(rt.engine) as s:
            battle_id = live.start(
                s, rt.settings, np.random.default_rng(i), text="hi", rater_id="bench"
            )
            s.commit()
        t0 = time.perf_counter()
        live.request_generation(rt.redis, rt.settings, battle_id, 1, 0)
        via.append(first_delta_after(rt, battle_id, t0))
        settled(rt, battle_id)  # one battle at a time: the worker is otherwise idle
    for name, xs in (("stand-in directly", direct), ("through the worker", via)):
        print(
            f"time to first token, {name:>18}: p50 {pct(xs, 0.5):5.1f} ms  "
            f"p90 {pct(xs, 0.9):5.1f} ms  p99 {pct(xs, 0.99):5.1f} ms  ({len(xs)} runs)"
        )
    print(f"added by the worker (p50): {pct(via, 0.5) - pct(direct, 0.5):.1f} ms")


def follow_up_ttft(rt, n: int) -> None:
    """Time to first token of follow-ups with and without the conversation in the request:
    each battle asks turn 2 one way and turn 3 the other (alternating which goes first)."""
    times: dict[bool, list[float]] = {True: [], False: []}
    for i in range(n):
        battle_id = start_battle(rt, 10_000 + i, "hi")
        settled(rt, battle_id)
        for k, hint in enumerate((i % 2 == 0, i % 2 == 1)):
            with Session(rt.engine) as s:
                stored = live.follow_up(s, rt.settings, battle_id, f"and then ({k})?")
                s.commit()
            after = last_entry(rt, battle_id)
            carried = {"models": stored.models, "conversations": stored.conversations()}
            t0 = time.perf_counter()
            live.request_generation(
                rt.redis, rt.settings, battle_id, stored.turn, 0, **(carried if hint else {})
            )
            times[hint].append(first_delta_after(rt, battle_id, t0, after))
            settled(rt, battle_id, after)
    for name, hint in (("conversation in the request", True), ("bare (baseline)", False)):
        xs = times[hint]
        print(
            f"follow-up time to first token, {name:>27}: p50 {pct(xs, 0.5):5.1f} ms  "
            f"p90 {pct(xs, 0.9):5.1f} ms  ({len(xs)} runs)"
        )
    print(f"ratio (p50, with / without): {pct(times[True], 0.5) / pct(times[False], 0.5):.2f}")


def many_streams(rt, worker_pid: int, n: int, chunks: int) -> bool:
    before = cputime.snapshot({"worker": [worker_pid]})
    t0 = time.perf_counter()
    prompts = {
        start_battle(rt, 1000 + i, f"Question {i}: how do rivers form?"): i for i in range(n)
    }
    pending = set(prompts)
    while pending:
        for battle_id in list(pending):
            last = rt.redis.xrevrange(live.stream_key(battle_id), count=1)
            if last and last[0][1][b"kind"] == b"status":
                pending.discard(battle_id)
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    spent = cputime.used(before, cputime.snapshot({"worker": [worker_pid]}))
    exact = 0
    with Session(rt.engine) as s:
        for battle_id, i in prompts.items():
            stored = live.current_messages(s, battle_id)
            entries = rt.redis.xrange(live.stream_key(battle_id))
            view = live_view.view(s, battle_id)
            names = {side: name for side, name in zip(("left", "right"), _names(s, battle_id))}
            for side in ("left", "right"):
                deltas = [
                    f[b"text"].decode()
                    for _, f in entries
                    if f[b"kind"] == b"delta" and f[b"side"] == side.encode()
                ]
                sent = default_answer(
                    names[side], [{"role": "user", "content": f"Question {i}: how do rivers form?"}]
                )
                exact += (
                    "".join(deltas) == stored[(1, side)].text == sent
                    and len(deltas) == chunks
                    and view["status"] == "ready"
                )
    total = 2 * n
    print(
        f"{n} battles at once ({total} streams x {chunks} chunks): all settled in {wall:.2f} s; "
        f"byte-identical with {chunks} chunks: {exact}/{total}"
    )
    print(
        f"worker CPU {spent['worker']:.2f} s = {1e6 * spent['worker'] / (total * chunks):.0f} us "
        f"per chunk (the rest of the machine meanwhile: {spent['other']:.1f} CPU s)"
    )
    return exact == total


def _names(session, battle_id: int) -> tuple[str, str]:
    from arena.models import Battle, Model

    b = session.get(Battle, battle_id)
    return session.get(Model, b.left_model_id).name, session.get(Model, b.right_model_id).name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--battles", type=int, default=64)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.01, help="seconds between chunks")
    parser.add_argument(
        "--first-delay", type=float, default=0.0, help="the stand-in's time to first token, s"
    )
    parser.add_argument("--sequential", type=int, default=20)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="arena-bench-generate-"))
    redis_server = EmbeddedRedis(folder / "redis")
    procs: list[subprocess.Popen] = []
    try:
        redis_url = redis_server.start()
        with scratch_database(args.database_url or f"sqlite:///{folder / 'bench.db'}") as url:
            db.upgrade(url)
            port = free_port()
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "arena.demo_models",
                        *MODELS,
                        "--port",
                        str(port),
                        "--chunks",
                        str(args.chunks),
                        "--delay",
                        str(args.delay),
                        "--first-delay",
                        str(args.first_delay),
                    ],
                    cwd=ROOT,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
            procs[0].stdout.readline()  # it says where it listens once it does
            base_url = f"http://127.0.0.1:{port}/v1"
            config = folder / "config.toml"
            config.write_text(
                f'[arena]\ninstance = "{folder}"\nsecret_key = "bench"\n'
                f'[database]\nurl = "{url}"\n[redis]\nurl = "{redis_url}"\n'
                + "".join(
                    f'[models.{m}]\nbase_url = "{base_url}"\nconcurrency = {args.battles}\n'
                    for m in MODELS
                )
            )
            rt = runtime.configure(load(config, env={}))
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "arena",
                        "worker",
                        "--generate",
                        "--log-level",
                        "WARNING",
                        "--config",
                        str(config),
                    ],
                    cwd=ROOT,
                )
            )
            start_battle(rt, 0, "warm-up")  # imports, connections
            time.sleep(2 + args.chunks * args.delay)
            time_to_first_token(rt, base_url, args.sequential)
            follow_up_ttft(rt, args.sequential)
            ok = many_streams(rt, procs[1].pid, args.battles, args.chunks)
            stop_processes(procs, timeout=20)
            db.dispose_all()
    finally:
        stop_processes(procs, timeout=5)
        redis_server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
