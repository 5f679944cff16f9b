"""Maintainer import endpoints and the Parquet vote export, on SQLite and PostgreSQL.

Every body goes through the importers ``arena import`` uses; a bad one answers 400
naming its row and stores nothing; a repeated one updates and adds nothing; real
requests and responses are validated against /api/v1/openapi.json.
"""

from __future__ import annotations

import csv
import io
import json

import polars as pl
import pytest
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from werkzeug.test import EnvironBuilder

from arena import tokens
from arena.app import create_app
from arena.models import Alias, Answer, BenchmarkScore, Model, ModelMetadata, Popularity, Prompt
from tests.conftest import count, make_settings, shared_data

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

URL = "/api/v1/maintainer/import/"
JSONL = "application/x-ndjson"
MODELS = [
    {"name": "alpha-7b", "organization": "Acme", "parameters_b": 7, "state": "provisional"},
    {"name": "beta-13b", "license": "apache-2.0", "release_date": "2025-01-31"},
]
PROMPTS = [
    {"id": "p1", "text": "Say hi", "category": "writing"},
    {"id": 2, "text": "Add 2 and 2", "category": "math"},
]


@pytest.fixture
def app(tmp_path, database_url, redis_url, redis_conn):
    app = create_app(make_settings(tmp_path, database_url, redis_url, api={"max_import_mb": 1}))
    app.config["TESTING"] = True
    return app


@pytest.fixture
def engine(app):
    return app.extensions["arena.runtime"].engine


@pytest.fixture
def token(engine):
    return tokens.create(engine, "ci", "maintainer")[0]


@pytest.fixture
def spec(app):
    return OpenAPI.from_dict(app.test_client().get("/api/v1/openapi.json").get_json())


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def send(client, kind, token, body, content_type="application/json", spec=None):
    """POST ``body`` (a list: JSON; bytes/str: as is); with ``spec``, validate the response
    (and the request, when it was accepted) against the OpenAPI description."""
    data = json.dumps(body) if isinstance(body, list) else body
    res = client.post(URL + kind, data=data, content_type=content_type, headers=auth(token))
    if spec is not None:
        sent = EnvironBuilder(
            path=URL + kind,
            method="POST",
            data=data,
            content_type=content_type,
            headers=auth(token),
        ).get_request()
        if res.status_code == 200:
            spec.validate_request(WerkzeugOpenAPIRequest(sent))
        spec.validate_response(WerkzeugOpenAPIRequest(sent), WerkzeugOpenAPIResponse(res))
    return res


def jsonl(objects) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


def test_tokens_are_required_and_nothing_changes(app, engine, token, spec):
    judge = tokens.create(engine, "bot", "judge")[0]
    client = app.test_client()
    for headers, status, error in [
        ({}, 401, "no_token"),
        (auth("arena_00000000_guess"), 401, "bad_token"),
        (auth(judge), 403, "forbidden"),
    ]:
        res = client.post(URL + "models", json=MODELS, headers=headers)
        assert (res.status_code, res.get_json()["error"]) == (status, error)
    assert count(engine, Model) == 0
    sent = EnvironBuilder(path=URL + "models", method="POST", json=MODELS).get_request()
    spec.validate_response(WerkzeugOpenAPIRequest(sent), WerkzeugOpenAPIResponse(res))


def test_models_prompts_answers_import_and_reimport(app, engine, token, spec):
    client = app.test_client()
    res = send(client, "models", token, MODELS, spec=spec)
    assert res.status_code == 200, res.get_json()
    assert res.get_json() == {"kind": "models", "inserted": 2, "updated": 0}
    res = send(client, "prompts", token, jsonl(PROMPTS), JSONL, spec=spec)
    assert res.get_json() == {"kind": "prompts", "inserted": 2, "updated": 0}
    answers = [
        {"prompt": "p1", "model": "alpha-7b", "text": "Hi!", "tokens": 2},
        {"prompt": 2, "model": "beta-13b", "text": "# Four\n\n- **4**"},
    ]
    res = send(client, "answers", token, answers, spec=spec)
    assert res.get_json() == {"kind": "answers", "inserted": 2, "updated": 0}
    # the same bodies again: updated, nothing added
    for kind, body in (("models", MODELS), ("prompts", PROMPTS), ("answers", answers)):
        res = send(client, kind, token, body)
        assert res.get_json() == {"kind": kind, "inserted": 0, "updated": 2}
    assert (count(engine, Model), count(engine, Prompt), count(engine, Answer)) == (2, 2, 2)
    listed = {m["name"]: m for m in client.get("/api/v1/models").get_json()["models"]}
    assert listed["alpha-7b"]["state"] == "provisional"
    assert listed["alpha-7b"]["organization"] == "Acme"


