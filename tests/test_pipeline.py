"""The vote pipeline through real HTTP (Flask's test client), a real Redis queue and rq worker."""

from __future__ import annotations

import time

import numpy as np
import pytest
from rq import SimpleWorker
from sqlalchemy import func, select
from sqlmodel import Session

from arena import battles, votes
from arena.app import create_app
from arena.battles import BattleTokens
from arena.models import Answer, Battle, Model, PairCount, Vote
from tests.conftest import count, new_battle, seed, work
from workers.ingest import store_vote


def read_token(token: str) -> battles.Ticket:
    return BattleTokens("test-secret", 3600).read(token)


def stored_battle(rt) -> int:
    """A battle stored when drawn (as judge jobs draw them); its id."""
    with Session(rt.engine) as s:
        issued = battles.issue(s, np.random.default_rng(), rater_id="rater-1")
        s.commit()
        return issued.battle.id


def test_battle_hides_model_names(client, rt):
    data = new_battle(client)
    assert set(data) == {"battle_token", "prompt", "left", "right"}
    assert set(data["left"]) == {"text"} and set(data["right"]) == {"text"}
    assert data["prompt"]["category"] == "coding"
    assert "model-" not in str({k: v for k, v in data.items() if k != "left" and k != "right"})
    # The token is signed, not secret: what it carries in the clear names no model.
    import json

    from itsdangerous import base64_decode

    clear = json.loads(base64_decode(data["battle_token"].split(".")[0]))
    assert set(clear) == {"k", "p", "m", "s", "r"}
    assert clear["p"] == data["prompt"]["id"] and clear["s"] == "uniform"
    ids = {read_token(data["battle_token"]).unstored.left_model_id}
    assert not ids & {v for v in clear.values() if isinstance(v, int) and v != clear["p"]}


def test_unvoted_battles_store_nothing(client, rt):
    """Finding 7: drawing battles (the page, the API) writes no row, not even a rater."""
    from arena.models import Rater

    for _ in range(5):
        new_battle(client)
        assert client.get("/").status_code == 200
    assert count(rt.engine, Battle) == 0 and count(rt.engine, Rater) == 0
    assert client.get("/api/v1/stats").get_json()["battles"] == 0


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
    assert count(rt.engine, Battle) == 0  # stored with its vote, by the worker
    work(rt)
    ticket = read_token(data["battle_token"])
    with Session(rt.engine) as s:
        vote = s.execute(select(Vote)).scalar_one()
        battle = s.get(Battle, vote.battle_id)
        left = s.get(Model, battle.left_model_id)
        assert (vote.choice, vote.winner, vote.source) == ("left", left.name, "human")
        assert left.name == names["left_model"]
        # The battle as drawn and shown: positions, prompt, sampler, rater, issue time.
        drawn = ticket.unstored
        assert (battle.left_model_id, battle.right_model_id, battle.prompt_id) == (
            drawn.left_model_id,
            drawn.right_model_id,
            drawn.prompt_id,
        )
        assert (battle.origin, battle.sampler, battle.external_key) == (
            "web",
            "uniform",
            drawn.external_key,
        )
        assert battle.rater_id == vote.rater_id and battle.rater_id
        issued = battle.issued_at.replace(tzinfo=None) - ticket.issued_at.replace(tzinfo=None)
        assert abs(issued.total_seconds()) < 1
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
    with Session(rt.engine) as s:
        payload = votes.payload_for_unstored(s, read_token(data["battle_token"]).unstored, "tie")
    assert store_vote(payload)["stored"] == 1
    assert store_vote(payload)["stored"] == 0
    assert votes.store(rt.engine, [payload, payload]) == 0
    assert count(rt.engine, Vote) == 1 and count(rt.engine, Battle) == 1
    with Session(rt.engine) as s:
        assert s.execute(select(func.sum(PairCount.ties))).scalar_one() == 1


def test_same_stored_battle_job_run_twice_stores_one_vote(client, rt):
    battle_id = stored_battle(rt)
    with Session(rt.engine) as s:
        payload = votes.payload_for(s, battle_id, "tie")
    assert store_vote(payload) == {"battle_id": battle_id, "stored": 1}
    assert store_vote(payload) == {"battle_id": battle_id, "stored": 0}
    assert count(rt.engine, Vote) == 1


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
    assert count(rt.engine, Battle) == 0


def test_positions_are_randomized(client, rt):
    """The coin flip: each model of a pair shows up on both sides."""
    seen = set()
    for _ in range(40):
        b = read_token(new_battle(client)["battle_token"]).unstored
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
    battle_id = stored_battle(rt)
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


def test_claim_outlives_the_job(client, rt):
    """Finding 1, deterministically: once the worker has stored the vote and deleted its
    job, enqueueing the same battle's vote again is still refused (the claim remains),
    and the claim lives as long as the token plus the margin."""
    from rq.exceptions import DuplicateJobError

    data = new_battle(client)
    body = {"battle_token": data["battle_token"], "choice": "left"}
    assert client.post("/api/v1/votes", json=body).status_code == 202
    job_id = rt.queue("votes").job_ids[0]
    payload = rt.queue("votes").jobs[0].args[0]
    work(rt)
    assert not rt.redis.exists(f"rq:job:{job_id}")  # the job is gone, the vote stored
    with pytest.raises(DuplicateJobError):
        votes.enqueue(rt.queue("votes"), payload)
    ttl = rt.redis.ttl(votes.CLAIM_KEY + job_id)
    token_ttl = int(rt.settings["battle"]["token_ttl_seconds"])
    assert token_ttl < ttl <= token_ttl + votes.CLAIM_MARGIN_SECONDS + 2
    assert client.post("/api/v1/votes", json=body).status_code == 409
    assert count(rt.engine, Vote) == 1


def test_an_app_made_later_leaves_the_rate_limits_of_an_earlier_one(
    tmp_path, sqlite_url, redis_url, redis_conn
):
    """Each app has its own limiter: one made later in the same process with ``[limits]
    enabled = false`` does not turn off the limits of one made before (it did while they
    shared flask-limiter's one ``Limiter``)."""
    from tests.conftest import make_settings

    limited = create_app(
        make_settings(
            tmp_path, sqlite_url, redis_url, limits={"enabled": True, "battles": "2 per minute"}
        )
    )
    seed(limited.extensions["arena.runtime"].engine)
    unlimited = create_app(make_settings(tmp_path / "other", sqlite_url, redis_url))
    assert unlimited.config["RATELIMIT_ENABLED"] is False
    client = limited.test_client()
    assert [client.post("/api/v1/battles").status_code for _ in range(3)] == [201, 201, 429]
    free = unlimited.test_client()
    assert [free.post("/api/v1/battles").status_code for _ in range(3)] == [201, 201, 201]
