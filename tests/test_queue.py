"""The embedded redis-server, and health when a part is down."""

from __future__ import annotations

import time

import redis

from arena import queue, redis_server
from arena.app import create_app
from arena.config import load
from tests.conftest import make_settings


def test_embedded_redis_persists_and_is_shared(tmp_path):
    settings = load(None, env={"ARENA_INSTANCE": str(tmp_path)})
    assert settings.redis_url == ""
    folder = tmp_path / "redis"
    url, started = queue.ensure_redis(settings)
    try:
        assert started
        conn = redis.Redis.from_url(url)
        assert conn.config_get("appendonly") == {"appendonly": "yes"}
        assert conn.config_get("dir")["dir"] == str(folder)
        conn.set("k", "v")
        # A second process (or call) on the same instance finds the running server.
        assert (folder / "redis.url").read_text() == url
        assert queue.ensure_redis(settings) == (url, False)
        # Detached: its own process, its pid in the pid file.
        pid = int((folder / "redis.pid").read_text())
        assert redis_server.server_for(folder).pid() == pid
    finally:
        assert redis_server.stop(folder)
    assert not (folder / "redis.url").exists() and not (folder / "redis.pid").exists()
    assert not redis_server.stop(folder)  # nothing left to stop
    # Restarted, it still has the data (append-only file in the instance folder).
    url = queue.resolve_redis_url(settings)
    try:
        assert redis.Redis.from_url(url).get("k") == b"v"
    finally:
        redis_server.stop(folder)


def test_long_instance_path_uses_loopback_tcp(tmp_path):
    folder = tmp_path / ("x" * 120)
    server = redis_server.EmbeddedRedis(folder)
    url = server.start()
    try:
        assert url.startswith("redis://127.0.0.1:")
        assert redis.Redis.from_url(url).ping()
        server.stop()
        assert not redis_server.answers(url)
        assert server.start() == url  # the same port again
    finally:
        server.stop()


def test_healthz_reports_redis_down(tmp_path, sqlite_url):
    port = redis_server.free_port()  # nothing listens there
    app = create_app(make_settings(tmp_path, sqlite_url, f"redis://127.0.0.1:{port}/0"))
    res = app.test_client().get("/healthz")
    assert res.status_code == 503
    body = res.get_json()
    assert body["status"] == "unavailable" and body["database"] == "ok"
    assert body["redis"].startswith("error")


def test_healthz_reports_database_down(tmp_path, redis_url):
    app = create_app(
        make_settings(tmp_path, "postgresql+psycopg://nobody@127.0.0.1:1/none", redis_url)
    )
    res = app.test_client().get("/healthz")
    assert res.status_code == 503
    assert res.get_json()["database"].startswith("error")


def test_recompute_is_scheduled_every_n_votes_under_concurrency(rt):
    """Jobs counting votes at the same time neither lose nor double a recompute."""
    from concurrent.futures import ThreadPoolExecutor

    from arena import votes
    from workers.ingest import schedule_recompute

    rt.settings = rt.settings.replace(rating={"recompute_every": 3})
    recompute = rt.queue_for("recompute")

    def due_after(calls: int) -> list[bool]:
        """Count ``calls`` single votes; which of them enqueued the recompute job."""
        out = []
        for _ in range(calls):
            out.append(schedule_recompute(rt, 1))
            recompute.empty()  # as if a worker took the job at once
        return out

    assert due_after(7) == [False, False, True, False, False, True, False]
    assert schedule_recompute(rt, 5)  # 7 + 5 passes 9: due once
    recompute.empty()
    rt.redis.delete(votes.VOTE_COUNT_KEY)
    with ThreadPoolExecutor(4) as pool:  # 4 x 30 votes at once, a multiple of 3
        list(pool.map(lambda _: [schedule_recompute(rt, 1) for _ in range(30)], range(4)))
    recompute.empty()
    assert due_after(3) == [False, False, True]  # the count kept in step


