"""Live battles benchmark: gunicorn, the generation worker and the stand-in models, in one run.

Measures, on loopback, against the stand-in (``arena.demo_models``, no model):

* time to first token through Arena minus calling the stand-in directly: for each of
  ``--ttft`` battles, one at a time, the time from ``POST /api/v1/live`` to the first
  ``delta`` event of each side on the battle's SSE stream, against the time from a direct
  streaming request to the stand-in to its first content chunk (targets: p50 of the
  difference under 15 ms, p99 under 60 ms);
* ``--battles`` battles at once (2 streams each, ``--chunks`` chunks per stream): every text
  relayed over SSE must be byte-identical to what the stand-in sent;
* ``GET /healthz`` latency p99 while those streams run (from a client process of its own, in
  a loop), against idle: ``--health`` requests, about as many as during the streams, so that
  both p99s rest on about as many samples (target: under 3x);
* the same ratio for a **reference server** (``bench/reference_app.py``: gunicorn with the
  same settings answering a constant; no database, no Redis, no Arena code), idle and during
  a second round of the same battles. It is no target: it says how much this machine alone
  moves a web process's p99 while that load runs beside it (``--no-reference`` skips it).

The web app runs under gunicorn with ``arena/web/gunicorn_conf.py`` (gthread workers) and
``--web-workers`` processes; one generation worker process at ``[worker] nice``
``--worker-nice`` (5: the deployment docs/operations.md recommends when the worker shares the
web app's machine). During the streams the stand-in and the battle clients run at ``--nice``
(10): they stand for model servers and browsers on other machines, and here share the same two
cores. ``--nice 0 --worker-nice 0`` has every process compete as an equal.

Usage::

    .venv/bin/python bench/live.py [--battles 64] [--chunks 200] [--delay 0.01]
                                   [--ttft 50] [--health 2000] [--web-workers 2]
                                   [--threads 64] [--nice 10] [--worker-nice 5]
                                   [--no-reference] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arena import db  # noqa: E402 (after sys.path names the repository)
from arena.cli.run import stop_processes  # noqa: E402 (after sys.path names the repository)
from arena.redis_server import EmbeddedRedis, free_port  # noqa: E402 (after sys.path names the repository)
from bench import cputime  # noqa: E402 (after sys.path names the repository)
from bench.ingest import wait_http  # noqa: E402 (after sys.path names the repository)
from bench.scratch import scratch_database  # noqa: E402 (after sys.path names the repository)

MODELS = ("standin-a", "standin-b")


def answer_rule(model: str, messages: list[dict]) -> str:
    """The stand-in's answer: the same for both models, long, with characters that SSE and
    JSON must carry untouched (line breaks of three kinds, a ``data:`` line, non-ASCII)."""
    prompt = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    lines = [f"Answer to {prompt!r} (stand-in)\r\n", "data: not an event\n\n"]
    lines += [f"word{i} é 漢字 🙂 <b>{i}</b>\r" if i % 7 == 0 else f"word{i} " for i in range(400)]
    return "".join(lines)


def read_events(response: httpx.Response):
    """Server-sent events from a streaming response: ``(event, id, data)``."""
    event, entry_id, data = "message", None, []
    for line in response.iter_lines():
        if line == "":
            if data:
                yield event, entry_id, "\n".join(data)
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            entry_id = value


def read_battle(client: httpx.Client, base: str, prompt: str) -> dict[str, str]:
    """Start one live battle, read its whole event stream (the relay ends it after the
    turn's status), then parse it: each side's text. The load generator spends no CPU per
    event while the streams run, which would compete with the servers measured."""
    res = client.post(base + "/api/v1/live", json={"prompt": prompt})
    res.raise_for_status()
    with client.stream("GET", base + res.json()["stream_url"]) as stream:
        body = b"".join(stream.iter_raw()).decode()
    texts = {"left": [], "right": []}
    status = None
    for block in body.split("\n\n"):
        event = data = None
        for line in block.split("\n"):
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
        if event == "delta":
            fields = json.loads(data)
            texts[fields["side"]].append(fields["text"])
        elif event == "status":
            status = json.loads(data)["status"]
        elif event == "error":
            raise RuntimeError(f"{json.loads(data)['side']}: {json.loads(data)['reason']}")
    if status != "ready":
        raise RuntimeError(f"the battle ended {status!r}")
    return {side: "".join(parts) for side, parts in texts.items()}


def run_battle(client: httpx.Client, base: str, prompt: str, t0: float | None = None) -> dict:
    """Start one live battle and read its stream event by event: texts and first-delta times."""
    t0 = time.perf_counter() if t0 is None else t0
    wall0 = time.time()
    res = client.post(base + "/api/v1/live", json={"prompt": prompt})
    res.raise_for_status()
    started = res.json()
    post_seconds = time.perf_counter() - t0
    texts = {"left": [], "right": []}
    first: dict[str, float] = {}
    status = None
    with client.stream("GET", base + started["stream_url"]) as stream:
        for event, _, data in read_events(stream):
            fields = json.loads(data)
            if event == "delta":
                first.setdefault(fields["side"], time.perf_counter() - t0)
                texts[fields["side"]].append(fields["text"])
            elif event == "status":
                status = fields["status"]
                break
            elif event == "error":
                raise RuntimeError(f"{fields['side']}: {fields['reason']}")
    return {
        "texts": {side: "".join(parts) for side, parts in texts.items()},
        "first": first,
        "status": status,
        "post": post_seconds,
        "wall0": wall0,
        "battle_id": started["battle_id"],
    }


def first_chunk_written(conn, result: dict) -> list[float]:
    """Seconds from the start request to each side's first chunk in the battle's Redis stream
    (its entry id is the Redis server's clock, the same machine's), the rest of the time to
    first token being the relay's."""
    firsts: dict[bytes, float] = {}
    for entry_id, fields in conn.xrange(f"arena:live:{result['battle_id']}"):
        if fields.get(b"kind") == b"delta" and fields[b"side"] not in firsts:
            firsts[fields[b"side"]] = int(entry_id.split(b"-")[0]) / 1000 - result["wall0"]
    return list(firsts.values())


def direct_ttft(client: httpx.Client, url: str, prompt: str) -> float:
    """Seconds from a streaming request to the stand-in to its first content chunk."""
    body = {
        "model": MODELS[0],
        "stream": True,
        "messages": [{"role": "user", "content": prompt}],
    }
    t0 = time.perf_counter()
    with client.stream("POST", url + "/chat/completions", json=body) as res:
        for line in res.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                chunk = json.loads(line[6:])
                if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                    return time.perf_counter() - t0
    raise RuntimeError("the stand-in sent no content")


# The /healthz client runs in a process of its own, as a load balancer's health check does:
# in this process its thread would wait for the GIL behind the 64 battle clients and the
# stand-in's threads, and the figure would measure the benchmark, not the web app. It uses
# the standard library's http.client, not httpx: about 0.2 ms of CPU a request where httpx
# took 0.9 ms (measured 2026-12-02), CPU the servers measured would otherwise lose to it.
_HEALTH_CLIENT = """
import signal, sys, time, http.client, urllib.parse
url, n = urllib.parse.urlsplit(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)

def get():
    conn.request("GET", url.path)
    res = conn.getresponse()
    res.read()
    return res.status

def stop(*_):
    raise SystemExit(0)

signal.signal(signal.SIGTERM, stop)
get()
print("ready", flush=True)
sys.stdin.readline()  # "go"
with open(sys.argv[3], "w", buffering=1) as out:  # line by line: a kill loses no request
    for _ in range(n):
        t0 = time.perf_counter()
        try:
            status = get()
        except (OSError, http.client.HTTPException) as exc:
            status = type(exc).__name__
            conn.close()
        out.write(f"{t0} {time.perf_counter() - t0} {status}\\n")
"""


class HealthClient:
    """``GET url`` (``/healthz``, or the reference server) in a row from another process,
    until :meth:`stop` or ``n`` requests.

    Each request's start and seconds go to a file, which the benchmark reads at the end: a
    pipe, read only then, would fill (64 KiB, about 1400 requests) and stop the requests
    before the streams end (it did until 2026-12-02, so the last second of the streams,
    when the answers finish, went unmeasured).
    """

    def __init__(self, url: str, n: int):
        fd, self.path = tempfile.mkstemp(prefix="arena-bench-healthz-")
        os.close(fd)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _HEALTH_CLIENT, url, str(n), self.path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        assert self.proc.stdout.readline().strip() == "ready"

    def go(self) -> HealthClient:
        """Start the requests (the process is started and connected before)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return self

    def wait(self) -> list[float]:
        """Seconds of each request, once the client has made all ``n``."""
        self.proc.communicate()
        text = Path(self.path).read_text()
        os.unlink(self.path)
        # (a line cut short by stop() is not a request)
        rows = [line.split() for line in text.splitlines() if len(line.split()) == 3]
        self.timeline = [(float(t), float(seconds)) for t, seconds, _ in rows]
        #: The answers other than 200 (a status, or the client's error), with their count.
        self.failures = Counter(status for _, _, status in rows if status != "200")
        return [seconds for _, seconds in self.timeline]

    def stop(self) -> list[float]:
        """Stop the client now; seconds of each request it made.

        SIGTERM, then SIGKILL after 5 s: once (2026-12-03) the client went on after SIGTERM
        for three minutes, until a second SIGTERM stopped it, and the run waited for it.
        """
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            print("the /healthz client did not stop on SIGTERM: killed")
            self.proc.kill()
        return self.wait()


# The stand-in models run in a process of their own, as a model server does (on another
# machine, usually): in this process their 128 streaming threads would share a GIL with the
# battle clients.
_STANDIN = """
import sys
sys.path.insert(0, sys.argv[1])
from arena.demo_models import Behaviour, StandinModels
from bench.live import MODELS, answer_rule
behaviour = Behaviour(
    text=answer_rule,
    chunks=int(sys.argv[2]),
    delay=float(sys.argv[3]),
    first_delay=float(sys.argv[4]),
)
with StandinModels(dict.fromkeys(MODELS, behaviour)) as standin:
    print(standin.url, flush=True)
    sys.stdin.read()  # until the benchmark closes it
"""


class StandinProcess:
    """The stand-in models (:mod:`arena.demo_models`) in a process of their own."""

    def __init__(self, chunks: int, delay: float, first_delay: float = 0.0):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _STANDIN, str(ROOT), str(chunks), str(delay), str(first_delay)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        assert self.url.startswith("http"), "the stand-in did not start"

    def __enter__(self) -> StandinProcess:
        return self

    def __exit__(self, *exc) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def write_config(path: Path, standin_url: str, concurrency: int, worker_nice: int) -> None:
    tables = "".join(
        f'[models.{name}]\nbase_url = "{standin_url}"\nconcurrency = {concurrency}\n'
        f"max_tokens = 100000\ntimeout = 300.0\n"
        for name in MODELS
    )
    path.write_text(
        "[limits]\nenabled = false\n[rating]\nrecompute_every = 0\n"
        "[live]\nmax_streams = 512\n"
        + (f"[worker]\nnice = {worker_nice}\n" if worker_nice else "")
        + tables
    )


def start(tmp: Path, url: str, redis_url: str, standin_url: str, args) -> list[subprocess.Popen]:
    """gunicorn (gthread, ``arena/web/gunicorn_conf.py``) and one generation worker."""
    config = tmp / "c.toml"
    write_config(config, standin_url, concurrency=2 * args.battles, worker_nice=args.worker_nice)
    env = dict(
        os.environ,
        ARENA_DATABASE_URL=url,
        ARENA_REDIS_URL=redis_url,
        ARENA_INSTANCE=str(tmp),
        ARENA_SECRET_KEY="bench",
        ARENA_CONFIG=str(config),
    )
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    web = subprocess.Popen(
        [
            gunicorn,
            "-c",
            "python:arena.web.gunicorn_conf",
            "-w",
            str(args.web_workers),
            "--threads",
            str(args.threads),
            "-b",
            f"127.0.0.1:{args.port}",
            "--log-level",
            "warning",
            "arena.app:create_app()",
        ],
        env=env,
        cwd=tmp,
    )
    with open(tmp / "generate.log", "wb") as log:  # its INFO lines would drown the figures
        generator = subprocess.Popen(
            GENERATE_COMMAND, env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT
        )
    procs = [web, generator]
    if args.reference_port:  # bench/reference_app.py, with the same gunicorn settings
        reference = [gunicorn, "-c", "python:arena.web.gunicorn_conf", "-w", "1"]
        reference += ["--pythonpath", str(ROOT), "-b", f"127.0.0.1:{args.reference_port}"]
        reference += ["--log-level", "warning", "bench.reference_app:app"]
        procs.append(subprocess.Popen(reference, env=env, cwd=tmp))
    return procs


GENERATE_COMMAND = [sys.executable, "-m", "arena", "worker", "--generate"]


def percentiles(values: list[float]) -> tuple[float, float]:
    arr = np.array(values) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--battles", type=int, default=64)
    ap.add_argument("--chunks", type=int, default=200)
    ap.add_argument("--delay", type=float, default=0.01, help="seconds between chunks")
    ap.add_argument(
        "--first-delay", type=float, default=0.0, help="the stand-in's seconds to first token"
    )
    ap.add_argument("--ttft", type=int, default=50, help="battles, one at a time, for TTFT")
    ap.add_argument(
        "--health", type=int, default=2000, help="/healthz requests while idle (module docstring)"
    )
    ap.add_argument(
        "--nice",
        type=int,
        default=10,
        help="niceness of the battle clients and of the stand-in during the streams: they "
        "stand for browsers and model servers on other machines (0: compete as equals)",
    )
    ap.add_argument(
        "--worker-nice",
        type=int,
        default=5,
        help="[worker] nice of the generation worker (docs/live.md, sharing a machine)",
    )
    ap.add_argument("--web-workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=64, help="gunicorn threads per worker")
    ap.add_argument(
        "--no-reference",
        action="store_true",
        help="skip the reference server and its round of streams (module docstring)",
    )
    ap.add_argument("--database-url", default=os.environ.get("ARENA_BENCH_DATABASE_URL", ""))
    args = ap.parse_args()
    args.port = free_port()
    args.reference_port = 0 if args.no_reference else free_port()
    tmp = Path(tempfile.mkdtemp(prefix="arena-bench-live-"))
    try:
        with scratch_database(args.database_url or f"sqlite:///{tmp / 'arena.db'}") as url:
            return run(args, tmp, url)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, tmp: Path, url: str) -> int:
    db.upgrade(url)
    redis_server = EmbeddedRedis(tmp / "redis")
    procs: list[subprocess.Popen] = []
    with StandinProcess(args.chunks, args.delay, args.first_delay) as standin:
        try:
            redis_url = redis_server.start()
            procs = start(tmp, url, redis_url, standin.url, args)
            base = f"http://127.0.0.1:{args.port}"
            wait_http(base + "/healthz")
            args.reference_url = ""
            if args.reference_port:
                args.reference_url = f"http://127.0.0.1:{args.reference_port}/"
                wait_http(args.reference_url)
            groups = {
                "web": [procs[0].pid],
                "generate": [procs[1].pid],
                "redis": [redis_server.process.pid],
                "stand-in": [standin.proc.pid],
            }
            args.redis = redis.Redis.from_url(redis_url)
            code = measure(args, base, standin, groups)
            if code:
                log = (tmp / "generate.log").read_text(errors="replace").splitlines()
                print("the generation worker's log, last error:")
                first = max((k for k, line in enumerate(log) if "Traceback" in line), default=0)
                print("\n".join(log[first : first + 40]))
            return code
        finally:
            stop_processes(procs)
            redis_server.stop()


def concurrent_round(args, base: str, standin, groups: dict, probe_url: str, prefix: str) -> dict:
    """``args.battles`` battles at once while a :class:`HealthClient` asks ``probe_url`` in a
    loop; what the module docstring's second and third points measure."""
    results: list[dict | BaseException] = [None] * args.battles  # type: ignore[list-item]
    # Each battle's client is made and connected before the clock starts: making an
    # httpx.Client builds an SSL context, 22 ms of CPU here; made inside the measured window,
    # the 64 took CPU from the servers measured (the battle clients' CPU there: 2.2 s before,
    # 0.3 s after, 2026-12-02).
    battle_clients = [httpx.Client(timeout=300) for _ in range(args.battles)]
    for c in battle_clients:
        c.get(base + "/healthz")

    def one(k: int) -> None:
        try:
            results[k] = read_battle(battle_clients[k], base, f"{prefix} battle {k}")
        except BaseException as exc:  # reported below
            results[k] = exc

    threads = [threading.Thread(target=one, args=(k,)) for k in range(args.battles)]
    checker = HealthClient(probe_url, 10**9)
    if args.nice:
        # The battle clients and the stand-in, for the streams only (the time to first token
        # was measured with all at 0); not the servers, not the checker.
        os.setpriority(os.PRIO_PROCESS, standin.proc.pid, args.nice)
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)
    before = cputime.snapshot(groups) if cputime.available() else None
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(0.2)  # the streams are under way
    checker.go()
    time.sleep(1.0)  # every battle is streaming
    clients = len(args.redis.client_list())  # Redis connections: web, worker, this
    for t in threads:
        t.join()
    busy = checker.stop()
    for c in battle_clients:
        c.close()
    keys = [k for k in args.redis.scan_iter("arena:live:*", count=1000) if k[11:].isdigit()]
    entries = sum(args.redis.xlen(k) for k in keys) / max(1, len(keys))
    wall = time.perf_counter() - t0
    cpu = cputime.used(before, cputime.snapshot(groups)) if before else {}
    mismatch = 0
    for k, r in enumerate(results):
        if isinstance(r, dict):
            want = answer_rule(MODELS[0], [{"role": "user", "content": f"{prefix} battle {k}"}])
            mismatch += sum(r[side] != want for side in ("left", "right"))
    return dict(
        t0=t0,
        checker=checker,
        busy=busy,
        wall=wall,
        cpu=cpu,
        clients=clients,
        entries=entries,
        mismatch=mismatch,
        failures=[r for r in results if isinstance(r, BaseException)],
    )


