"""`arena demo` as a newcomer runs it: one command, a real server, a real worker, clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from arena.redis_server import answers, free_port

pytestmark = pytest.mark.slow


def wait_for(predicate, timeout=30.0, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError("timed out")


def test_demo_serves_votes_and_stops_cleanly(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env["ARENA_INSTANCE"] = str(tmp_path / "instance")
    proc = subprocess.Popen(
        [sys.executable, "-m", "arena", "demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        line = wait_for(lambda: (proc.stdout.readline() or "") if proc.poll() is None else "x")
        lines = [line]
        while "running at" not in lines[-1]:
            assert proc.poll() is None, "".join(lines)
            lines.append(proc.stdout.readline())
        assert "4 models, 12 prompts, 48 answers" in "".join(lines)
        assert f"{base}/" in lines[-1]
        with httpx.Client(base_url=base, timeout=10) as client:
            assert client.get("/healthz").json()["status"] == "ok"
            for choice in ("left", "right", "tie"):
                battle = client.post("/api/v1/battles").json()
                res = client.post(
                    "/api/v1/votes", json={"battle_token": battle["battle_token"], "choice": choice}
                )
                assert res.status_code == 202
            wait_for(lambda: client.get("/api/v1/stats").json()["votes"] == 3)
            # Three votes trigger a recompute in the demo: the leaderboard has ratings.
            board = wait_for(
                lambda: (r := client.get("/api/v1/leaderboard")).status_code == 200 and r.json()
            )
            assert board["meta"]["battles"] == 3
        assert (tmp_path / "instance" / "redis" / "arena.aof").exists() or (
            tmp_path / "instance" / "redis" / "appendonlydir"
        ).exists()
        children_file = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        children = [int(pid) for pid in children_file.read_text().split()]
        assert children  # the rq worker
        # The embedded redis-server runs detached (not a child), its pid in a file.
        children.append(int((tmp_path / "instance" / "redis" / "redis.pid").read_text()))
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "demo stopped" in out
    # Nothing is left running, the redis-server the demo started included: its URL
    # file is gone and the port is free.
    assert not (tmp_path / "instance" / "redis" / "redis.url").exists()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
    for pid in children:
        assert (
            not os.path.exists(f"/proc/{pid}")
            or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
        ), f"process {pid} still running"


def test_demo_on_a_taken_port_says_so_and_starts_nothing(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env["ARENA_INSTANCE"] = str(tmp_path / "instance")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "arena", "demo", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"Port {port} is in use" in proc.stderr
    # No worker was started: one would report the embedded Redis gone (or, with a
    # configured Redis, keep running on its own).
    assert "Traceback" not in proc.stderr and "Error" not in proc.stderr
    # The embedded redis-server it started is stopped again.
    assert not (tmp_path / "instance" / "redis" / "redis.url").exists()


def test_demo_stopped_by_sigterm_leaves_a_redis_it_did_not_start(tmp_path):
    """With the embedded server already running (`arena redis start`), the demo uses
    it and, stopped by SIGTERM, exits 0 and leaves it running."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env["ARENA_INSTANCE"] = str(tmp_path / "instance")
    started = subprocess.run(
        [sys.executable, "-m", "arena", "redis", "start"], env=env, capture_output=True, text=True
    )
    assert started.returncode == 0, started.stdout + started.stderr
    url = (tmp_path / "instance" / "redis" / "redis.url").read_text()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "arena", "demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = ""
        while "running at" not in line:
            assert proc.poll() is None
            line = proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert "demo stopped" in out
        assert answers(url)
    finally:
        if proc.poll() is None:
            proc.kill()
        subprocess.run([sys.executable, "-m", "arena", "redis", "stop"], env=env, check=True)
    assert not answers(url)
