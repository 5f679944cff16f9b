"""Start-up a person feels: ``arena --help``, ``arena --version`` and a warm ``scripts/demo``.

Usage: ``.venv/bin/python bench/startup.py [--runs N] [--skip-demo]``

Each figure is printed with its baseline, measured in the same run:

* ``arena --help`` and ``arena --version`` (median of N runs) against what
  ``--help`` cost before the command list became static: importing every
  command module (``python -c "import arena.cli.rate, ..."``), and against a
  bare interpreter start;
* a warm ``scripts/demo`` (the venv already installed): seconds from the
  command to the first ``/healthz`` answer, against the install step the
  script used to run on every start (``pip install --upgrade pip`` and
  ``pip install -e .``, timed the same way).

Nothing here is a test: tests assert behaviour, figures live in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv" / "bin"
EVERY_COMMAND_MODULE = (
    "arena.cli.db, arena.cli.run, arena.cli.imports, arena.cli.import_signals, "
    "arena.cli.judge, arena.cli.rank, arena.cli.rate"
)


def timed(cmd: list[str], runs: int, **kwargs) -> float:
    """Median wall seconds of ``cmd`` over ``runs`` runs (output discarded)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kwargs)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def demo_start(timeout: float = 120.0) -> float:
    """Seconds from ``scripts/demo`` to its first ``/healthz`` answer, then a clean stop."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
        env["ARENA_INSTANCE"] = tmp
        start = time.perf_counter()
        proc = subprocess.Popen(
            [str(ROOT / "scripts" / "demo"), "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while time.perf_counter() - start < timeout:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code:
                        return time.perf_counter() - start
                except httpx.HTTPError:
                    time.sleep(0.05)
            raise SystemExit("scripts/demo did not answer in time")
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()
    arena = str(VENV / "arena")
    py = str(VENV / "python")
    bare = timed([py, "-c", "pass"], args.runs)
    version = timed([arena, "--version"], args.runs)
    help_ = timed([arena, "--help"], args.runs)
    before = timed([py, "-c", f"import {EVERY_COMMAND_MODULE}"], args.runs)
    print(f"bare interpreter start          {bare * 1000:7.0f} ms")
    print(f"arena --version                 {version * 1000:7.0f} ms")
    print(f"arena --help                    {help_ * 1000:7.0f} ms")
    print(
        f"importing every command (what --help did before) {before * 1000:7.0f} ms: "
        f"--help is {before / help_:.1f}x faster"
    )
    if args.skip_demo:
        return
    demo_start()  # the first start migrates and loads the demo set into a new instance
    warm = demo_start()
    start = time.perf_counter()
    subprocess.run([py, "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
    subprocess.run([py, "-m", "pip", "install", "-q", "-e", "."], cwd=ROOT, check=True)
    reinstall = time.perf_counter() - start
    print(f"warm scripts/demo to first /healthz answer  {warm:5.1f} s")
    print(f"the install step it used to run on every start  {reinstall:5.1f} s")


if __name__ == "__main__":
    sys.exit(main())
