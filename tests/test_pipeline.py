"""The vote pipeline through real HTTP (Flask's test client), a real Redis queue and rq worker."""

from __future__ import annotations

import time

import pytest
from rq import SimpleWorker
from sqlalchemy import func, select
from sqlmodel import Session

from arena import votes
from arena.app import create_app
from arena.battles import BattleTokens
from arena.models import Answer, Battle, Model, PairCount, Prompt, Vote
from workers.ingest import store_vote
from workers.vote_batches import VoteBatchWorker


def seed(engine, n_models=3, n_prompts=2, category="coding"):
    with Session(engine) as s:
        models = [Model(name=f"model-{i}") for i in range(n_models)]
        prompts = [
            Prompt(key=f"p{j}", text=f"Prompt **{j}**", category=category) for j in range(n_prompts)
        ]
        s.add_all(models + prompts)
        s.flush()
        for m in models:
            for p in prompts:
                s.add(Answer(prompt_id=p.id, model_id=m.id, text=f"{m.name} answers {p.key}"))
        s.commit()


def count(engine, table):
    with Session(engine) as s:
        return s.execute(select(func.count()).select_from(table)).scalar_one()


def work(rt, queue="votes"):
    """What `arena worker --burst` runs (vote jobs in batches)."""
    VoteBatchWorker([rt.queue(queue)], connection=rt.redis).work(burst=True)


@pytest.fixture
def app(settings):
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app, rt):
    seed(rt.engine)
    return app.test_client()


def new_battle(client, **body):
    res = client.post("/api/v1/battles", json=body or None)
    assert res.status_code == 201, res.get_json()
    return res.get_json()


def test_battle_hides_model_names(client, rt):
    data = new_battle(client)
    assert set(data) == {"battle_token", "prompt", "left", "right"}
    assert set(data["left"]) == {"text"} and set(data["right"]) == {"text"}
    assert data["prompt"]["category"] == "coding"
    assert "model-" not in str({k: v for k, v in data.items() if k != "left" and k != "right"})
    assert count(rt.engine, Battle) == 1


def test_vote_goes_through_queue_into_db_once(client, rt):
    data = new_battle(client)
    res = client.post(
        "/api/v1/votes", json={"battle_token": data["battle_token"], "choice": "left"}
    )
    assert res.status_code == 202, res.get_json()
    names = res.get_json()
    assert names["left_model"] != names["right_model"]
    assert client.get("/api/v1/stats").get_json()["queued"] == 1
    assert count(rt.engine, Vote) == 0
    work(rt)
    with Session(rt.engine) as s:
        vote = s.execute(select(Vote)).scalar_one()
        battle = s.get(Battle, vote.battle_id)
        left = s.get(Model, battle.left_model_id)
        assert (vote.choice, vote.winner, vote.source) == ("left", left.name, "human")
        assert left.name == names["left_model"]
        pc = s.execute(select(PairCount)).scalar_one()
        assert (pc.left_model_id, pc.left_wins, pc.right_wins) == (left.id, 1, 0)
    stats = client.get("/api/v1/stats").get_json()
    assert stats == {"models": 3, "prompts": 2, "battles": 1, "votes": 1, "queued": 0}
    # The same token again: conflict, and nothing new is stored.
    res = client.post(
        "/api/v1/votes", json={"battle_token": data["battle_token"], "choice": "right"}
    )
    assert res.status_code == 409 and res.get_json()["error"] == "already_voted"
    work(rt)
    assert count(rt.engine, Vote) == 1


def test_second_vote_while_first_is_queued_conflicts(client, rt):
    data = new_battle(client)
    body = {"battle_token": data["battle_token"], "choice": "left"}
    assert client.post("/api/v1/votes", json=body).status_code == 202
    res = client.post("/api/v1/votes", json=dict(body, choice="right"))
    assert res.status_code == 409 and res.get_json()["error"] == "already_voted"
    assert rt.queue("votes").count == 1
    work(rt)
    with Session(rt.engine) as s:
        assert s.execute(select(Vote.choice)).scalars().all() == ["left"]


