"""Security headers, Retry-After, the session cookie behind a proxy, and compressed plotly."""

from __future__ import annotations

import gzip

import pytest

from arena.app import create_app
from arena.web.assets import PLOTLY_VERSION
from tests.conftest import make_settings


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url


def _app(tmp_path, sqlite_url, redis_url, **overrides):
    return create_app(make_settings(tmp_path, sqlite_url, redis_url, **overrides))


def test_every_response_has_the_security_headers(tmp_path, sqlite_url, redis_url, redis_conn):
    client = _app(tmp_path, sqlite_url, redis_url).test_client()
    for path in ("/leaderboard", "/api/v1/leaderboard", "/healthz", "/nowhere", "/favicon.ico"):
        res = client.get(path)
        csp = res.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert res.headers["X-Content-Type-Options"] == "nosniff"
        assert res.headers["X-Frame-Options"] == "DENY"
        assert res.headers["Referrer-Policy"] == "same-origin"


def test_retry_after_only_on_429_and_503(tmp_path, sqlite_url, redis_url, redis_conn):
    app = _app(tmp_path, sqlite_url, redis_url, limits={"enabled": True, "reads": "2 per minute"})
    client = app.test_client()
    answers = [client.get("/api/v1/leaderboard/scopes") for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 429]
    assert "Retry-After" not in answers[0].headers and "Retry-After" not in answers[1].headers
    assert "Retry-After" in answers[2].headers
    assert client.get("/leaderboard").status_code == 429  # pages share the reads budget


def test_session_cookie_secure_behind_a_trusted_proxy(tmp_path, sqlite_url, redis_url, redis_conn):
    from arena.importers import demo_set

    app = _app(tmp_path, sqlite_url, redis_url, web={"trusted_proxies": 1})
    demo_set.load(app.extensions["arena.runtime"].engine)
    client = app.test_client()
    plain = client.get("/").headers.get("Set-Cookie", "")
    assert "session=" in plain and "Secure" not in plain
    client = app.test_client()
    https = client.get("/", headers={"X-Forwarded-Proto": "https"}).headers["Set-Cookie"]
    assert "Secure" in https and "HttpOnly" in https
    # the lifetime is [web] session_days (7), not Flask's 31 days
    assert "Max-Age=604800" in https or "Expires=" in https

    untrusted = _app(tmp_path, sqlite_url, redis_url).test_client()
    cookie = untrusted.get("/", headers={"X-Forwarded-Proto": "https"}).headers["Set-Cookie"]
    assert "Secure" not in cookie  # no proxy is trusted by default


def test_plotly_is_served_compressed_and_cached(tmp_path, sqlite_url, redis_url, redis_conn):
    client = _app(tmp_path, sqlite_url, redis_url).test_client()
    url = f"/vendor/plotly-{PLOTLY_VERSION}.min.js"
    plain = client.get(url)
    packed = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data
    assert len(packed.data) < len(plain.data) / 3
    assert "immutable" in packed.headers["Cache-Control"]
    again = client.get(
        url, headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]}
    )
    assert again.status_code == 304
    css = client.get(f"/vendor/plotly-{PLOTLY_VERSION}.css")
    assert css.mimetype == "text/css" and b".js-plotly-plot .plotly .main-svg" in css.data


def test_404_and_500_pages_in_the_layout(tmp_path, sqlite_url, redis_url, redis_conn):
    app = _app(tmp_path, sqlite_url, redis_url)

    def boom():
        raise RuntimeError("a bug")

    app.add_url_rule("/boom", view_func=boom)
    app.add_url_rule("/api/v1/boom", view_func=boom, endpoint="api_boom")
    client = app.test_client()
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and b"Page not found" in missing.data
    assert b'class="brand"' in missing.data  # the site's header
    failed = client.get("/boom")
    assert failed.status_code == 500 and b"Something went wrong" in failed.data
    assert b"a bug" not in failed.data
    api = client.get("/api/v1/boom")
    assert api.status_code == 500 and api.get_json()["error"] == "internal_server_error"
    assert client.get("/api/v1/nothing").get_json()["error"] == "not_found"
