"""Live battles over real HTTP-level requests: bad input, the rate limit, tokens, the vote's
refusal while streaming, and the SSE relay (resume with Last-Event-ID, heartbeats, an expired
stream, byte-identical text), on SQLite and PostgreSQL.

The relay tests write the battle's Redis stream themselves, as the generation worker does
(docs/live.md); the end-to-end test runs the real generation worker against the stand-in
model server (arena.demo_models, STAND-IN MODEL, NOT A MODEL) on loopback.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update
from sqlmodel import Session

from arena import live
from arena.demo_models import Behaviour, StandinModels
from arena.models import Battle, BattleMessage, Model, Prompt
from tests.conftest import make_settings, work

MODELS = ("live-a", "live-b")


@pytest.fixture
def standin():
    with StandinModels(dict.fromkeys(MODELS, Behaviour(chunks=8))) as server:
        yield server


def live_settings(tmp_path, database_url, redis_url, standin_url, **overrides):
    models = {name: {"base_url": standin_url} for name in MODELS}
    return make_settings(tmp_path, database_url, redis_url, models=models, **overrides)


@pytest.fixture
def settings(tmp_path, database_url, redis_url, redis_conn, standin):
    return live_settings(tmp_path, database_url, redis_url, standin.url)


@pytest.fixture
def client(app):
    return app.test_client()


def parse_events(body: str) -> list[tuple[str, str | None, dict | None]]:
    """``(event, id, data)`` of each server-sent event in ``body``; comments as ("comment", ...)."""
    out = []
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        event, entry_id, data = "message", None, []
        for line in block.split("\n"):
            if line.startswith(":"):
                out.append(("comment", None, None))
                continue
            name, _, value = line.partition(": ")
            if name == "event":
                event = value
            elif name == "id":
                entry_id = value
            elif name == "data":
                data.append(value)
        if data:
            out.append((event, entry_id, json.loads("\n".join(data))))
    return out


def start(client, prompt="What is 2 + 2?", **extra) -> dict:
    res = client.post("/api/v1/live", json={"prompt": prompt, **extra})
    assert res.status_code == 201, res.get_json()
    return res.get_json()


def xadd(redis, battle_id: int, **fields) -> str:
    return redis.xadd(live.stream_key(battle_id), {k: str(v) for k, v in fields.items()}).decode()


def finish_turn(
    rt, redis, battle_id: int, texts: dict, turn=1, attempt=0, status="ready", html=None
):
    """What the generation worker does for one turn: rows final, then done and status entries
    (each side's ``html`` in its done entry when ``html`` gives it, as the worker writes it;
    without it, as a worker older than that did)."""
    with Session(rt.engine) as s:
        for side, text in texts.items():
            s.execute(
                update(BattleMessage)
                .where(
                    BattleMessage.battle_id == battle_id,
                    BattleMessage.turn == turn,
                    BattleMessage.side == side,
                    BattleMessage.attempt == attempt,
                )
                .values(text=text, status="done", finish_reason="stop")
            )
        s.execute(update(Battle).where(Battle.id == battle_id).values(status=status))
        s.commit()
    for side in texts:
        xadd(
            redis,
            battle_id,
            kind="done",
            side=side,
            turn=turn,
            attempt=attempt,
            finish_reason="stop",
            ttft_ms=5,
            tokens_per_second=100,
            completion_tokens=3,
            **({"html": html[side]} if html else {}),
        )
    xadd(redis, battle_id, kind="status", status=status, identity_leak=0)


def requested(rt, last: int) -> list[dict]:
    """The ``last`` generation requests on the request stream, fields decoded (the
    conversation parsed)."""
    out = []
    for _, fields in rt.redis.xrange(rt.settings["live"]["request_stream"])[-last:]:
        request = {k.decode(): v.decode() for k, v in fields.items()}
        if "conversation" in request:
            request["conversation"] = json.loads(request["conversation"])
        out.append(request)
    return out


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "bad_prompt"),
        ({"prompt": ""}, "bad_prompt"),
        ({"prompt": "   \n"}, "bad_prompt"),
        ({"prompt": 5}, "bad_prompt"),
        ({"prompt": "x" * 8001}, "too_long"),
        ({"prompt": "hi", "category": "poetry"}, "bad_prompt"),
        ({"prompt": "a\x00b"}, "bad_text"),
    ],
)
def test_bad_prompts_are_refused_and_nothing_is_stored(client, rt, body, error):
    res = client.post("/api/v1/live", json=body)
    assert res.status_code == 400, res.get_json()
    assert res.get_json()["error"] == error and res.get_json()["reason"]
    with Session(rt.engine) as s:
        assert s.execute(select(Battle)).first() is None
        assert s.execute(select(Prompt)).first() is None
    assert not rt.redis.keys("arena:live:*")


def test_not_json_is_refused(client):
    res = client.post("/api/v1/live", data="prompt=hi", content_type="text/plain")
    assert res.status_code == 400 and res.get_json()["error"] == "bad_json"


def test_generation_is_rate_limited_per_client(
    tmp_path, database_url, redis_url, redis_conn, standin
):
    from arena.app import create_app

    settings = live_settings(
        tmp_path,
        database_url,
        redis_url,
        standin.url,
        limits={"enabled": True, "generate": "2 per minute"},
    )
    app = create_app(settings)
    client = app.test_client()
    first = start(client, "one")
    assert client.post("/api/v1/live", json={"prompt": "two"}).status_code == 201
    res = client.post(
        f"/api/v1/live/{first['battle_id']}/regenerate",
        json={"battle_token": first["battle_token"]},
    )
    assert res.status_code == 429  # follow-ups and regenerates share the budget
    assert res.get_json()["error"]
    assert client.post("/api/v1/live", json={"prompt": "three"}).status_code == 429
    other = app.test_client().post(
        "/api/v1/live", json={"prompt": "four"}, environ_base={"REMOTE_ADDR": "10.0.0.9"}
    )
    assert other.status_code == 201  # another client has its own budget


def test_tokens_are_checked(client, rt):
    a = start(client, "first")
    b = start(client, "second")
    url = f"/api/v1/live/{a['battle_id']}"
    assert client.get(url, query_string={"token": b["battle_token"]}).status_code == 403
    assert client.get(url, query_string={"token": "nonsense"}).status_code == 400
    assert client.get(url + "/events").status_code == 400
    res = client.post(url + "/turns", json={"battle_token": b["battle_token"], "text": "x"})
    assert res.status_code == 403 and res.get_json()["error"] == "wrong_battle"
    view = client.get(url, query_string={"token": a["battle_token"]}).get_json()
    assert view["battle_id"] == a["battle_id"] and view["turns"][0]["user"] == "first"
    assert "model" not in json.dumps(view["turns"][0]["left"])


def test_started_battle_is_stored_hidden_and_requested(client, rt):
    started = start(client, "Write a Python function that adds two numbers")
    view = started["view"]
    assert view["status"] == "open" and view["can_vote"] is False
    assert [t["turn"] for t in view["turns"]] == [1]
    assert started["stream_url"].startswith(f"/api/v1/live/{started['battle_id']}/events?token=")
    with Session(rt.engine) as s:
        battle = s.get(Battle, started["battle_id"])
        prompt = s.get(Prompt, battle.prompt_id)
        assert battle.origin == "live" and prompt.category == "coding"
    # One generation request per side on the request stream, carrying that side's model
    # and conversation (the worker calls the model before it reads the battle back).
    requests = rt.redis.xrange(rt.settings["live"]["request_stream"])
    assert len(requests) == 2
    with Session(rt.engine) as s:
        names = dict(s.execute(select(Model.id, Model.name)).all())
    for (_, fields), side, model_id in zip(
        requests, ("left", "right"), (battle.left_model_id, battle.right_model_id), strict=True
    ):
        assert fields[b"side"].decode() == side and fields[b"model"].decode() == names[model_id]
        assert json.loads(fields[b"conversation"]) == [
            ["user", "Write a Python function that adds two numbers"]
        ]
    # The view in the answer is the one the battle's own endpoint gives.
    shown = client.get(
        f"/api/v1/live/{started['battle_id']}", query_string={"token": started["battle_token"]}
    )
    assert shown.get_json() == view


# --- the vote ------------------------------------------------------------------------------


def test_vote_is_refused_while_streaming_then_accepted_and_names_revealed(client, rt):
    started = start(client)
    battle_id, token = started["battle_id"], started["battle_token"]
    res = client.post("/api/v1/votes", json={"battle_token": token, "choice": "left"})
    assert res.status_code == 409, res.get_json()
    assert res.get_json()["reason"]
    reveal = client.get(f"/api/v1/live/{battle_id}/reveal", query_string={"token": token})
    assert reveal.status_code == 409 and reveal.get_json()["error"] == "not_voted"

    finish_turn(rt, rt.redis, battle_id, {"left": "four", "right": "4"})
    res = client.post("/api/v1/votes", json={"battle_token": token, "choice": "left"})
    assert res.status_code == 202, res.get_json()
    names = res.get_json()
    assert {names["left_model"], names["right_model"]} == set(MODELS)
    # The vote is accepted (queued, not stored yet): the names and speeds can be shown.
    reveal = client.get(f"/api/v1/live/{battle_id}/reveal", query_string={"token": token})
    assert reveal.status_code == 200
    assert reveal.get_json()["left"]["model"] == names["left_model"]
    view = client.get(f"/api/v1/live/{battle_id}", query_string={"token": token}).get_json()
    assert view["status"] == "voted" and view["can_vote"] is False
    work(rt)
    with Session(rt.engine) as s:
        assert s.get(Battle, battle_id).status == "voted"
    again = client.post("/api/v1/votes", json={"battle_token": token, "choice": "right"})
    assert again.status_code == 409


def test_failed_battle_cannot_be_voted_on(client, rt):
    started = start(client)
    battle_id, token = started["battle_id"], started["battle_token"]
    with Session(rt.engine) as s:
        s.execute(update(Battle).where(Battle.id == battle_id).values(status="failed"))
        s.commit()
    res = client.post("/api/v1/votes", json={"battle_token": token, "choice": "tie"})
    assert res.status_code == 409 and res.get_json()["reason"]
    res = client.post(
        f"/api/v1/live/{battle_id}/turns", json={"battle_token": token, "text": "more"}
    )
    assert res.status_code == 409


# --- the relay -----------------------------------------------------------------------------


def events(client, battle_id, token, last_id=None, header=True):
    headers = {"Last-Event-ID": last_id} if last_id and header else {}
    query = {"token": token}
    if last_id and not header:
        query["last_event_id"] = last_id
    res = client.get(f"/api/v1/live/{battle_id}/events", query_string=query, headers=headers)
    assert res.status_code == 200, res.get_data(as_text=True)
    assert res.mimetype == "text/event-stream"
    return parse_events(res.get_data(as_text=True))


def text_of(evts, side):
    return "".join(d["text"] for e, _, d in evts if e == "delta" and d["side"] == side)


TRICKY = ["data: x\n\n", "é漢🙂", "\r\n", "<script>alert(1)</script>", " ", "id: 5\r", "end"]


def test_relay_is_byte_identical_and_resumes_after_last_event_id(client, rt, app):
    started = start(client)
    battle_id, token = started["battle_id"], started["battle_token"]
    redis = rt.redis
    ids = []
    for k, piece in enumerate(TRICKY):
        ids.append(xadd(redis, battle_id, kind="delta", side="left", turn=1, attempt=0, text=piece))
        xadd(redis, battle_id, kind="delta", side="right", turn=1, attempt=0, text=str(k))
    finish_turn(rt, redis, battle_id, {"left": "".join(TRICKY), "right": "0123456"})

    full = events(client, battle_id, token)
    assert text_of(full, "left") == "".join(TRICKY)
    assert text_of(full, "right") == "0123456"
    assert [e for e, _, _ in full if e not in ("delta",)][-3:] == ["done", "done", "status"]
    done = [d for e, _, d in full if e == "done"]
    assert all("html" in d for d in done)
    assert "&lt;script&gt;" in next(d["html"] for d in done if d["side"] == "left")
    assert full[-1][2]["status"] == "ready"

    # Resume after any event: the rest, nothing lost and nothing twice.
    for cut in range(1, len(full)):
        last_id = full[cut - 1][1]
        for header in (True, False):
            rest = events(client, battle_id, token, last_id, header=header)
            seen = full[:cut] + rest
            assert text_of(seen, "left") == "".join(TRICKY)
            assert text_of(seen, "right") == "0123456"
            assert [e for e, _, _ in seen].count("status") == 1


def test_relay_sends_the_html_the_worker_rendered(client, rt):
    """The done entry's ``html`` goes out as is: the relay renders nothing (an entry without
    it, from an older worker, is rendered from the database: the test above)."""
    started = start(client)
    battle_id, token = started["battle_id"], started["battle_token"]
    html = {"left": "<p>left, from the worker</p>\n", "right": "<p>right</p>\n"}
    finish_turn(rt, rt.redis, battle_id, {"left": "**stored**", "right": "r"}, html=html)
    done = {d["side"]: d["html"] for e, _, d in events(client, battle_id, token) if e == "done"}
    assert done == html


def test_relay_bad_last_event_id_is_refused(client):
    started = start(client)
    res = client.get(
        f"/api/v1/live/{started['battle_id']}/events",
        query_string={"token": started["battle_token"]},
        headers={"Last-Event-ID": "zzz"},
    )
    assert res.status_code == 400 and res.get_json()["error"] == "bad_id"


def test_relay_sends_heartbeats_and_ends_to_be_resumed(client, app, rt):
    app.config.update(LIVE_HEARTBEAT_SECONDS=0.1, LIVE_MAX_RELAY_SECONDS=0.5)
    started = start(client)
    body = client.get(
        f"/api/v1/live/{started['battle_id']}/events",
        query_string={"token": started["battle_token"]},
    ).get_data(as_text=True)
    assert body.startswith("retry: ")
    evts = parse_events(body)
    assert sum(1 for e, _, _ in evts if e == "comment") >= 2
    assert "status" not in [e for e, _, _ in evts]


def test_relay_of_an_expired_stream_sends_the_stored_view(client, rt):
    started = start(client)
    battle_id, token = started["battle_id"], started["battle_token"]
    finish_turn(rt, rt.redis, battle_id, {"left": "**bold**", "right": "plain"})
    rt.redis.delete(live.stream_key(battle_id))
    evts = events(client, battle_id, token)
    assert [e for e, _, _ in evts] == ["view"]
    view = evts[0][2]
    assert view["status"] == "ready"
    assert "<strong>bold</strong>" in view["turns"][0]["left"]["html"]


# --- follow-ups and regenerate ---------------------------------------------------------------


def test_follow_up_and_regenerate_are_requested_and_refused_when_not_ready(client, rt):
    started = start(client)
    battle_id, token = started["battle_id"], started["battle_token"]
    base = f"/api/v1/live/{battle_id}"
    res = client.post(base + "/turns", json={"battle_token": token, "text": "and then?"})
    assert res.status_code == 409 and res.get_json()["error"] == "not_ready"
    res = client.post(base + "/regenerate", json={"battle_token": token})
    assert res.status_code == 409 and res.get_json()["error"] == "not_ready"

    finish_turn(rt, rt.redis, battle_id, {"left": "a", "right": "b"})
    res = client.post(base + "/regenerate", json={"battle_token": token})
    assert res.status_code == 201, res.get_json()
    assert (res.get_json()["turn"], res.get_json()["attempt"]) == (1, 1)
    sides = res.get_json()["view"]["turns"][0]
    assert sides["left"]["attempt"] == 1 and sides["left"]["status"] == "streaming"
    entries = rt.redis.xrange(live.stream_key(battle_id))
    assert entries[-1][1][b"kind"] == b"turn" and entries[-1][1][b"attempt"] == b"1"
    # The regenerate's requests carry each side's model and conversation, as the start's do.
    asked = requested(rt, last=2)
    assert [(r["turn"], r["attempt"]) for r in asked] == [("1", "1"), ("1", "1")]
    assert [r["conversation"] for r in asked] == [[["user", "What is 2 + 2?"]]] * 2
    assert {r["model"] for r in asked} == set(MODELS)

    finish_turn(rt, rt.redis, battle_id, {"left": "c", "right": "d"}, attempt=1)
    res = client.post(base + "/turns", json={"battle_token": token, "text": "   "})
    assert res.status_code == 400 and res.get_json()["error"] == "bad_prompt"
    res = client.post(base + "/turns", json={"battle_token": token, "text": "and then?"})
    assert res.status_code == 201 and res.get_json()["turn"] == 2
    assert [t["user"] for t in res.get_json()["view"]["turns"]] == ["What is 2 + 2?", "and then?"]
    # Each side's request carries its own history: the answer that counts (attempt 1).
    with Session(rt.engine) as s:
        battle = s.get(Battle, battle_id)
        names = {
            "left": s.get(Model, battle.left_model_id).name,
            "right": s.get(Model, battle.right_model_id).name,
        }
    for request, (side, answer) in zip(requested(rt, last=2), (("left", "c"), ("right", "d"))):
        assert (request["side"], request["model"], request["turn"]) == (side, names[side], "2")
        assert request["conversation"] == [
            ["user", "What is 2 + 2?"],
            ["assistant", answer],
            ["user", "and then?"],
        ]


def test_no_more_turns_than_max_turns(tmp_path, database_url, redis_url, redis_conn, standin):
    from arena import runtime
    from arena.app import create_app

    settings = live_settings(tmp_path, database_url, redis_url, standin.url, live={"max_turns": 1})
    rt = runtime.configure(settings)
    client = create_app(settings).test_client()
    started = start(client)
    finish_turn(rt, rt.redis, started["battle_id"], {"left": "a", "right": "b"})
    res = client.post(
        f"/api/v1/live/{started['battle_id']}/turns",
        json={"battle_token": started["battle_token"], "text": "more"},
    )
    assert res.status_code == 409 and res.get_json()["error"] == "max_turns"


def test_page_offers_the_prompt_box_only_with_live_models(client, rt, app):
    page = client.get("/").get_data(as_text=True)
    assert 'id="prompt-text"' in page and "stored and may be published" in page
    assert "/highlight-" in page  # the highlight stylesheet is linked
    curated = client.get("/?mode=curated")
    assert 'id="prompt-text"' not in curated.get_data(as_text=True)


def test_relay_waits_longer_than_the_redis_socket_timeout(client, app, rt):
    """redis-py ends a read after 5 s by default: the relay must still deliver a chunk that
    comes after a longer quiet spell (a slow model's first token)."""
    import threading

    app.config.update(LIVE_HEARTBEAT_SECONDS=6.0, LIVE_MAX_RELAY_SECONDS=7.0)
    started = start(client)
    battle_id = started["battle_id"]
    timer = threading.Timer(
        5.6,
        lambda: xadd(
            rt.redis, battle_id, kind="delta", side="left", turn=1, attempt=0, text="late"
        ),
    )
    timer.start()
    try:
        evts = events(client, battle_id, started["battle_token"])
    finally:
        timer.cancel()
    assert text_of(evts, "left") == "late"


def test_live_battles_turned_off(tmp_path, database_url, redis_url, redis_conn, standin):
    from arena import runtime
    from arena.app import create_app
    from tests.conftest import seed

    settings = live_settings(
        tmp_path, database_url, redis_url, standin.url, live={"enabled": False}
    )
    seed(runtime.configure(settings).engine)
    client = create_app(settings).test_client()
    res = client.post("/api/v1/live", json={"prompt": "hi"})
    assert res.status_code == 404 and res.get_json()["error"] == "live_disabled"
    page = client.get("/").get_data(as_text=True)
    assert 'id="prompt-text"' not in page and 'id="vote-form"' in page  # the curated battle