def test_same_job_run_twice_stores_one_vote(client, rt):
    data = new_battle(client)
    battle_id = BattleTokens("test-secret", 60).battle_id(data["battle_token"])
    with Session(rt.engine) as s:
        payload = votes.payload_for(s, battle_id, "tie")
    assert store_vote(payload) == {"battle_id": battle_id, "stored": 1}
    assert store_vote(payload) == {"battle_id": battle_id, "stored": 0}
    assert count(rt.engine, Vote) == 1
    with Session(rt.engine) as s:
        assert s.execute(select(func.sum(PairCount.ties))).scalar_one() == 1


def test_vote_is_retried_and_not_lost(client, rt):
    """Redis claims and rq job ids: a vote accepted before a crash is still stored once."""
    data = new_battle(client)
    client.post("/api/v1/votes", json={"battle_token": data["battle_token"], "choice": "both_bad"})
    job = rt.queue("votes").jobs[0]
    store_vote(*job.args)  # a worker stored it, then died before acknowledging the job
    work(rt)  # the job runs again
    assert count(rt.engine, Vote) == 1
    with Session(rt.engine) as s:
        assert s.execute(select(Vote.winner)).scalar_one() == "both_bad"


@pytest.mark.parametrize(
    "body, status, error",
    [
        ({"battle_token": "nonsense", "choice": "left"}, 400, "bad_token"),
        ({"battle_token": "", "choice": "left"}, 400, "bad_token"),
        ({"battle_token": 7, "choice": "left"}, 400, "bad_token"),
        ({"choice": "left"}, 400, "bad_token"),
        ({"battle_token": "TOKEN", "choice": "A"}, 400, "bad_choice"),
        ({"battle_token": "TOKEN"}, 400, "bad_choice"),
        ("not an object", 400, "bad_json"),
        (None, 400, "bad_json"),
    ],
)
def test_bad_votes_are_refused(client, rt, body, status, error):
    data = new_battle(client)
    if isinstance(body, dict) and body.get("battle_token") == "TOKEN":
        body["battle_token"] = data["battle_token"]
    res = (
        client.post("/api/v1/votes", json=body)
        if body is not None
        else client.post("/api/v1/votes", data="{broken", content_type="application/json")
    )
    assert res.status_code == status
    assert res.get_json()["error"] == error
    assert res.get_json()["reason"]
    assert rt.queue("votes").count == 0
    work(rt)
    assert count(rt.engine, Vote) == 0


def test_forged_token_is_refused(client, rt):
    new_battle(client)
    forged = BattleTokens("another-secret", 60).sign(1)
    res = client.post("/api/v1/votes", json={"battle_token": forged, "choice": "left"})
    assert res.status_code == 400 and res.get_json()["error"] == "bad_token"


def test_expired_token_is_gone(app, client, rt):
    new_battle(client)
    token = BattleTokens("test-secret", 60)._serializer.dumps({"b": 1})
    time.sleep(2.1)  # itsdangerous counts whole seconds
    web_rt = app.extensions["arena.runtime"]
    web_rt.settings = web_rt.settings.replace(battle={"token_ttl_seconds": 1})
    res = client.post("/api/v1/votes", json={"battle_token": token, "choice": "left"})
    assert res.status_code == 410 and res.get_json()["error"] == "token_expired"
    assert rt.queue("votes").count == 0


def test_battle_category_and_errors(client, rt):
    assert new_battle(client, category="coding")["prompt"]["category"] == "coding"
    res = client.post("/api/v1/battles", json={"category": "poetry"})
    assert res.status_code == 404 and "poetry" in res.get_json()["reason"]
    res = client.post("/api/v1/battles", json={"category": 3})
    assert res.status_code == 400 and res.get_json()["error"] == "bad_category"
    res = client.post("/api/v1/battles", data="[1,", content_type="application/json")
    assert res.status_code == 400
    assert client.get("/api/v1/nowhere").get_json()["error"] == "not_found"
    assert count(rt.engine, Battle) == 1


def test_positions_are_randomized(client, rt):
    """The coin flip: each model of a pair shows up on both sides."""
    seen = set()
    with Session(rt.engine) as s:
        for _ in range(40):
            new_battle(client)
        for b in s.execute(select(Battle)).scalars():
            seen.add((b.left_model_id, b.right_model_id))
    assert any((r, l) in seen for (l, r) in seen)


