"""Fault injection, end to end: votes through gunicorn while the parts fail.

Starts everything itself, on loopback only, in a temporary folder, and stops it all
at the end: a private PostgreSQL cluster (``initdb``/``pg_ctl`` from
``/usr/lib/postgresql/*/bin``, run as the ``postgres`` user when this script runs as
root, on a free port; where ``initdb`` cannot run, a scratch database on the server of
``--database-url``, taken away with ``ALLOW_CONNECTIONS false`` and
``pg_terminate_backend``), a redis-server (with its append-only file), gunicorn with
``--web-workers`` processes, and one ``arena worker``. Client threads draw battles
and vote on them the whole time, as people at the battle page do. Scenarios, one
after the other, each bounded in time:

``load``            plain load, nothing fails (the baseline);
``worker-kill``     the worker is killed with SIGKILL in the middle of its batches and a
                    new one is started at once (as systemd would);
``redis-stop``      Redis shut down for ``--redis-down`` seconds, then started again;
``redis-kill``      Redis killed with SIGKILL, down as long, then started again;
``database-stop``   PostgreSQL stopped (``pg_ctl stop -m fast``) for ``--db-down``
                    seconds with a backlog of accepted votes in the queue (the worker is
                    paused with SIGSTOP for a few seconds before, as a busy worker
                    is behind), then started again;
``token-race``      several clients vote the same battle at once: exactly one 202 each
                    (the atomic accept of issue 10, finding 1).

For each scenario it prints: votes accepted (202), stored (new rows), lost
(accepted - stored), doubled (rows beyond one per battle, or counted twice in
``pair_counts``), answers 500, 503 and other 5xx, jobs in rq's failed registry, and the
time to recover: from the moment the part is back (for ``worker-kill``: the kill) until
a vote is accepted again and as many votes are stored as had been accepted by then.
Target: 0 lost, 0 doubled, 0 answers 500 (503 during an outage is fine), recovery
within 30 s, with no human action.

Usage::

    .venv/bin/python bench/faults.py [--clients 16] [--web-workers 4] [--load-seconds 15]
                                     [--redis-down 10] [--db-down 120]
                                     [--scenarios load worker-kill ...]
"""

from __future__ import annotations

import argparse
import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402 (after sys.path names the repository)

from arena import db  # noqa: E402 (after sys.path names the repository)
from arena.cli.run import stop_processes  # noqa: E402 (after sys.path names the repository)
from arena.redis_server import EmbeddedRedis, free_port  # noqa: E402 (after sys.path names the repository)
from bench.scratch import seed  # noqa: E402 (after sys.path names the repository)

SCENARIOS = ("load", "worker-kill", "redis-stop", "redis-kill", "database-stop", "token-race")
DRAIN_LIMIT = 180.0  # seconds to wait, after a scenario, for the queue to drain


# --- a private PostgreSQL cluster -------------------------------------------------