@pytest.mark.parametrize(
    ("kind", "body", "content_type", "row", "words"),
    [
        ("models", [{"name": "ok"}, {"organization": "x"}], "application/json", 2, "name"),
        ("models", [{"name": "ok"}, {"name": "ok"}], "application/json", 2, "already"),
        ("models", [{"name": "ok"}, "nope"], "application/json", 2, "JSON object"),
        ("models", '{"name": "ok"}\n\n{"name": 5}\n', JSONL, 3, "string"),
        ("models", '{"name": "ok"}\n{"name": \n', JSONL, 2, "not valid JSON"),
        ("prompts", [{"id": "a", "text": "t", "color": 1}], "application/json", 1, "unknown"),
        ("models", [{"name": "ok", "release_date": "2025-02-30"}], "application/json", 1, "date"),
        ("answers", [{"prompt": "zz", "model": "m", "text": "t"}], "application/json", 1, "prompt"),
        ("benchmarks", "model,benchmark,score\nA,gpqa,0.5\nB,gpqa,1.5\n", "text/csv", 3, "score"),
        ("benchmarks", [{"model": "A", "benchmark": "gpqa", "score": [1]}], None, 1, "number"),
        ("popularity", [{"model": "A", "downloads": -3}], "application/json", 1, ">= 0"),
        ("metadata", [{"name": "A", "parameters_b": "big"}], "application/json", 1, "number"),
        ("aliases", [{"alias": "a", "model": "A"}, {"alias": "A", "model": "B"}], None, 2, "alias"),
    ],
)
def test_a_bad_row_is_named_and_nothing_is_stored(
    app, engine, token, spec, kind, body, content_type, row, words
):
    client = app.test_client()
    res = send(client, kind, token, body, content_type or "application/json", spec=spec)
    payload = res.get_json()
    assert res.status_code == 400, payload
    assert payload["error"] == "bad_row" and payload["row"] == row
    assert payload["reason"].startswith(f"row {row}: ") and words in payload["reason"]
    for table in (Model, Prompt, Answer, BenchmarkScore, Popularity, ModelMetadata, Alias):
        assert count(engine, table) == 0


def test_an_answer_to_an_unknown_model_rolls_back_the_whole_body(app, engine, token):
    client = app.test_client()
    send(client, "models", token, MODELS)
    send(client, "prompts", token, PROMPTS)
    answers = [
        {"prompt": "p1", "model": "alpha-7b", "text": "fine"},
        {"prompt": "p1", "model": "gamma-70b", "text": "no such model"},
    ]
    res = send(client, "answers", token, answers)
    assert res.status_code == 400 and res.get_json()["row"] == 2
    assert "unknown model 'gamma-70b'" in res.get_json()["reason"]
    assert count(engine, Answer) == 0


@pytest.mark.parametrize(
    ("kind", "data", "content_type", "status", "error"),
    [
        ("models", "", "application/json", 400, "bad_body"),
        ("models", "{", "application/json", 400, "bad_body"),
        ("models", '{"name": "x"}', "application/json", 400, "bad_body"),
        ("models", "name\nx\n", "text/csv", 415, "unsupported_media_type"),
        ("benchmarks", "model=x", "application/x-www-form-urlencoded", 415, None),
        ("benchmarks", "", "text/csv", 400, "bad_body"),
        ("benchmarks", "model,benchmark\n", "text/csv", 400, None),
        ("nothing", "[]", "application/json", 404, None),
    ],
)
def test_bad_bodies(app, engine, token, kind, data, content_type, status, error):
    res = app.test_client().post(
        URL + kind, data=data, content_type=content_type, headers=auth(token)
    )
    assert res.status_code == status, res.get_json()
    if error:
        assert res.get_json()["error"] == error
    assert res.get_json()["reason"]
    assert count(engine, Model) == 0 and count(engine, BenchmarkScore) == 0


