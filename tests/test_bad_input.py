"""Finding 6 of issue 10: input that cannot be stored is refused with 400, not 500.

A NUL character (PostgreSQL refuses it in text) or a lone surrogate (no UTF-8
encoder takes it; JSON's ``\\udXXX`` escapes carry one) in ``category``,
``source``, ``rater_group`` or a battle token, anywhere a client can put it: a
JSON body, a query string, a page's URL. JSON nested ~990 deep (``RecursionError``
in the parser). Raw bytes that are not UTF-8 in a query string. A prompts file with
a NUL names its line. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from arena.cli import main
from arena.models import Battle, Prompt, Vote
from tests.conftest import count, new_battle

NUL, SURROGATE = "a\x00b", "a\ud800b"
BAD = pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "surrogate"])


def raw_json(value: dict) -> str:
    """JSON text with lone surrogates as ``\\udXXX`` escapes (as a client sends them)."""
    return json.dumps(value)  # ensure_ascii escapes every non-ASCII code point


def assert_400(res, error="bad_text"):
    assert res.status_code == 400, (res.status_code, res.get_data(as_text=True)[:300])
    if res.is_json:
        assert res.get_json()["error"] == error and res.get_json()["reason"]


@BAD
def test_bad_text_in_a_json_body(client, rt, bad):
    res = client.post(
        "/api/v1/battles", data=raw_json({"category": bad}), content_type="application/json"
    )
    assert_400(res)
    assert "category" in res.get_json()["reason"]
    token = new_battle(client)["battle_token"]
    for body in (
        {"battle_token": token + bad, "choice": "left"},
        {"battle_token": bad, "choice": "left"},
        {"battle_token": token, "choice": bad},
        {"battle_token": token, "choice": "left", bad: 1},
    ):
        res = client.post("/api/v1/votes", data=raw_json(body), content_type="application/json")
        assert res.status_code == 400, (body, res.get_json())
    assert count(rt.engine, Vote) == 0 and rt.queue("votes").count == 0


PATHS = ["/api/v1/leaderboard", "/api/v1/rank", "/leaderboard", "/", "/api/v1/stats", "/healthz"]


@pytest.mark.parametrize("name", ["category", "source", "rater_group"])
@pytest.mark.parametrize("path", PATHS)
def test_nul_in_a_query_string(client, name, path):
    """(A surrogate cannot arrive percent-encoded: Werkzeug keeps ``%ED%A0%80`` as text;
    as raw bytes it is not UTF-8, below.)"""
    res = client.get(path, query_string={name: NUL})
    assert_400(res)
    if path.startswith(("/api/", "/healthz")):
        assert name in res.get_json()["reason"]
    else:
        assert res.mimetype == "text/html" and "contains" in res.get_data(as_text=True)


@pytest.mark.parametrize("raw", ["category=\xed", "source=\xed\xa0\x80", "\xff=1"])
@pytest.mark.parametrize("path", PATHS)
def test_query_string_that_is_not_utf8(client, raw, path):
    """Raw bytes in the query string (WSGI gives them as latin-1 text)."""
    res = client.get(path, environ_overrides={"QUERY_STRING": raw})
    assert_400(res)


@pytest.mark.parametrize("path", ["/api/v1/a%00b", "/api/v1/leaderboard%00", "/a%00"])
def test_nul_in_a_url(client, path):
    res = client.get(path)
    assert_400(res)
    assert res.is_json == path.startswith("/api/")


def test_url_that_is_not_utf8(client):
    res = client.get("/", environ_overrides={"PATH_INFO": "/api/v1/\xed\xa0\x80"})
    assert res.status_code in (400, 404) and res.is_json


def test_json_nested_deep_is_400(client, rt):
    for depth in (990, 5000, 40):
        body = "[" * depth + "]" * depth
        for path in ("/api/v1/votes", "/api/v1/battles"):
            res = client.post(path, data=body, content_type="application/json")
            assert_400(res, "bad_json")
        nested = '{"category": ' + "[" * depth + "]" * depth + "}"
        res = client.post("/api/v1/battles", data=nested, content_type="application/json")
        assert_400(res, "bad_category" if depth <= 16 else "bad_json")
    assert count(rt.engine, Battle) == 0


def test_json_body_must_be_json_typed(client):
    """A body a cross-site form can send (text/plain) is no JSON body for the API."""
    token = new_battle(client)["battle_token"]
    res = client.post(
        "/api/v1/votes",
        data=json.dumps({"battle_token": token, "choice": "left"}),
        content_type="text/plain",
    )
    assert_400(res, "bad_json")


def test_head_and_wrong_method_under_api_are_json(client):
    for method in ("HEAD", "GET", "PUT", "DELETE"):
        res = client.open("/api/v1/votes", method=method)
        assert res.status_code == 405 and res.mimetype == "application/json"
        assert "POST" in res.headers["Allow"]
        if method != "HEAD":
            assert res.get_json()["error"] == "method_not_allowed"
        else:
            assert res.data == b"" and int(res.headers["Content-Length"]) > 0
    res = client.head("/api/v1/nowhere")
    assert res.status_code == 404 and res.mimetype == "application/json"


def test_long_url_is_json_414(client):
    res = client.get("/api/v1/leaderboard?category=" + "x" * 9000)
    assert res.status_code == 414 and res.get_json()["error"] == "uri_too_long"


@BAD
def test_import_prompts_names_the_line(database_url, tmp_path, bad):
    path = tmp_path / "prompts.jsonl"
    lines = [{"id": "p1", "text": "fine"}, {"id": "p2", "text": "x" + bad, "category": "c"}]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    env = {"ARENA_DATABASE_URL": database_url, "ARENA_INSTANCE": str(tmp_path / "inst")}
    result = CliRunner().invoke(main, ["import", "prompts", str(path)], env=env)
    assert result.exit_code != 0
    assert f"{path}, line 2: field 'text'" in result.output and "contains a" in result.output
    from arena import db

    assert count(db.get_engine(database_url), Prompt) == 0