def measure(args, base: str, standin, groups: dict) -> int:
    client = httpx.Client(timeout=120)
    # Warm up: the web workers, the generation worker's connections.
    for k in range(4):
        run_battle(client, base, f"warm-up {k}")
    idle_client = HealthClient(base + "/healthz", args.health).go()
    idle = idle_client.wait()
    ref_idle_client, ref_idle = None, []
    if args.reference_url:
        ref_idle_client = HealthClient(args.reference_url, args.health).go()
        ref_idle = ref_idle_client.wait()

    arena, direct, posts, stored = [], [], [], []
    for k in range(args.ttft):
        prompt = f"ttft {k}"
        direct.append(direct_ttft(client, standin.url, prompt))
        result = run_battle(client, base, prompt)
        arena += list(result["first"].values())
        posts.append(result["post"])
        stored += first_chunk_written(args.redis, result)
    client.close()

    rounds = [concurrent_round(args, base, standin, groups, base + "/healthz", "concurrent")]
    if args.reference_url:
        rounds.append(concurrent_round(args, base, standin, groups, args.reference_url, "ref"))
    main = rounds[0]
    if os.environ.get("BENCH_TIMELINE"):
        Path(os.environ["BENCH_TIMELINE"]).write_text(
            json.dumps({"start": main["t0"], "timeline": main["checker"].timeline})
        )
    busy, wall, cpu = main["busy"], main["wall"], main["cpu"]
    failures, expected_mismatch = main["failures"], main["mismatch"]
    clients, entries = main["clients"], main["entries"]
    checker = main["checker"]

    a50, a99 = percentiles(arena)
    d50, d99 = percentiles(direct)
    i50, i99 = percentiles(idle)
    b50, b99 = percentiles(busy) if busy else (float("nan"), float("nan"))
    streams = 2 * (args.battles - len(failures))
    print(f"web workers x threads    {args.web_workers} x {args.threads} (gthread)")
    print(
        f"niceness                 generation worker {args.worker_nice} ([worker] nice), "
        f"stand-in and battle clients {args.nice}, web app and /healthz client 0"
    )
    print(f"ttft through arena       p50 {a50:.1f} ms, p99 {a99:.1f} ms ({len(arena)} streams)")
    print(f"ttft direct              p50 {d50:.1f} ms, p99 {d99:.1f} ms ({len(direct)} requests)")
    p50, p99 = percentiles(posts)
    print(f"  of which POST /live    p50 {p50:.1f} ms, p99 {p99:.1f} ms (start, answered 201)")
    p50, p99 = percentiles(stored)
    print(f"  first chunk in Redis   p50 {p50:.1f} ms, p99 {p99:.1f} ms (from the start request)")
    print(
        f"ttft arena - direct      p50 {a50 - d50:.1f} ms (target < 15), "
        f"p99 {a99 - d99:.1f} ms (target < 60)"
    )
    print(
        f"concurrent               {args.battles} battles, {streams} streams x {args.chunks} "
        f"chunks in {wall:.2f} s; {len(failures)} failed; "
        f"{expected_mismatch} texts not byte-identical"
    )
    print(f"healthz idle             p50 {i50:.1f} ms, p99 {i99:.1f} ms ({len(idle)} requests)")
    print(
        f"healthz during streams   p50 {b50:.1f} ms, p99 {b99:.1f} ms ({len(busy)} requests); "
        f"ratio p99 {b99 / i99:.2f} (target < 3)"
    )
    probes = [("idle", idle_client), ("during the streams", checker)]
    if ref_idle_client is not None:
        ref = rounds[1]
        _, r_idle = percentiles(ref_idle)
        _, r_busy = percentiles(ref["busy"])
        print(
            f"reference server p99     idle {r_idle:.1f} ms, during streams {r_busy:.1f} ms "
            f"(same load again, {ref['wall']:.2f} s, {len(ref['failures'])} failed, "
            f"{ref['mismatch']} not byte-identical); ratio p99 {r_busy / r_idle:.2f}: "
            "this machine's floor, no target"
        )
        probes += [("(reference, idle)", ref_idle_client), ("(reference, streams)", ref["checker"])]
        failures = failures + ref["failures"]
        expected_mismatch += ref["mismatch"]
    for phase, client_ in probes:
        if client_.failures:
            print(f"healthz answers other than 200 {phase}: {dict(client_.failures)}")
    print(
        f"redis                    {clients} connections while streaming; "
        f"{entries:.0f} stream entries per battle (2 x {args.chunks} chunks)"
    )
    if cpu:
        print(
            "cpu s while streaming    "
            + ", ".join(f"{'battle clients' if k == 'this' else k} {v:.2f}" for k, v in cpu.items())
            + f" (wall {wall:.2f} s, 2 cores)"
        )
    for failure in failures[:3]:
        print(f"failure: {failure!r}")
    ok = not failures and expected_mismatch == 0
    ok = ok and not any(client_.failures for _, client_ in probes)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
