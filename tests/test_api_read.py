"""The read API (tiers, models, snapshots, matrices), validated against the OpenAPI
description with openapi-core, on SQLite and PostgreSQL; ETag and CSV."""

from __future__ import annotations

import csv
import io
import itertools

import pytest
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse

from arena.app import create_app
from arena.importers import demo_set
from tests.conftest import make_settings
from tests.test_leaderboard import vote_many

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MODELS = {"brisk-3b", "sage-34b", "scrawl-1b", "middle-8b"}


@pytest.fixture
def app(tmp_path, database_url, redis_url, redis_conn):
    settings = make_settings(
        tmp_path, database_url, redis_url, rating={"recompute_every": 5, "bootstrap": 50}
    )
    app = create_app(settings)
    demo_set.load(app.extensions["arena.runtime"].engine)
    return app


@pytest.fixture
def rated(app):
    vote_many(app.extensions["arena.runtime"], 40)
    return app


def checked(client, url, status=200, **kwargs):
    """GET ``url`` and validate the request and the response against /api/v1/openapi.json."""
    spec = OpenAPI.from_dict(client.get("/api/v1/openapi.json").get_json())
    res = client.get(url, **kwargs)
    assert res.status_code == status, res.get_data(as_text=True)
    spec.validate_response(WerkzeugOpenAPIRequest(res.request), WerkzeugOpenAPIResponse(res))
    return res


def test_openapi_document_is_valid_3_1(app):
    from openapi_spec_validator import validate

    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    validate(doc)
    for path in ("/api/v1/tiers", "/api/v1/models/{name}", "/api/v1/snapshots/{snapshot_id}"):
        assert path in doc["paths"]
    page = app.test_client().get("/api/docs")
    assert page.status_code == 200 and b"/api/v1/tiers" in page.data


def test_tiers(rated):
    client = rated.test_client()
    data = checked(client, "/api/v1/tiers").get_json()
    assert data["snapshot"]["scope"]["source"] == "human"
    tiers = data["tiers"]
    assert {m["model"] for t in tiers for m in t["models"]} == MODELS
    assert tiers[0]["models"][0]["model"] == "sage-34b"
    assert [t["tier"] for t in tiers] == sorted(t["tier"] for t in tiers)
    for upper, lower in itertools.pairwise(tiers):
        # what separates two tiers: the next tier's leader lies wholly below this leader's bound
        assert lower["upper_bound"] < upper["lower_bound"]
        assert upper["next_tier_upper_bound"] == lower["upper_bound"]
    rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/tiers?format=csv").text)))
    assert {r["model"] for r in rows} == MODELS
    checked(client, "/api/v1/tiers?format=xml", status=400)
    checked(client, "/api/v1/tiers?category=nothing-here", status=404)


def test_etag_answers_304_until_a_new_snapshot(rated):
    client = rated.test_client()
    first = checked(client, "/api/v1/leaderboard")
    tag = first.headers["ETag"]
    assert tag.startswith('W/"')
    again = client.get("/api/v1/leaderboard", headers={"If-None-Match": tag})
    assert again.status_code == 304 and not again.data
    assert client.get("/api/v1/tiers", headers={"If-None-Match": tag}).status_code == 200
    vote_many(rated.extensions["arena.runtime"], 10, seed=3)
    assert client.get("/api/v1/leaderboard", headers={"If-None-Match": tag}).status_code == 200


def test_models_and_one_model(rated):
    client = rated.test_client()
    models = checked(client, "/api/v1/models").get_json()["models"]
    assert {m["name"] for m in models} == MODELS
    assert all(m["rating"] is not None for m in models)
    one = checked(client, "/api/v1/models/sage-34b").get_json()
    assert one["model"]["name"] == "sage-34b" and one["current"]["rank_ub"] == 1
    assert len(one["history"]) >= 1 and one["history"][-1]["snapshot"] == one["snapshot"]["id"]
    head = {h["opponent"]: h for h in one["head_to_head"]}
    assert set(head) == MODELS - {"sage-34b"}
    assert all(h["losses"] == 0 and h["ties"] == 0 for h in head.values())  # sage wins all
    assert sum(h["wins"] for h in head.values()) == one["current"]["battles"]
    for h in head.values():
        assert 0.5 < h["p_beats"] <= 1 and h["p_low"] <= h["p_beats"] <= h["p_high"]
    assert one["sample_answers"] and one["sample_answers"][0]["answer"]
    checked(client, "/api/v1/models/no-such-model", status=404)
    page = client.get("/models/sage-34b")
    assert page.status_code == 200 and b"head-to-head" in page.data


def test_snapshots_and_matrices(rated):
    client = rated.test_client()
    listing = checked(client, "/api/v1/snapshots").get_json()["snapshots"]
    assert listing and all(s["digest"] for s in listing)
    human = checked(client, "/api/v1/snapshots?source=human&method=bt").get_json()["snapshots"]
    assert human and {s["scope"]["source"] for s in human} == {"human"}
    one = checked(client, f"/api/v1/snapshots/{human[0]['id']}").get_json()
    assert one["snapshot"]["digest"] == human[0]["digest"] and one["meta"]["method"] == "bt"
    checked(client, "/api/v1/snapshots/999999", status=404)
    m = checked(client, "/api/v1/matrices").get_json()
    n = len(m["models"])
    assert n == 4 and len(m["win_probability"]) == n
    for i in range(n):
        for j in range(n):
            if i != j:
                assert m["win_probability"][i][j] + m["win_probability"][j][i] == pytest.approx(
                    1, abs=1e-3
                )
    top = m["models"].index("sage-34b")
    assert m["win_probability"][top][(top + 1) % n] > 0.5
    assert m["significantly_above"][top][top] == 0


def test_page_links_name_the_scope_not_the_raw_query(rated):
    client = rated.test_client()
    page = client.get("/leaderboard?source=all&format=csv&junk=%3Cx%3E")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "junk" not in html and "format=csv&amp;source=all" in html.replace(
        "source=all&amp;format=csv", "format=csv&amp;source=all"
    )
    assert client.get("/models/sage-34b?format=csv&junk=1").status_code == 200
