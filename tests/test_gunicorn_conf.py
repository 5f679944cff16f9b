"""arena/web/gunicorn_conf.py through a real gunicorn: its workers freeze what start-up made."""

from __future__ import annotations

import gc
import subprocess
import sys
import time
from pathlib import Path

import httpx

from arena.redis_server import free_port

ROOT = Path(__file__).resolve().parents[1]


def probe_app(environ, start_response):
    """A WSGI app that answers with its process's count of frozen objects."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(gc.get_freeze_count()).encode()]


def _get(url: str, seconds: float = 30.0) -> str:
    """The body at ``url`` once the server answers."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return httpx.get(url).text
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_gunicorn_workers_freeze_what_start_up_made():
    port = free_port()
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    proc = subprocess.Popen(
        [gunicorn, "-c", "python:arena.web.gunicorn_conf", "-w", "1", "-b", f"127.0.0.1:{port}"]
        + ["--log-level", "warning", "tests.test_gunicorn_conf:probe_app"],
        cwd=ROOT,
    )
    try:
        frozen = int(_get(f"http://127.0.0.1:{port}/"))
    finally:
        proc.terminate()
        proc.wait(30)
    assert frozen > 10_000  # the modules and objects the worker started with
