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


def start_demo(tmp_path, *args):
    """``arena demo`` on a free port with ``args``; (process, base URL, output lines so far)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env["ARENA_INSTANCE"] = str(tmp_path / "instance")
    proc = subprocess.Popen(
        [sys.executable, "-m", "arena", "demo", "--port", str(port), *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = [""]
    while "running at" not in lines[-1]:
        assert proc.poll() is None, "".join(lines)
        lines.append(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}", "".join(lines)


def stop_demo(proc) -> str:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    print(out)  # shown when the test fails
    assert proc.returncode == 0, out
    return out


def live_battle(client: httpx.Client, prompt: str) -> dict:
    """Start a live battle and read its events to the end: {side: text}, and the status."""
    from tests.test_live_api import parse_events

    res = client.post("/api/v1/live", json={"prompt": prompt})
    assert res.status_code == 201, res.text
    started = res.json()
    events = parse_events(client.get(started["stream_url"], timeout=60).text)
    texts = {
        side: "".join(d["text"] for e, _, d in events if e == "delta" and d["side"] == side)
        for side in ("left", "right")
    }
    status = [d["status"] for e, _, d in events if e == "status"]
    return {"texts": texts, "status": status, "started": started}


def test_demo_runs_live_battles_on_labelled_stand_in_models(tmp_path):
    proc, base, out = start_demo(tmp_path)
    try:
        assert "live models: demo-model-a, demo-model-b, demo-model-c" in out
        assert "STAND-IN MODEL, NOT A MODEL" in out
        with httpx.Client(base_url=base, timeout=30) as client:
            assert 'id="prompt-text"' in client.get("/").text
            battle = live_battle(client, "Write a Python function that reverses a list")
            assert battle["status"] == ["ready"]
            for text in battle["texts"].values():
                assert "STAND-IN MODEL, NOT A MODEL" in text and "```python" in text
            token = battle["started"]["battle_token"]
            res = client.post("/api/v1/votes", json={"battle_token": token, "choice": "left"})
            assert res.status_code == 202
            assert res.json()["left_model"].startswith("demo-model-")
    finally:
        out = stop_demo(proc)
    assert "demo stopped" in out


def test_demo_with_model_options_uses_those_endpoints(tmp_path):
    from arena.demo_models import Behaviour, StandinModels

    with StandinModels({"served-x": Behaviour(text="X says hi"), "y": Behaviour(text="Y!")}) as s:
        proc, base, out = start_demo(
            tmp_path, "--model", f"x={s.url}#served-x", "--model", f"y={s.url}"
        )
        try:
            assert "live models: x, y" in out and "STAND-IN" not in out
            with httpx.Client(base_url=base, timeout=30) as client:
                battle = live_battle(client, "Hello")
            assert battle["status"] == ["ready"]
            assert sorted(battle["texts"].values()) == ["X says hi", "Y!"]
            assert {r["body"]["model"] for r in s.requests} == {"served-x", "y"}
        finally:
            stop_demo(proc)


def test_demo_refuses_a_malformed_model_option(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env["ARENA_INSTANCE"] = str(tmp_path / "instance")
    proc = subprocess.run(
        [sys.executable, "-m", "arena", "demo", "--port", str(free_port()), "--model", "nourl"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "NAME=URL" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "instance" / "redis" / "redis.url").exists()