def test_signals_as_csv_and_as_json(app, engine, token, spec):
    client = app.test_client()
    long_csv = (
        "model,benchmark,subtask,score,n_items\nalpha-7b,gpqa,,0.40,448\nbeta-13b,gpqa,,0.5,\n"
    )
    res = send(client, "benchmarks", token, long_csv, "text/csv", spec=spec)
    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    assert (body["inserted"], body["updated"], body["format"]) == (2, 0, "long")
    as_json = [
        {"model": "alpha-7b", "benchmark": "gpqa", "score": 0.45, "n_items": 448},
        {"model": "gamma", "benchmark": "ifeval", "score": 55.5, "normalized": True},
    ]
    res = send(client, "benchmarks", token, as_json, spec=spec)
    assert (res.get_json()["inserted"], res.get_json()["updated"]) == (1, 1)
    assert count(engine, BenchmarkScore) == 3
    popularity = [{"model": "alpha-7b", "downloads": 1200, "likes": 7, "date": "2025-03-01"}]
    res = send(client, "popularity", token, jsonl(popularity), JSONL, spec=spec)
    assert (res.get_json()["inserted"], res.get_json()["format"]) == (1, "csv")
    metadata = [{"name": "alpha-7b", "parameters_b": 7.2, "precision": "bfloat16"}]
    res = send(client, "metadata", token, metadata, spec=spec)
    assert (res.get_json()["inserted"], res.get_json()["format"]) == (1, "jsonl")
    res = send(client, "aliases", token, "alias,model\nAlpha,alpha-7b\n", "text/csv", spec=spec)
    assert res.get_json()["inserted"] == 1
    again = send(client, "aliases", token, [{"alias": "alpha", "model": "alpha-7b"}])
    assert (again.get_json()["inserted"], again.get_json()["updated"]) == (0, 1)
    assert (count(engine, Popularity), count(engine, ModelMetadata), count(engine, Alias)) == (
        1,
        1,
        1,
    )


def test_the_v2_export_as_sent_by_a_maintainer(app, engine, token):
    """The first rows of the real Open LLM Leaderboard v2 export, as ``arena import`` reads it."""
    path = shared_data("open-llm-leaderboard-2025-03-15", "huggingface_v2.csv")
    with open(path, encoding="utf-8") as fh:
        head = "".join(next(fh) for _ in range(41))  # the header and 40 models
    client = app.test_client()
    res = send(client, "benchmarks", token, head, "text/csv")
    body = res.get_json()
    assert res.status_code == 200 and body["format"] == "open-llm-leaderboard-v2", body
    assert body["inserted"] == count(engine, BenchmarkScore) == 6 * int(body["notes"][0].split()[0])
    res = send(client, "metadata", token, head, "text/csv")
    assert res.status_code == 200 and res.get_json()["inserted"] == count(engine, ModelMetadata)
    res = send(client, "benchmarks", token, head, "text/csv")
    assert res.get_json()["inserted"] == 0


def test_body_size_limit_is_the_import_setting(app, engine, token):
    client = app.test_client()
    prompts = [{"id": f"p{k}", "text": "x" * 200} for k in range(1000)]  # ~230 KB > 64 KiB
    res = send(client, "prompts", token, prompts)
    assert res.status_code == 200 and res.get_json()["inserted"] == 1000
    big = [{"id": f"q{k}", "text": "x" * 2000} for k in range(600)]  # > max_import_mb = 1
    res = send(client, "prompts", token, big)
    assert res.status_code == 413 and res.get_json()["reason"]
    assert count(engine, Prompt) == 1000
    other = client.post("/api/v1/battles", data="x" * 70_000, content_type="application/json")
    assert other.status_code == 413  # the rest of the API keeps its 64 KiB limit