CHILD = """
import pathlib, sys, time
from arena import queue, redis_server
from arena.config import load
settings = load(None, env={"ARENA_INSTANCE": sys.argv[1]})
go = pathlib.Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
url, started = queue.ensure_redis(settings)
print(url, started, flush=True)
sys.stdin.read()  # hold the server until the test is done
"""


def test_processes_starting_at_once_share_one_embedded_server(tmp_path):
    import subprocess
    import sys

    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path), str(go)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        go.touch()
        answers = [p.stdout.readline().split() for p in procs]
        assert len({url for url, _ in answers}) == 1
        assert sorted(started for _, started in answers) == ["False", "False", "True"]
        assert redis.Redis.from_url(answers[0][0]).ping()
    finally:
        for p in procs:
            p.communicate("", timeout=20)
        redis_server.stop(tmp_path / "redis")


KEY_CHILD = """
import pathlib, sys, time
from arena.config import load
settings = load(None, env={"ARENA_INSTANCE": sys.argv[1]})
go = pathlib.Path(sys.argv[2])
while not go.exists():
    pass
print(settings.secret_key, flush=True)
"""


def test_processes_starting_at_once_agree_on_one_secret_key(tmp_path):
    """gunicorn -w N without --preload: every worker makes the instance's key at the
    same moment; all must sign with the one key that ends up in the file."""
    import subprocess
    import sys

    for attempt in range(5):
        instance = tmp_path / f"instance-{attempt}"
        go = tmp_path / f"go-{attempt}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", KEY_CHILD, str(instance), str(go)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(8)
        ]
        time.sleep(1.5)  # all of them imported and spinning on the start line
        go.touch()
        keys = [p.communicate(timeout=60)[0].strip() for p in procs]
        assert all(len(k) == 64 for k in keys), keys
        assert set(keys) == {(instance / "secret_key").read_text().strip()}
        assert (instance / "secret_key").stat().st_mode & 0o777 == 0o600
        assert not list(instance.glob("*.tmp"))


def _arena(args, env, **kwargs):
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", "arena", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


def redis_cmd(command: str, env: dict):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "arena", "redis", command], env=env, capture_output=True, text=True
    )


def test_embedded_redis_outlives_the_commands_that_use_it(tmp_path):
    """`arena worker` and `arena serve` share the detached embedded server: stopping
    either (SIGTERM, as systemd and docker do) leaves it running for the other, and
    each exits 0; `arena redis status|stop` see and stop it."""
    import os
    import signal
    import subprocess
    import sys

    import httpx

    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env["ARENA_INSTANCE"] = str(tmp_path / "instance")
    env["ARENA_SECRET_KEY"] = "test-secret"
    subprocess.run([sys.executable, "-m", "arena", "db", "upgrade"], env=env, check=True)
    folder = tmp_path / "instance" / "redis"
    port = redis_server.free_port()
    worker = _arena(["worker", "--log-level", "WARNING"], env)
    serve = _arena(["serve", "--port", str(port)], env)
    try:
        assert "serving at" in serve.stdout.readline()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            assert client.get("/healthz").json()["redis"] == "ok"
            url = (folder / "redis.url").read_text()
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(30) == 0
            assert redis_server.answers(url)
            assert client.get("/healthz").json()["redis"] == "ok"
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(30) == 0, serve.stdout.read()
        assert redis_server.answers(url)  # detached: it outlives both
        status = subprocess.run(
            [sys.executable, "-m", "arena", "redis", "status"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert status.returncode == 0 and status.stdout.startswith(f"running: {url}")
        stop = subprocess.run(
            [sys.executable, "-m", "arena", "redis", "stop"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert stop.returncode == 0 and stop.stdout.startswith("stopped")
        assert not redis_server.answers(url)
        status = subprocess.run(
            [sys.executable, "-m", "arena", "redis", "status"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert status.returncode == 3 and status.stdout.startswith("not running")
        start = subprocess.run(
            [sys.executable, "-m", "arena", "redis", "start"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert start.returncode == 0 and start.stdout.startswith("started: ")
    finally:
        for proc in (worker, serve):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        redis_server.stop(folder)
