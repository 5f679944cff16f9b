"""Finding 4 of issue 10: a dependency that is down answers 503, never 500.

Redis: a private redis-server (:class:`arena.redis_server.EmbeddedRedis`) in a temporary
folder, stopped under the app and started again. The database: a PostgreSQL URL
where nothing listens. Every endpoint answers 503 with ``Retry-After`` and a JSON
reason naming the dependency (pages: the reason in the site's layout), or, where it
does not need the dependency, its usual answer (the read pages and endpoints too when rate
limits are on: their limit is not counted while Redis is down); and once Redis is back the same app
accepts votes again.
"""

from __future__ import annotations

import pytest

from arena.app import create_app
from arena.redis_server import EmbeddedRedis, free_port
from tests.conftest import make_settings, new_battle, seed

ENDPOINTS = [
    ("GET", "/"),
    ("GET", "/leaderboard"),
    ("GET", "/healthz"),
    ("GET", "/api/v1/stats"),
    ("POST", "/api/v1/battles"),
    ("POST", "/api/v1/votes"),
    ("GET", "/api/v1/leaderboard"),
    ("GET", "/api/v1/leaderboard/scopes"),
    ("GET", "/api/v1/rank"),
]


def call(client, method, path, token=None):
    body = {"battle_token": token or "x", "choice": "left"} if path.endswith("votes") else None
    return client.open(path, method=method, json=body)


def assert_503(res, dependency):
    assert res.status_code == 503, (res.status_code, res.get_data(as_text=True)[:300])
    assert int(res.headers["Retry-After"]) > 0
    if res.is_json and res.request.path != "/healthz":
        data = res.get_json()
        assert data["error"] == "unavailable" and data["dependency"] == dependency
        assert dependency in data["reason"]
    elif not res.is_json:
        assert dependency in res.get_data(as_text=True)


@pytest.fixture
def private_redis(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("limits", [True, False], ids=["limits", "no-limits"])
def test_redis_down_answers_503_then_recovers(tmp_path, database_url, private_redis, limits):
    settings = make_settings(
        tmp_path,
        database_url,
        private_redis.url,
        limits={"enabled": limits, "battles": "1000 per minute", "votes": "1000 per minute"},
    )
    app = create_app(settings)
    seed(app.extensions["arena.runtime"].engine)
    client = app.test_client()
    token = new_battle(client)["battle_token"]
    up = {path: call(client, m, path).status_code for m, path in ENDPOINTS}
    assert max(up.values()) < 500, up

    private_redis.stop()
    needs_redis = {"/healthz", "/api/v1/stats", "/api/v1/votes"}
    if limits:  # the rate limits are counted in Redis; reads stay up unmetered, draws do not
        needs_redis |= {"/", "/api/v1/battles"}
    for method, path in ENDPOINTS:
        res = call(client, method, path, token)
        if path in needs_redis:
            assert_503(res, "redis")
        else:
            assert res.status_code < 500, (path, res.status_code)

    private_redis.start()  # the same folder and socket: the app's clients reconnect
    assert call(client, "POST", "/api/v1/votes", token).status_code == 202
    assert client.get("/healthz").status_code == 200


def test_database_down_answers_503(tmp_path, redis_url, redis_conn):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/arena"
    settings = make_settings(tmp_path, url, redis_url)
    client = create_app(settings).test_client()
    for method, path in ENDPOINTS:
        res = call(client, method, path)
        if path == "/api/v1/votes":  # the token is checked before the database is asked
            assert res.status_code == 400
        else:
            assert_503(res, "database")