def test_votes_parquet_matches_the_csv(tmp_path, database_url, redis_url, redis_conn):
    from arena.importers import demo_set
    from tests.test_leaderboard import vote_many

    app = create_app(make_settings(tmp_path, database_url, redis_url))
    rt = app.extensions["arena.runtime"]
    demo_set.load(rt.engine)
    vote_many(rt, 9)
    token = tokens.create(rt.engine, "ci", "maintainer")[0]
    client = app.test_client()
    assert client.get("/api/v1/maintainer/votes.parquet").status_code == 401
    judge = tokens.create(rt.engine, "bot", "judge")[0]
    assert client.get("/api/v1/maintainer/votes.parquet", headers=auth(judge)).status_code == 403
    res = client.get("/api/v1/maintainer/votes.parquet", headers=auth(token))
    assert res.status_code == 200 and res.mimetype == "application/vnd.apache.parquet"
    frame = pl.read_parquet(io.BytesIO(res.data))
    rows = list(
        csv.DictReader(
            io.StringIO(client.get("/api/v1/maintainer/votes.csv", headers=auth(token)).text)
        )
    )
    assert frame.height == len(rows) == 9
    assert frame["rater"].to_list() == [r["rater"] for r in rows]
    assert "r1" not in frame["rater"].to_list() and len(frame["rater"][0]) == 16
    assert frame["vote_id"].dtype == pl.Int64
    assert frame["winner"].to_list() == [r["winner"] for r in rows]
    spec = OpenAPI.from_dict(client.get("/api/v1/openapi.json").get_json())
    sent = EnvironBuilder(
        path="/api/v1/maintainer/votes.parquet", method="GET", headers=auth(token)
    ).get_request()
    spec.validate_request(WerkzeugOpenAPIRequest(sent))


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        ("model,benchmark,score\n" + "m" * 400 + ",gpqa,0.5\n", "text/csv", "longer than"),
        ("model,benchmark,score\nA,gp\x00qa,0.5\n", "text/csv", "NUL"),
        ([{"alias": "a" * 301, "model": "A"}], "application/json", "longer than"),
        ([{"name": "A", "precision": "p" * 41}], "application/json", "longer than"),
    ],
)
def test_values_the_database_cannot_store_are_bad_rows(
    app, engine, token, body, content_type, words
):
    """Too long for its column (PostgreSQL refuses, SQLite would keep it) or holding a NUL:
    400 naming the row, on both databases, and nothing stored."""
    kind = "benchmarks" if content_type == "text/csv" else None
    kind = kind or ("aliases" if "alias" in body[0] else "metadata")
    res = send(app.test_client(), kind, token, body, content_type)
    payload = res.get_json()
    assert res.status_code == 400 and payload["error"] == "bad_row", payload
    assert payload["row"] == (2 if content_type == "text/csv" else 1) and words in payload["reason"]
    for table in (BenchmarkScore, ModelMetadata, Alias):
        assert count(engine, table) == 0


def test_signal_text_limits_are_the_database_columns():
    """The importers refuse text longer than the column that stores it: the same sizes."""
    from arena.importers.benchmarks import MAX_CHARS

    columns = {
        "model": BenchmarkScore.__table__.c.model,
        "benchmark": BenchmarkScore.__table__.c.benchmark,
        "subtask": BenchmarkScore.__table__.c.subtask,
        "alias": Alias.__table__.c.alias,
        "organization": ModelMetadata.__table__.c.organization,
        "precision": ModelMetadata.__table__.c.precision,
        "architecture": ModelMetadata.__table__.c.architecture,
        "license": ModelMetadata.__table__.c.license,
        "base_model": ModelMetadata.__table__.c.base_model,
    }
    assert {k: c.type.length for k, c in columns.items()} == MAX_CHARS
    for table in (Popularity, ModelMetadata, Alias):
        assert table.__table__.c.model.type.length == MAX_CHARS["model"]