def test_vote_sends_no_second_session_cookie(client, rt):
    """Drawing a battle refreshes the rater's cookie; the vote that follows does not
    sign and send it again. A voter without a cookie still gets one."""
    data = new_battle(client)
    res = client.post(
        "/api/v1/votes", json={"battle_token": data["battle_token"], "choice": "left"}
    )
    assert res.status_code == 202 and "Set-Cookie" not in res.headers
    assert "Set-Cookie" in client.post("/api/v1/battles").headers
    stranger = client.application.test_client()
    res = stranger.post(
        "/api/v1/votes", json={"battle_token": new_battle(client)["battle_token"], "choice": "tie"}
    )
    assert res.status_code == 202 and "session=" in res.headers["Set-Cookie"]


def test_healthz(client, rt):
    res = client.get("/healthz")
    assert res.status_code == 200 and res.get_json()["status"] == "ok"


def test_battle_page_renders_safely(client, rt):
    with Session(rt.engine) as s:
        for ans in s.execute(select(Answer)).scalars():
            ans.text = "<script>alert(1)</script> **bold**"
            s.add(ans)
        s.commit()
    res = client.get("/")
    html = res.get_data(as_text=True)
    assert res.status_code == 200
    assert "<script>alert(1)" not in html and "<strong>bold</strong>" in html
    assert "A is better" in html and "Both are bad" in html
    assert "model-0" not in html


def test_failed_vote_job_is_retried_by_the_scheduler(client, rt):
    """A vote job that fails (here: its battle is not stored yet) waits in rq's scheduled
    registry and is stored when the worker's scheduler puts it back after the interval
    (rq's own SimpleWorker here: the jobs are plain rq jobs)."""
    data = new_battle(client)
    battle_id = BattleTokens("test-secret", 60).battle_id(data["battle_token"])
    with Session(rt.engine) as s:
        payload = votes.payload_for(s, battle_id, "right")
    payload["battle_id"] = 999  # no such battle (yet): the insert breaks a foreign key
    job = votes.enqueue(rt.queue("votes"), payload, retries=3)
    SimpleWorker([rt.queue("votes")], connection=rt.redis).work(burst=True)
    assert count(rt.engine, Vote) == 0
    assert job.id in rt.queue("votes").scheduled_job_registry.get_job_ids()
    with Session(rt.engine) as s:
        b = s.get(Battle, battle_id)
        s.add(
            Battle(
                id=999,
                prompt_id=b.prompt_id,
                left_model_id=b.left_model_id,
                right_model_id=b.right_model_id,
            )
        )
        s.commit()
    time.sleep(1.5)  # the first of 3 retries waits 1 s
    SimpleWorker([rt.queue("votes")], connection=rt.redis).work(burst=True, with_scheduler=True)
    with Session(rt.engine) as s:
        assert s.execute(select(Vote.battle_id)).scalars().all() == [999]


def test_rate_limits_answer_429_in_json(tmp_path, sqlite_url, redis_url, redis_conn):
    from tests.conftest import make_settings

    settings = make_settings(
        tmp_path, sqlite_url, redis_url, limits={"enabled": True, "battles": "3 per minute"}
    )
    app = create_app(settings)
    seed(app.extensions["arena.runtime"].engine)
    client = app.test_client()
    statuses = [client.post("/api/v1/battles").status_code for _ in range(4)]
    assert statuses == [201, 201, 201, 429]
    res = client.post("/api/v1/battles")
    assert res.get_json()["error"] == "too_many_requests"
    assert client.get("/").status_code == 429  # the page draws battles too, under one limit


def test_votes_have_their_own_rate_limit(tmp_path, sqlite_url, redis_url, redis_conn):
    from tests.conftest import make_settings

    settings = make_settings(
        tmp_path, sqlite_url, redis_url, limits={"enabled": True, "votes": "2 per minute"}
    )
    app = create_app(settings)
    seed(app.extensions["arena.runtime"].engine)
    client = app.test_client()
    statuses = [
        client.post(
            "/api/v1/votes",
            json={"battle_token": new_battle(client)["battle_token"], "choice": "left"},
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [202, 202, 429]
