"""``/healthz``: the plain probe is answered before Flask, everything else through it."""

from __future__ import annotations

import pytest
from flask import request

from arena import redis_server
from arena.app import create_app
from tests.conftest import make_settings


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url


@pytest.fixture
def seen(app):
    """Paths of the requests that reached Flask (a before_request hook records them)."""
    paths: list[str] = []
    app.before_request(lambda: paths.append(request.path))  # (returns None: the request goes on)
    return paths


def test_plain_probe_is_answered_before_flask(client, seen):
    res = client.get("/healthz")
    assert res.status_code == 200
    assert res.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}
    assert res.headers["Content-Type"] == "application/json"
    assert res.headers["Cache-Control"] == "no-store"
    assert res.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in res.headers["Content-Security-Policy"]
    assert "Set-Cookie" not in res.headers and "Retry-After" not in res.headers
    assert seen == []  # no request context, session, CSRF or rate limit was involved


def test_head_has_the_headers_and_no_body(client, seen):
    get = client.get("/healthz")
    head = client.head("/healthz")
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"]
    assert seen == []


def test_anything_else_goes_through_flask(client, seen):
    res = client.get("/healthz?verbose=1")
    assert res.status_code == 200 and res.get_json()["status"] == "ok"
    res = client.post("/healthz")
    assert res.status_code == 405 and res.is_json
    res = client.get("/healthz", data=b"x" * 10)
    assert res.status_code == 200 and res.get_json()["redis"] == "ok"
    res = client.get("/healthz?bad=%00")
    assert res.status_code == 400 and res.get_json()["error"] == "bad_text"
    assert seen == ["/healthz"] * 3  # (the last was refused by an earlier before_request hook)


def test_probe_reports_redis_down_with_retry_after(tmp_path, sqlite_url):
    port = redis_server.free_port()  # nothing listens there
    app = create_app(make_settings(tmp_path, sqlite_url, f"redis://127.0.0.1:{port}/0"))
    res = app.test_client().get("/healthz")
    assert res.status_code == 503 and res.headers["Retry-After"] == "5"
    body = res.get_json()
    assert body["status"] == "unavailable" and body["database"] == "ok"
    assert body["redis"].startswith("error: ")
