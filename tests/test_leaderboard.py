"""Leaderboard page and maintainer API: they show the stored snapshots, and move with votes."""

from __future__ import annotations

import numpy as np
import pytest
from rq import SimpleWorker
from sqlmodel import Session

from arena import battles, votes
from arena.app import create_app
from arena.importers import demo_set
from tests.conftest import make_settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url


@pytest.fixture
def app(tmp_path, sqlite_url, redis_url, redis_conn):
    settings = make_settings(
        tmp_path, sqlite_url, redis_url, rating={"recompute_every": 5, "bootstrap": 50}
    )
    app = create_app(settings)
    demo_set.load(app.extensions["arena.runtime"].engine)
    return app


def vote_many(rt, n, prefer="sage-34b", seed=0):
    """Store n votes directly; ``prefer`` wins every battle it is in, others tie."""
    rng = np.random.default_rng(seed)
    with Session(rt.engine) as s:
        ids = [battles.issue(s, rng, rater_id="r1").battle.id for _ in range(n)]
        s.commit()
        payloads = []
        for battle_id in ids:
            p = votes.payload_for(s, battle_id, "tie")
            if prefer in (p["left_model"], p["right_model"]):
                p = votes.payload_for(
                    s, battle_id, "left" if p["left_model"] == prefer else "right"
                )
            payloads.append(p)
    for p in payloads:
        rt.queue("votes").enqueue(votes.STORE_VOTE_JOB, p)
    SimpleWorker([rt.queue("votes"), rt.queue("recompute")], connection=rt.redis).work(burst=True)


def test_no_snapshot_yet(app):
    client = app.test_client()
    res = client.get("/api/v1/leaderboard")
    assert res.status_code == 404 and res.get_json()["error"] == "no_snapshot"
    page = client.get("/leaderboard")
    assert page.status_code == 200 and b"No ratings yet" in page.data
    assert client.get("/api/v1/leaderboard?method=nope").status_code == 400


def test_leaderboard_moves_with_votes(app):
    rt = app.extensions["arena.runtime"]
    client = app.test_client()
    vote_many(rt, 30)
    data = client.get("/api/v1/leaderboard").get_json()
    assert data["models"][0]["model"] == "sage-34b"
    assert "bootstrap" not in data
    assert {m["model"] for m in data["models"]} == {
        "brisk-3b",
        "sage-34b",
        "scrawl-1b",
        "middle-8b",
    }
    assert all(m["ci_low"] <= m["rating"] <= m["ci_high"] for m in data["models"])
    first_votes = data["meta"]["battles"]
    assert first_votes == 30
    with_reps = client.get("/api/v1/leaderboard?replicates=1").get_json()
    assert len(with_reps["bootstrap"]["ratings"]) == 50
    vote_many(rt, 30, prefer="brisk-3b", seed=1)
    data = client.get("/api/v1/leaderboard").get_json()
    assert data["meta"]["battles"] == 60
    scopes = client.get("/api/v1/leaderboard/scopes").get_json()["scopes"]
    assert {
        "method": "bt",
        "category": "coding",
        "source": "human",
        "rater_group": "",
    }.items() <= next(s for s in scopes if s["category"] == "coding").items()
    coding = client.get("/api/v1/leaderboard?category=coding").get_json()
    assert coding["meta"]["scope"]["category"] == "coding"
    assert coding["meta"]["battles"] < 60
    html = client.get("/leaderboard").get_data(as_text=True)
    assert "sage-34b" in html and "Rank (UB)" in html
    from arena.web.assets import PLOTLY_VERSION

    assert client.get(f"/vendor/plotly-{PLOTLY_VERSION}.min.js").status_code == 200


def test_composite_rank_api(app):
    rt = app.extensions["arena.runtime"]
    client = app.test_client()
    vote_many(rt, 30)
    res = client.get("/api/v1/rank?replicates=50")
    assert res.status_code == 200, res.get_json()
    data = res.get_json()
    assert data["models"][0]["model"] == "sage-34b"
    top = data["models"][0]
    assert top["ci_low"] <= top["score"] <= top["ci_high"]
    assert {"rank", "rank_ub", "tier", "coverage", "signals"} <= set(top)
    arena = top["signals"]["arena"]
    assert arena["weight"] > 0 and arena["raw"] == data["models"][0]["signals"]["arena"]["raw"]
    assert arena["weight"] <= top["coverage"] <= 1
    tiered = client.get("/api/v1/rank?arena_mode=tier&replicates=0").get_json()
    assert tiered["models"][0]["model"] == "sage-34b"


@pytest.mark.parametrize(
    "query, reason",
    [
        ("weight=speed=1", "speed"),
        ("normalize=log", "normalize"),
        ("aggregate=max", "aggregate"),
        ("replicates=-1", "replicates"),
        ("max_vram_gb=lots", "max_vram_gb"),
        ("max_vram_gb=nan", "max_vram_gb"),
        ("max_vram_gb=inf", "max_vram_gb"),
        ("min_coverage=nan", "min_coverage"),
        ("colour=red", "colour"),
    ],
)
def test_composite_rank_api_bad_parameters(app, query, reason):
    res = app.test_client().get("/api/v1/rank?" + query)
    assert res.status_code == 400
    assert reason in res.get_json()["reason"]
