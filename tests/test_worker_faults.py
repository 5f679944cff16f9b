"""The vote worker at the edges, on real parts: `arena worker` in a subprocess, a
redis-server the test stops, starts and kills, a PostgreSQL database the test takes
away and gives back, a worker killed with SIGKILL in the middle of a batch.

Each test asserts what a user needs (every accepted vote stored once, no job failed
for an outage, the worker still running); the time limits are bounds far above the
seconds the recovery takes, against the minutes it took before.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from arena import battles, db, runtime, votes
from arena.redis_server import EmbeddedRedis
from tests.conftest import make_settings, seed
from tests.test_vote_batches import stored

pytestmark = pytest.mark.slow


def wait_for(predicate, timeout: float, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s")


def children_of(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def env_for(settings, config: Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")}
    env.update(
        {
            "ARENA_DATABASE_URL": settings.database_url,
            "ARENA_REDIS_URL": settings.redis_url,
            "ARENA_INSTANCE": str(settings.instance_path),
            "ARENA_SECRET_KEY": "test-secret",
        }
    )
    if config is not None:
        env["ARENA_CONFIG"] = str(config)
    return env


class WorkerProcess:
    """`arena worker` in a subprocess, its log in a file."""

    def __init__(self, env: dict, log: Path, *args: str):
        self.log = log
        self._fh = open(log, "w")  # noqa: SIM115 (closed in stop(), after the process)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "arena", "worker", "--log-level", "WARNING", *args],
            env=env,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._fh.close()
        return self.proc.returncode


def new_payloads(rt, n: int, seed_: int = 7) -> list[dict]:
    rng = np.random.default_rng(seed_)
    with Session(rt.engine) as s:
        issued = [battles.issue(s, rng, rater_id="rater-1") for _ in range(n)]
        s.commit()
        return [votes.payload_for(s, b.battle.id, "left") for b in issued]


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own, which it may stop, start and kill."""
    server = EmbeddedRedis(tmp_path / "own-redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_rt(tmp_path, sqlite_url, own_redis):
    rt = runtime.configure(make_settings(tmp_path, sqlite_url, own_redis.url))
    seed(rt.engine, n_models=4, n_prompts=3)
    return rt


@pytest.mark.parametrize("outage", ["shutdown", "kill -9"])
def test_the_worker_survives_redis_going_away_mid_batch(tmp_path, own_rt, own_redis, outage):
    """Votes keep arriving, so the worker is in the middle of a batch when Redis goes;
    it reconnects when Redis is back, and every accepted vote is stored once."""
    rt = own_rt
    config = tmp_path / "arena.toml"
    config.write_text("[worker]\nvote_batch_wait_ms = 2000\n")
    payloads = new_payloads(rt, 60)
    accepted: list[int] = []
    stop = threading.Event()

    def send():
        for p in payloads:
            if stop.is_set():
                return
            try:
                votes.enqueue(rt.queue("votes"), p, retries=0)
                accepted.append(p["battle_id"])
            except Exception:  # Redis away: this vote was not accepted
                pass
            time.sleep(0.1)

    worker = WorkerProcess(env_for(rt.settings, config), tmp_path / "worker.log")
    sender = threading.Thread(target=send)
    try:
        sender.start()
        wait_for(lambda: stored(rt.engine)[0] >= 1 or len(accepted) > 15, 30)
        time.sleep(0.5)  # in the middle of a 2 s batch wait
        own_redis.kill() if outage == "kill -9" else own_redis.stop()
        time.sleep(3)
        assert worker.proc.poll() is None, worker.output()
        own_redis.start()
        sender.join()
        wait_for(lambda: stored(rt.engine)[1] >= len(accepted), 60)
        assert worker.proc.poll() is None, worker.output()
    finally:
        stop.set()
        sender.join()
        code = worker.stop()
    n, distinct, counted = stored(rt.engine)
    assert distinct == n == counted  # none doubled
    assert set(accepted) <= set(_stored_battles(rt.engine))  # none lost
    log = worker.output()
    assert code == 0, log
    # One line when Redis went, one when it came back: no traceback, no line per retry.
    assert log.count("Redis unreachable") == 1 and log.count("Redis reachable again") == 1, log
    assert "Traceback" not in log and "could not connect" not in log, log
    assert rt.queue("votes").failed_job_registry.count == 0


def _stored_battles(engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT battle_id FROM votes")).scalars())


TAKE_AND_HANG = """
import sys, time
from arena import runtime
from arena.config import load
from workers.vote_batches import VoteBatchWorker
rt = runtime.configure(load())
w = VoteBatchWorker([rt.queue("votes")], connection=rt.redis)
w.register_birth()
w._heartbeat.start()
q = rt.queue("votes")
print(len(w._take(q, 100)[1]), flush=True)
time.sleep(600)
"""


def test_a_killed_workers_batch_is_recovered_within_seconds(tmp_path, own_rt):
    """A worker takes a batch and is killed with SIGKILL; a worker started after (or
    already running) stores the batch once its heartbeat has expired, not 14 minutes
    later at rq's maintenance."""
    rt = own_rt
    payloads = new_payloads(rt, 30)
    for p in payloads:
        votes.enqueue(rt.queue("votes"), p)
    ingest_first = payloads[:5]
    from workers import ingest

    ingest.store_votes(ingest_first)  # it had stored some of them before dying
    dead = subprocess.Popen(
        [sys.executable, "-c", TAKE_AND_HANG],
        env=env_for(rt.settings),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert dead.stdout.readline().strip() == "30"
    q = rt.queue("votes")
    assert q.count == 0 and rt.redis.llen(q.intermediate_queue_key) == 30
    survivor = WorkerProcess(env_for(rt.settings), tmp_path / "worker.log")
    try:
        time.sleep(3)
        assert stored(rt.engine)[0] == 5  # the taken jobs belong to a live worker
        dead.send_signal(signal.SIGKILL)
        dead.wait()
        wait_for(lambda: stored(rt.engine)[0] == 30, 40)
    finally:
        assert survivor.stop() == 0
    assert stored(rt.engine) == (30, 30, 30)
    assert rt.redis.llen(q.intermediate_queue_key) == 0 and q.count == 0
    assert q.failed_job_registry.count == 0
    assert "recovered 30 vote jobs of a dead worker" in survivor.output()


def test_the_scheduler_child_does_not_outlive_its_worker(tmp_path, own_rt):
    rt = own_rt
    worker = WorkerProcess(env_for(rt.settings), tmp_path / "worker.log")
    try:
        children = wait_for(lambda: children_of(worker.proc.pid), 30)
        worker.proc.send_signal(signal.SIGKILL)
        worker.proc.wait()
        wait_for(lambda: not any(running(c) for c in children), 15)
    finally:
        worker.stop()
        for c in children_of(worker.proc.pid):
            os.kill(c, signal.SIGKILL)


@pytest.fixture
def pg_rt(tmp_path, postgres_url, redis_url, redis_conn):
    from tests.conftest import _reset_postgres

    _reset_postgres(postgres_url)
    db.upgrade(postgres_url)
    rt = runtime.configure(make_settings(tmp_path, postgres_url, redis_url))
    seed(rt.engine, n_models=4, n_prompts=3)
    yield rt
    db.dispose_all()


def _admin(url: str):
    admin = make_url(os.environ["ARENA_TEST_DATABASE_URL"])
    return create_engine(admin.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")


def _database_outage(url: str, down: bool) -> None:
    """Refuse (or allow again) new connections to the database of ``url``, and end
    every open one: what the worker sees when PostgreSQL is stopped."""
    name = make_url(url).database
    engine = _admin(url)
    with engine.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(not down).lower()}'))
        if down:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
    engine.dispose()


def test_a_database_outage_burns_no_retries(tmp_path, pg_rt):
    """Votes queued while the database is away (jobs with no retries left at all) wait
    in the worker, which logs one line when the database goes and one when it is back,
    and are all stored afterwards; none lands in the failed registry."""
    rt = pg_rt
    url = rt.settings.database_url
    payloads = new_payloads(rt, 20)
    worker = WorkerProcess(env_for(rt.settings), tmp_path / "worker.log")
    try:
        votes.enqueue(rt.queue("votes"), payloads[0], retries=0)
        wait_for(lambda: stored(rt.engine)[0] == 1, 30)
        _database_outage(url, down=True)
        try:
            for p in payloads[1:]:
                votes.enqueue(rt.queue("votes"), p, retries=0)
            time.sleep(5)
            assert rt.queue("votes").failed_job_registry.count == 0
            assert worker.proc.poll() is None, worker.output()
        finally:
            _database_outage(url, down=False)
        db.dispose_all()
        wait_for(lambda: stored(rt.engine)[0] == 20, 60)
    finally:
        assert worker.stop() == 0
    assert stored(rt.engine) == (20, 20, 20)
    q = rt.queue("votes")
    assert q.failed_job_registry.count == 0 and q.scheduled_job_registry.count == 0
    log = worker.output()
    assert log.count("database unreachable") == 1, log
    assert log.count("database reachable again") == 1, log
    assert "Traceback" not in log


def test_queue_status_and_retry_failed(tmp_path, own_rt):
    """A job that failed is visible in `arena queue status` and put back by
    `arena queue retry-failed`; then it is stored."""
    from click.testing import CliRunner

    from arena.cli import main
    from workers.vote_batches import VoteBatchWorker

    rt = own_rt
    payloads = new_payloads(rt, 3)
    early = dict(payloads[0], battle_id=9999)  # its battle is not stored (yet)
    for p in [early, *payloads[1:]]:
        votes.enqueue(rt.queue("votes"), p, retries=0)
    VoteBatchWorker([rt.queue("votes")], connection=rt.redis).work(burst=True)
    env = env_for(rt.settings)
    runner = CliRunner()
    out = runner.invoke(main, ["queue", "status"], env=env)
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].split() == ["queue", "queued", "taken", "started", "failed", "scheduled"]
    assert lines[2].split() == ["votes", "0", "0", "0", "1", "0"]
    assert "workers: none" in out.output
    from arena.models import Battle

    with Session(rt.engine) as s:
        b = s.get(Battle, payloads[0]["battle_id"])
        s.add(
            Battle(
                id=9999,
                prompt_id=b.prompt_id,
                left_model_id=b.left_model_id,
                right_model_id=b.right_model_id,
            )
        )
        s.commit()
    out = runner.invoke(main, ["queue", "retry-failed", "--queue", "votes"], env=env)
    assert out.exit_code == 0, out.output
    assert "votes: 1 failed job(s) put back on the queue" in out.output
    VoteBatchWorker([rt.queue("votes")], connection=rt.redis).work(burst=True)
    assert stored(rt.engine) == (3, 3, 3)
    assert rt.queue("votes").failed_job_registry.count == 0