class PostgresCluster:
    """A PostgreSQL cluster of this run's own, on 127.0.0.1 and a free port."""

    def __init__(self, folder: Path):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not bins:
            raise SystemExit("faults: no /usr/lib/postgresql/*/bin/pg_ctl (install postgresql)")
        self.bin = Path(bins[-1]).parent
        self.folder = folder
        self.data = folder / "pgdata"
        self.port = free_port()
        self.user = None
        if os.geteuid() == 0:
            try:
                self.user = pwd.getpwnam("postgres")
            except KeyError:
                raise SystemExit("faults: running as root needs a 'postgres' user") from None

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.user is not None:
            cmd = ["runuser", "-u", self.user.pw_name, "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def init(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            os.chown(self.folder, self.user.pw_uid, self.user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "arena")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder}"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-w", "-l", str(self.log), "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def log(self) -> Path:
        return self.folder / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/arena"

    def drop(self) -> None:
        """Nothing to drop: the cluster goes with the temporary folder."""


class SharedServerDatabase:
    """The equivalent on a PostgreSQL server the script does not own: a scratch
    database of its own there, "stopped" by refusing new connections to it
    (``ALLOW_CONNECTIONS false``) and ending every open one, as a stopped server
    would; dropped at the end."""

    def __init__(self, server_url: str):
        import secrets

        from sqlalchemy.engine import make_url

        self.server = make_url(server_url)
        self.name = f"arena_faults_{secrets.token_hex(4)}"
        self.log = None

    def _admin(self, sql: str, **params) -> None:
        from sqlalchemy import create_engine

        engine = create_engine(
            self.server.set(database="postgres").render_as_string(hide_password=False),
            isolation_level="AUTOCOMMIT",
        )
        with engine.connect() as conn:
            conn.execute(text(sql), params)
        engine.dispose()

    def init(self) -> None:
        self._admin(f'CREATE DATABASE "{self.name}"')

    def stop(self) -> None:
        self._admin(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
        self._admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid()",
            name=self.name,
        )

    def start(self) -> None:
        self._admin(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')

    def drop(self) -> None:
        db.dispose_all()
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    @property
    def url(self) -> str:
        return self.server.set(database=self.name).render_as_string(hide_password=False)


def database_for(folder: Path, server_url: str):
    """A private cluster when ``initdb`` works here, else a scratch database on
    ``server_url`` (say which, and why)."""
    cluster = PostgresCluster(folder / "pg")
    try:
        cluster.init()
        print(f"database: a private PostgreSQL cluster on port {cluster.port}")
        return cluster
    except subprocess.CalledProcessError as exc:
        if not server_url:
            raise SystemExit(
                f"faults: initdb failed ({exc}); give --database-url of a server instead"
            ) from None
        shared = SharedServerDatabase(server_url)
        shared.init()
        print(
            "database: initdb failed here, so a scratch database on "
            f"{shared.server.host}:{shared.server.port} (outage: ALLOW_CONNECTIONS false + "
            "pg_terminate_backend)"
        )
        return shared


# --- load -------------------------------------------------------------------------


@dataclass
class Tally:
    """What the clients saw: accepted votes (with their times) and answers by status."""

    accepted: list[float] = field(default_factory=list)
    status: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: str, accepted: bool = False) -> None:
        with self.lock:
            self.status[status] = self.status.get(status, 0) + 1
            if accepted:
                self.accepted.append(time.monotonic())

    def accepted_by(self, moment: float) -> int:
        with self.lock:
            return sum(1 for t in self.accepted if t <= moment)

    def first_accepted_after(self, moment: float) -> float | None:
        with self.lock:
            later = [t for t in self.accepted if t > moment]
        return min(later) if later else None


class Load:
    """``clients`` threads drawing battles and voting on each, until stopped."""

    def __init__(self, base: str, clients: int):
        self.base = base
        self.clients = clients
        self.tally = Tally()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _client(self) -> None:
        with httpx.Client(base_url=self.base, timeout=10) as client:
            while not self._stop.is_set():
                try:
                    res = client.post("/api/v1/battles")
                    if res.status_code != 201:
                        self.tally.add(f"battle {res.status_code}")
                        time.sleep(0.05)
                        continue
                    token = res.json()["battle_token"]
                    res = client.post(
                        "/api/v1/votes", json={"battle_token": token, "choice": "left"}
                    )
                    self.tally.add(f"vote {res.status_code}", accepted=res.status_code == 202)
                    if res.status_code >= 500:
                        time.sleep(0.05)
                except httpx.HTTPError as exc:
                    self.tally.add(f"error {type(exc).__name__}")
                    time.sleep(0.05)

    def start(self) -> Load:
        self._threads = [threading.Thread(target=self._client) for _ in range(self.clients)]
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> Tally:
        self._stop.set()
        for t in self._threads:
            t.join()
        return self.tally


# --- the parts under test ---------------------------------------------------------


class Stack:
    """PostgreSQL, Redis, gunicorn and one worker, in ``folder``."""

    def __init__(self, folder: Path, web_workers: int, server_url: str):
        self.folder = folder
        self.server_url = server_url
        self.pg = None
        self.redis = EmbeddedRedis(folder / "redis")
        self.web_workers = web_workers
        self.web: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.port = free_port()
        self.env: dict[str, str] = {}

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.pg = database_for(self.folder, self.server_url)
        redis_url = self.redis.start()
        db.upgrade(self.pg.url)
        seed(db.get_engine(self.pg.url), n_models=8, n_prompts=40)
        config = self.folder / "arena.toml"
        config.write_text("[limits]\nenabled = false\n[rating]\nrecompute_every = 0\n")
        self.env = dict(
            {k: v for k, v in os.environ.items() if not k.startswith("ARENA_")},
            ARENA_DATABASE_URL=self.pg.url,
            ARENA_REDIS_URL=redis_url,
            ARENA_INSTANCE=str(self.folder / "instance"),
            ARENA_SECRET_KEY="faults",
            ARENA_CONFIG=str(config),
        )
        gunicorn = Path(sys.executable).parent / "gunicorn"
        self.web = subprocess.Popen(
            [
                str(gunicorn),
                "-w",
                str(self.web_workers),
                "-b",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "error",
                "--error-logfile",
                str(self.folder / "gunicorn.log"),
                "arena.app:create_app()",
            ],
            env=self.env,
            cwd=self.folder,
        )
        self.start_worker()
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("faults: the web app did not answer in 60 s")
            time.sleep(0.2)

    def start_worker(self) -> None:
        log = open(self.folder / "worker.log", "a")  # noqa: SIM115 (the worker's own file)
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "arena", "worker", "--queue", "votes", "--log-level", "WARNING"],
            env=self.env,
            cwd=self.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def stop(self) -> None:
        stop_processes([p for p in (self.web, self.worker) if p is not None])
        self.redis.stop()
        if self.pg is not None:
            try:
                self.pg.start() if isinstance(self.pg, SharedServerDatabase) else self.pg.stop()
                self.pg.drop()
            except Exception as exc:  # a cleanup failure must not hide the results
                print(f"faults: cleanup of the database failed: {exc}")
        db.dispose_all()

    # what the database and Redis hold

    def stored(self) -> tuple[int, int, int]:
        """Votes, distinct battles among them, and votes counted in pair_counts."""
        try:
            with db.get_engine(self.pg.url).connect() as conn:
                return tuple(
                    conn.execute(
                        text(
                            "SELECT (SELECT count(*) FROM votes), "
                            "(SELECT count(DISTINCT battle_id) FROM votes), "
                            "(SELECT coalesce(sum(left_wins + right_wins + ties + both_bad), 0) "
                            "FROM pair_counts)"
                        )
                    ).one()
                )
        except Exception:
            return (-1, -1, -1)

    def queue_counts(self) -> dict[str, int]:
        import redis
        from rq import Queue

        try:
            q = Queue("votes", connection=redis.Redis.from_url(self.env["ARENA_REDIS_URL"]))
            return {
                "queued": q.count,
                "taken": q.connection.llen(q.intermediate_queue_key),
                "failed": q.failed_job_registry.count,
                "scheduled": q.scheduled_job_registry.count,
            }
        except Exception:
            return {"queued": -1, "taken": -1, "failed": -1, "scheduled": -1}


