"""Bearer tokens: roles enforced on the maintainer endpoints, 401/403 change nothing,
``[api] public_read = false``, and ``arena token create|list|revoke``."""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from sqlalchemy import select
from sqlmodel import Session
from werkzeug.test import EnvironBuilder

from arena import tokens
from arena.app import create_app
from arena.importers import demo_set
from arena.models import ApiToken, Model
from tests.conftest import make_settings
from tests.test_leaderboard import vote_many

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _app(tmp_path, database_url, redis_url, **overrides):
    settings = make_settings(
        tmp_path,
        database_url,
        redis_url,
        rating={"recompute_every": 5, "bootstrap": 20},
        **overrides,
    )
    app = create_app(settings)
    demo_set.load(app.extensions["arena.runtime"].engine)
    return app


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def state_of(app, name):
    with Session(app.extensions["arena.runtime"].engine) as s:
        return s.execute(select(Model.state).where(Model.name == name)).scalar_one()


def test_roles_are_enforced(tmp_path, database_url, redis_url, redis_conn):
    app = _app(tmp_path, database_url, redis_url)
    engine = app.extensions["arena.runtime"].engine
    maintainer, _ = tokens.create(engine, "ci", "maintainer")
    judge, _ = tokens.create(engine, "judge-bot", "judge")
    client = app.test_client()
    url = "/api/v1/maintainer/models/brisk-3b/state"
    for headers, status, error in [
        ({}, 401, "no_token"),
        (bearer("arena_00000000_guess"), 401, "bad_token"),
        (bearer(maintainer + "x"), 401, "bad_token"),
        (bearer(judge), 403, "forbidden"),
    ]:
        res = client.put(url, json={"state": "retired"}, headers=headers)
        assert (res.status_code, res.get_json()["error"]) == (status, error)
        assert state_of(app, "brisk-3b") == "active"  # nothing changed
    res = client.put(url, json={"state": "nope"}, headers=bearer(maintainer))
    assert res.status_code == 400 and state_of(app, "brisk-3b") == "active"
    res = client.put(url, json={"state": "retired"}, headers=bearer(maintainer))
    assert res.get_json() == {"model": "brisk-3b", "state": "retired", "previous": "active"}
    spec = OpenAPI.from_dict(client.get("/api/v1/openapi.json").get_json())
    sent = EnvironBuilder(
        path=url, method="PUT", json={"state": "retired"}, headers=bearer(maintainer)
    ).get_request()
    spec.validate_request(WerkzeugOpenAPIRequest(sent))
    spec.validate_response(WerkzeugOpenAPIRequest(sent), WerkzeugOpenAPIResponse(res))
    assert state_of(app, "brisk-3b") == "retired"
    assert client.post("/api/v1/maintainer/recompute", headers=bearer(judge)).status_code == 403
    res = client.post("/api/v1/maintainer/recompute", headers=bearer(maintainer))
    assert res.status_code == 202 and res.get_json()["queue"] == "recompute"
    sent = EnvironBuilder(
        path="/api/v1/maintainer/recompute", method="POST", headers=bearer(maintainer)
    ).get_request()
    spec.validate_response(WerkzeugOpenAPIRequest(sent), WerkzeugOpenAPIResponse(res))
    tokens.revoke(engine, "ci")
    res = client.put(url, json={"state": "active"}, headers=bearer(maintainer))
    assert res.status_code == 401 and state_of(app, "brisk-3b") == "retired"


def test_only_a_hash_is_stored(tmp_path, database_url, redis_url, redis_conn):
    app = _app(tmp_path, database_url, redis_url)
    engine = app.extensions["arena.runtime"].engine
    token, _info = tokens.create(engine, "ci", "maintainer")
    with Session(engine) as s:
        row = s.execute(select(ApiToken)).scalar_one()
    secret = token.split("_", 2)[2]  # the random part may itself hold "_"
    assert token not in (row.token_hash, row.prefix) and secret not in row.token_hash
    assert tokens.verify(engine, token).name == "ci"
    with pytest.raises(tokens.TokenError):
        tokens.create(engine, "ci", "maintainer")
    with pytest.raises(tokens.TokenError):
        tokens.create(engine, "x", "admin")


def test_vote_export_pseudonymizes_raters(tmp_path, database_url, redis_url, redis_conn):
    app = _app(tmp_path, database_url, redis_url)
    rt = app.extensions["arena.runtime"]
    vote_many(rt, 12)
    token, _ = tokens.create(rt.engine, "ci", "maintainer")
    client = app.test_client()
    assert client.get("/api/v1/maintainer/votes.csv").status_code == 401
    res = client.get("/api/v1/maintainer/votes.csv", headers=bearer(token))
    rows = list(csv.DictReader(io.StringIO(res.get_data(as_text=True))))
    assert len(rows) == 12
    raters = {r["rater"] for r in rows}
    assert len(raters) == 1 and "r1" not in raters and len(raters.pop()) == 16
    assert {r["choice"] for r in rows} <= {"left", "right", "tie", "both_bad"}


def test_private_reads(tmp_path, database_url, redis_url, redis_conn):
    app = _app(tmp_path, database_url, redis_url, api={"public_read": False})
    judge, _ = tokens.create(app.extensions["arena.runtime"].engine, "reader", "judge")
    client = app.test_client()
    res = client.get("/api/v1/models")
    assert res.status_code == 401 and res.get_json()["error"] == "no_token"
    assert client.get("/api/v1/models", headers=bearer(judge)).status_code == 200
    public = _app(tmp_path / "b", database_url, redis_url).test_client()
    assert public.get("/api/v1/models").status_code == 200


def test_token_commands(tmp_path, database_url, redis_url, redis_conn, monkeypatch):
    from arena.cli import main

    _app(tmp_path, database_url, redis_url)
    monkeypatch.setenv("ARENA_DATABASE_URL", database_url)
    monkeypatch.setenv("ARENA_REDIS_URL", redis_url)
    monkeypatch.setenv("ARENA_INSTANCE", str(tmp_path / "instance"))
    runner = CliRunner()
    made = runner.invoke(main, ["token", "create", "--role", "maintainer", "--name", "ci"])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[0]
    assert token.startswith("arena_")
    listed = runner.invoke(main, ["token", "list"])
    assert "ci\tmaintainer" in listed.output and token not in listed.output
    again = runner.invoke(main, ["token", "create", "--role", "maintainer", "--name", "ci"])
    assert again.exit_code == 1 and "exists" in again.output
    bad = runner.invoke(main, ["token", "create", "--role", "admin", "--name", "x"])
    assert bad.exit_code == 2
    assert runner.invoke(main, ["token", "revoke", "ci"]).exit_code == 0
    assert "revoked" in runner.invoke(main, ["token", "list"]).output
    assert runner.invoke(main, ["token", "revoke", "nobody"]).exit_code == 1
