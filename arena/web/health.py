"""``GET /healthz``: 200 when the database and Redis both answer, else 503 naming which.

A load balancer asks every few seconds, and while a web worker is busy (relaying live
battles, say) the answer must still come quickly. So :class:`HealthProbe`, a WSGI
middleware in front of Flask, answers the plain probe itself: ``GET`` or ``HEAD`` of exactly
``/healthz`` with no query string and no body. It runs the same two checks and sends the
same JSON, with the security headers of every response and ``Cache-Control: no-store``, but
none of what a page or an API call needs (the request context, the session, CSRF, rate
limits, compression, the URL map). In-process that is 0.33 ms of CPU a probe instead of
0.62 ms; in ``bench/live.py`` (docs/benchmarks.md) the probe's p99 during 128 streams
fell from 9.3-15.0 ms to 6.2-7.3 ms (four runs each, alternating, 2026-12-03).

Any other request to ``/healthz`` (another method, a query string, a body) goes through
Flask to :func:`healthz`, so it gets what every request gets there: JSON errors (405, 414,
400 for bad text), the same checks otherwise.
"""

from __future__ import annotations

import json

from flask import Blueprint, jsonify

from arena import db
from arena.web.common import rt
from arena.web.errors import RETRY_AFTER_SECONDS
from arena.web.security import HEADERS

PATH = "/healthz"
bp = Blueprint("health", __name__)


def checks(runtime) -> dict[str, str]:
    """``{"status": "ok" | "unavailable", "database": ..., "redis": ...}``; each check is
    ``"ok"`` or ``"error: <exception type>"``."""
    found = {}
    try:
        db.ping(runtime.engine)
        found["database"] = "ok"
    except Exception as exc:  # any failure is a failed check, reported as such
        found["database"] = f"error: {type(exc).__name__}"
    try:
        runtime.redis.ping()
        found["redis"] = "ok"
    except Exception as exc:
        found["redis"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in found.values())
    return {"status": "ok" if ok else "unavailable", **found}


@bp.get(PATH)
def healthz():
    body = checks(rt())
    response = jsonify(body)
    if body["status"] != "ok":
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class HealthProbe:
    """WSGI middleware: answers the plain ``GET``/``HEAD /healthz`` before Flask (module
    docstring); passes every other request to ``wsgi_app``."""

    def __init__(self, wsgi_app, runtime):
        self.wsgi_app = wsgi_app
        self.runtime = runtime

    @staticmethod
    def takes(environ: dict) -> bool:
        """Whether ``environ`` is a plain probe (everything else goes to Flask)."""
        return (
            environ.get("PATH_INFO") == PATH
            and environ.get("REQUEST_METHOD") in ("GET", "HEAD")
            and not environ.get("QUERY_STRING")
            and environ.get("CONTENT_LENGTH", "") in ("", "0")
            and "HTTP_TRANSFER_ENCODING" not in environ
        )

    def __call__(self, environ, start_response):
        if not self.takes(environ):
            return self.wsgi_app(environ, start_response)
        found = checks(self.runtime)
        body = json.dumps(found, separators=(",", ":")).encode() + b"\n"
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            *HEADERS.items(),
        ]
        if found["status"] == "ok":
            status = "200 OK"
        else:
            status = "503 SERVICE UNAVAILABLE"
            headers.append(("Retry-After", str(RETRY_AFTER_SECONDS)))
        start_response(status, headers)
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]


def init_app(app, runtime) -> None:
    """Put :class:`HealthProbe` in front of everything else (after the proxy fix, when
    there is one: it is outermost, but a probe needs no client address)."""
    app.wsgi_app = HealthProbe(app.wsgi_app, runtime)