# --- scenarios --------------------------------------------------------------------


@dataclass
class Result:
    scenario: str
    accepted: int = 0
    stored: int = 0
    doubled: int = 0
    http: dict[str, int] = field(default_factory=dict)
    failed_jobs: int = 0
    recover_seconds: float | None = None
    note: str = ""

    @property
    def lost(self) -> int:
        return max(self.accepted - self.stored, 0)

    def fivexx(self, code: str) -> int:
        return sum(n for k, n in self.http.items() if k.endswith(code))

    def other_5xx(self) -> int:
        return sum(
            n
            for k, n in self.http.items()
            if k.split()[-1].startswith("5") and not k.endswith(("500", "503"))
        )


def drain(stack: Stack, limit: float = DRAIN_LIMIT) -> None:
    """Wait until the votes queue is empty and nothing is taken (or ``limit``)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        counts = stack.queue_counts()
        if counts["queued"] == 0 and counts["taken"] == 0 and counts["scheduled"] == 0:
            return
        time.sleep(0.5)


def recovery(stack: Stack, tally: Tally, since: float, before: tuple, limit: float) -> float:
    """Seconds from ``since`` until a vote was accepted after it and stored, with every
    vote accepted before it (counted from the scenario's start), polled every quarter
    second while the load goes on."""
    deadline = since + limit
    while time.monotonic() < deadline:
        first = tally.first_accepted_after(since)
        if first is not None:
            stored = stack.stored()[0] - before[0]
            if stored >= tally.accepted_by(first):
                return time.monotonic() - since
        time.sleep(0.25)
    return float("inf")


def run_scenario(name: str, stack: Stack, args) -> Result:
    drain(stack)
    before = stack.stored()
    failed_before = stack.queue_counts()["failed"]
    load = Load(stack.base, args.clients).start()
    recover = None
    note = ""

    def back_now() -> float:
        """The part is back: measure the recovery while the load goes on."""
        moment = time.monotonic()
        seconds = recovery(stack, load.tally, moment, before, DRAIN_LIMIT)
        time.sleep(max(args.load_seconds - (time.monotonic() - moment), 0))
        return seconds

    try:
        if name == "load":
            time.sleep(args.load_seconds)
        elif name == "worker-kill":
            time.sleep(args.load_seconds / 3)
            # Behind for two seconds, then killed while it takes and stores that backlog.
            stack.worker.send_signal(signal.SIGSTOP)
            time.sleep(2)
            stack.worker.send_signal(signal.SIGCONT)
            deadline = time.monotonic() + 2
            while stack.queue_counts()["taken"] <= 0 and time.monotonic() < deadline:
                time.sleep(0.005)
            stack.worker.send_signal(signal.SIGKILL)
            stack.worker.wait()
            note = f"{stack.queue_counts()['taken']} jobs taken by the killed worker"
            stack.start_worker()
            recover = back_now()
        elif name in ("redis-stop", "redis-kill"):
            time.sleep(args.load_seconds / 3)
            stack.redis.kill() if name == "redis-kill" else stack.redis.stop()
            time.sleep(args.redis_down)
            stack.redis.start()
            recover = back_now()
        elif name == "database-stop":
            time.sleep(args.load_seconds / 3)
            stack.worker.send_signal(signal.SIGSTOP)  # behind: a backlog builds up
            time.sleep(3)
            backlog = stack.queue_counts()["queued"]
            stack.pg.stop()
            stack.worker.send_signal(signal.SIGCONT)
            time.sleep(args.db_down)
            note = f"{backlog} votes queued when the database went"
            stack.pg.start()
            recover = back_now()
    finally:
        tally = load.stop()
    drain(stack)
    time.sleep(1)
    after = stack.stored()
    stored = after[0] - before[0]
    doubled = (
        (after[0] - after[1])
        - (before[0] - before[1])
        + abs((after[2] - after[0]) - (before[2] - before[0]))
    )
    return Result(
        scenario=name,
        accepted=len(tally.accepted),
        stored=stored,
        doubled=doubled,
        http=dict(tally.status),
        failed_jobs=stack.queue_counts()["failed"] - failed_before,
        recover_seconds=recover,
        note=note,
    )


def token_race(stack: Stack, args) -> Result:
    """Eight clients vote each of 100 battles at once: one 202 per battle, 409s else."""
    drain(stack)
    before = stack.stored()
    tally = Tally()
    twice = 0
    with httpx.Client(base_url=stack.base, timeout=10) as client:
        tokens = [client.post("/api/v1/battles").json()["battle_token"] for _ in range(100)]
    for token in tokens:
        answers: list[int] = []

        def vote(token=token, answers=answers):
            with httpx.Client(base_url=stack.base, timeout=10) as c:
                res = c.post("/api/v1/votes", json={"battle_token": token, "choice": "tie"})
                answers.append(res.status_code)
                tally.add(f"vote {res.status_code}", accepted=res.status_code == 202)

        threads = [threading.Thread(target=vote) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        twice += answers.count(202) > 1
    drain(stack)
    after = stack.stored()
    return Result(
        "token-race",
        accepted=len(tally.accepted),
        stored=after[0] - before[0],
        doubled=(after[0] - after[1]) - (before[0] - before[1]),
        http=dict(tally.status),
        note=f"battles with two 202s: {twice}",
    )


def print_results(results: list[Result]) -> None:
    head = (
        f"{'scenario':<14} {'accepted':>8} {'stored':>7} {'lost':>5} {'doubled':>7} "
        f"{'500':>6} {'503':>6} {'5xx':>4} {'failed':>6} {'recover':>8}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        if r.note.startswith("skipped"):
            print(f"{r.scenario:<14} {r.note}")
            continue
        recover = "-" if r.recover_seconds is None else f"{r.recover_seconds:.1f} s"
        print(
            f"{r.scenario:<14} {r.accepted:>8} {r.stored:>7} {r.lost:>5} {r.doubled:>7} "
            f"{r.fivexx('500'):>6} {r.fivexx('503'):>6} {r.other_5xx():>4} "
            f"{r.failed_jobs:>6} {recover:>8}" + (f"  {r.note}" if r.note else "")
        )
    print()
    for r in results:
        if r.http:
            answers = ", ".join(f"{k}: {n}" for k, n in sorted(r.http.items()))
            print(f"{r.scenario}: {answers}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--load-seconds", type=float, default=15)
    parser.add_argument("--redis-down", type=float, default=10)
    parser.add_argument("--db-down", type=float, default=120)
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument(
        "--database-url",
        default=os.environ.get("ARENA_TEST_DATABASE_URL", ""),
        help="a PostgreSQL server to use when initdb cannot run here (default: "
        "$ARENA_TEST_DATABASE_URL); a scratch database is made there and dropped",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="arena-faults-"))
    os.chmod(folder, 0o755)
    stack = Stack(folder, args.web_workers, args.database_url)
    results = []
    try:
        stack.start()
        for name in args.scenarios:
            print(f"scenario {name} ...", flush=True)
            if name == "token-race":
                results.append(token_race(stack, args))
            else:
                results.append(run_scenario(name, stack, args))
    finally:
        stack.stop()
        if args.keep:
            print(f"logs in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print()
    print_results(results)
    bad = [
        r.scenario
        for r in results
        if r.lost
        or r.doubled
        or r.fivexx("500")
        or (r.recover_seconds is not None and r.recover_seconds > 30)
    ]
    print()
    print("targets met" if not bad else f"targets missed in: {', '.join(bad)}")
    return 0 if not bad else 1


if __name__ == "__main__":
    raise SystemExit(main())
