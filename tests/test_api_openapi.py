"""The battle, vote and live endpoints against /api/v1/openapi.json, with openapi-core: real
requests and answers (every documented refusal too) validated against the description, on
SQLite and PostgreSQL.

The live battle is answered by the real generation worker (:mod:`workers.generate`, in a
thread) from the stand-in model server on loopback (arena.demo_models: STAND-IN MODEL, NOT A
MODEL), so the event stream validated here is the one a browser reads.
"""

from __future__ import annotations

import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from sqlalchemy import select
from sqlmodel import Session
from werkzeug.test import EnvironBuilder

from arena.app import create_app
from arena.battles import TOKEN_SALT, BattleTokens
from arena.demo_models import Behaviour, StandinModels
from arena.models import Battle
from tests.browser.generation import running_generation_worker
from tests.conftest import make_settings, new_battle, seed, work
from tests.test_live_api import parse_events

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MODELS = ("live-a", "live-b")
LIVE_PATHS = {
    "/api/v1/live": {"post"},
    "/api/v1/live/{battle_id}/turns": {"post"},
    "/api/v1/live/{battle_id}/regenerate": {"post"},
    "/api/v1/live/{battle_id}": {"get"},
    "/api/v1/live/{battle_id}/reveal": {"get"},
    "/api/v1/live/{battle_id}/events": {"get"},
    "/api/v1/battles": {"post"},
    "/api/v1/votes": {"post"},
}
#: The refusals of docs/live.md's table (and the shared ones), per operation.
REFUSALS = {
    ("/api/v1/live", "post"): {"400", "404", "429", "503"},
    ("/api/v1/live/{battle_id}/turns", "post"): {"400", "403", "404", "409", "410", "429"},
    ("/api/v1/live/{battle_id}/regenerate", "post"): {"400", "403", "404", "409", "410", "429"},
    ("/api/v1/live/{battle_id}", "get"): {"400", "403", "404", "410"},
    ("/api/v1/live/{battle_id}/reveal", "get"): {"400", "403", "404", "409", "410"},
    ("/api/v1/live/{battle_id}/events", "get"): {"400", "403", "404", "410"},
    ("/api/v1/battles", "post"): {"400", "404", "429"},
    ("/api/v1/votes", "post"): {"400", "404", "409", "410", "429"},
}


@pytest.fixture
def standin():
    with StandinModels(dict.fromkeys(MODELS, Behaviour(chunks=6, delay=0.01))) as server:
        yield server


@pytest.fixture
def settings(tmp_path, database_url, redis_url, redis_conn, standin):
    models = {name: {"base_url": standin.url} for name in MODELS}
    return make_settings(tmp_path, database_url, redis_url, models=models)


@pytest.fixture
def api(app):
    return Described(app)


def _text(body: bytes) -> str:
    return body.decode("utf-8")


class Described:
    """Requests through ``client``, each answer (and, unless told, the request) validated
    against the OpenAPI description ``spec``."""

    def __init__(self, app, spec=None):
        self.client = app.test_client()
        self.spec = spec or OpenAPI.from_dict(
            self.client.get("/api/v1/openapi.json").get_json(),
            # openapi-core reads only JSON and plain text: the event stream is text too
            config=Config(extra_media_type_deserializers={"text/event-stream": _text}),
        )

    def call(self, method: str, url: str, status: int, request_too: bool = True, **kwargs):
        res = self.client.open(url, method=method, **kwargs)
        assert res.status_code == status, res.get_data(as_text=True)
        sent = WerkzeugOpenAPIRequest(EnvironBuilder(url, method=method, **kwargs).get_request())
        if request_too:
            self.spec.validate_request(sent)
        self.spec.validate_response(sent, WerkzeugOpenAPIResponse(res))
        return res

    def get(self, url: str, status: int = 200, **kwargs):
        return self.call("GET", url, status, **kwargs)

    def post(self, url: str, status: int = 201, **kwargs):
        return self.call("POST", url, status, **kwargs)

    def refused(self, method: str, url: str, status: int, error: str, **kwargs):
        """A documented refusal: ``status`` with ``{"error": error, "reason"}``."""
        res = self.call(method, url, status, request_too=False, **kwargs)
        assert res.get_json()["error"] == error and res.get_json()["reason"], res.get_json()
        return res


def expired_token(battle_id: int) -> str:
    """A battle token signed two hours ago (the tokens live an hour)."""

    class TwoHoursAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 7200

    serializer = URLSafeTimedSerializer("test-secret", salt=TOKEN_SALT, signer=TwoHoursAgo)
    return serializer.dumps({"b": battle_id})


def wait_ready(client, battle_id: int, token: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        view = client.get(f"/api/v1/live/{battle_id}", query_string={"token": token}).get_json()
        if view["status"] != "open":
            return view
        time.sleep(0.05)
    raise AssertionError(f"battle {battle_id} did not finish: {view}")


def test_the_document_describes_every_battle_endpoint_and_its_refusals(app):
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    for path, methods in LIVE_PATHS.items():
        assert set(doc["paths"][path]) == methods, path
    for (path, method), statuses in REFUSALS.items():
        operation = doc["paths"][path][method]
        assert statuses <= set(operation["responses"]), (path, sorted(operation["responses"]))
        if method == "post":
            assert operation["requestBody"]["content"]["application/json"]["schema"]
    events = doc["paths"]["/api/v1/live/{battle_id}/events"]["get"]["responses"]["200"]
    assert set(events["content"]) == {"text/event-stream"}
    for kind in ("turn", "delta", "done", "error", "status", "view"):
        assert f"`{kind}`" in events["description"], kind
    page = app.test_client().get("/api/docs")
    assert page.status_code == 200 and b"/api/v1/live/{battle_id}/events" in page.data


def test_a_live_battle_answers_as_described(app, rt, api):
    with running_generation_worker(rt.settings):
        started = api.post("/api/v1/live", json={"prompt": "What is 2 + 2?"}).get_json()
        battle_id, token = started["battle_id"], started["battle_token"]
        base, query = f"/api/v1/live/{battle_id}", {"token": token}
        # While it streams: a follow-up and the reveal are refused.
        api.refused(
            "POST", base + "/turns", 409, "not_ready", json={"battle_token": token, "text": "x"}
        )
        api.refused("GET", base + "/reveal", 409, "not_voted", query_string=query)
        api.get(base, query_string=query)

        wait_ready(api.client, battle_id, token)
        res = api.get(base + "/events", query_string=query)
        events = parse_events(res.get_data(as_text=True))
        assert {"turn", "delta", "done", "status"} <= {e for e, _, _ in events}
        before_status = [i for _, i, _ in events if i][-2]
        for resume in (
            {"headers": {"Last-Event-ID": before_status}},
            {"query_string": {**query, "last_event_id": before_status}},
        ):
            res = api.get(base + "/events", **{"query_string": query, **resume})
            assert [e for e, _, _ in parse_events(res.get_data(as_text=True))] == ["status"]
        view = api.get(base, query_string=query).get_json()
        assert view["status"] == "ready" and "html" in view["turns"][0]["left"]

        res = api.post(base + "/turns", json={"battle_token": token, "text": "And 3 + 3?"})
        assert res.get_json()["turn"] == 2
        wait_ready(api.client, battle_id, token)
        res = api.post(base + "/regenerate", json={"battle_token": token})
        assert res.get_json()["attempt"] == 1
        wait_ready(api.client, battle_id, token)

    res = api.post("/api/v1/votes", 202, json={"battle_token": token, "choice": "tie"})
    assert set(res.get_json().values()) == set(MODELS)
    res = api.get(base + "/reveal", query_string=query)
    assert {res.get_json()[side]["model"] for side in ("left", "right")} == set(MODELS)
    api.refused(
        "POST",
        "/api/v1/votes",
        409,
        "already_voted",
        json={"battle_token": token, "choice": "left"},
    )
    api.refused("POST", base + "/regenerate", 409, "already_voted", json={"battle_token": token})
    work(rt)
    view = api.get(base, query_string=query).get_json()
    assert view["status"] == "voted" and len(view["turns"]) == 2
    api.refused(
        "POST", base + "/turns", 409, "already_voted", json={"battle_token": token, "text": "x"}
    )


def test_live_refusals_are_as_described(app, rt, api):
    start = "/api/v1/live"
    api.refused("POST", start, 400, "bad_prompt", json={"prompt": " "})
    api.refused("POST", start, 400, "too_long", json={"prompt": "x" * 8001})
    api.refused("POST", start, 400, "bad_prompt", json={"prompt": "hi", "category": "?"})
    api.refused("POST", start, 400, "bad_text", json={"prompt": "a\x00b"})
    api.refused("POST", start, 400, "bad_json", data="hi", content_type="text/plain")
    a = api.post(start, json={"prompt": "first"}).get_json()
    b = api.post(start, json={"prompt": "second"}).get_json()
    base = f"/api/v1/live/{a['battle_id']}"
    old = expired_token(a["battle_id"])
    for url in (base, base + "/reveal", base + "/events"):
        api.refused("GET", url, 400, "bad_token", query_string={"token": "nonsense"})
        api.refused("GET", url, 403, "wrong_battle", query_string={"token": b["battle_token"]})
        api.refused("GET", url, 410, "token_expired", query_string={"token": old})
    for url, body in ((base + "/turns", {"text": "more"}), (base + "/regenerate", {})):
        api.refused("POST", url, 400, "bad_token", json={"battle_token": "x", **body})
        api.refused(
            "POST", url, 403, "wrong_battle", json={"battle_token": b["battle_token"], **body}
        )
        api.refused("POST", url, 410, "token_expired", json={"battle_token": old, **body})
    api.refused(
        "GET",
        base + "/events",
        400,
        "bad_id",
        query_string={"token": a["battle_token"]},
        headers={"Last-Event-ID": "zzz"},
    )
    # A token of a battle that does not exist, and of one that is not live (curated, stored
    # by its vote).
    seed(rt.engine)
    curated = new_battle(api.client)
    api.post("/api/v1/votes", 202, json={"battle_token": curated["battle_token"], "choice": "tie"})
    work(rt)
    with Session(rt.engine) as s:
        stored = s.execute(select(Battle.id).where(Battle.origin != "live")).scalar_one()
    signer = BattleTokens("test-secret", 3600)
    for battle_id in (stored, 10**6):
        token = signer.sign(battle_id)
        url, query = f"/api/v1/live/{battle_id}", {"token": token}
        for suffix in ("", "/reveal", "/events"):
            api.refused("GET", url + suffix, 404, "no_battle", query_string=query)
        for suffix in ("/turns", "/regenerate"):
            body = {"battle_token": token, "text": "more"}
            api.refused("POST", url + suffix, 404, "no_battle", json=body)


def test_no_live_models_and_live_turned_off_are_as_described(
    tmp_path, database_url, redis_url, redis_conn
):
    api = Described(create_app(make_settings(tmp_path, database_url, redis_url)))
    api.refused("POST", "/api/v1/live", 503, "no_live_models", json={"prompt": "hi"})
    off = create_app(make_settings(tmp_path, database_url, redis_url, live={"enabled": False}))
    api = Described(off, api.spec)
    api.refused("POST", "/api/v1/live", 404, "live_disabled", json={"prompt": "hi"})


def test_curated_battles_and_votes_are_as_described(app, rt, api):
    api.refused("POST", "/api/v1/battles", 404, "no_battle")  # nothing to draw yet
    seed(rt.engine)
    token = api.post("/api/v1/battles", json={"category": "coding"}).get_json()["battle_token"]
    api.post("/api/v1/battles")
    api.refused("POST", "/api/v1/battles", 400, "bad_category", json={"category": ""})
    api.refused("POST", "/api/v1/battles", 404, "no_battle", json={"category": "poetry"})
    api.refused(
        "POST", "/api/v1/battles", 400, "bad_json", data="{", content_type="application/json"
    )
    votes = "/api/v1/votes"
    api.refused("POST", votes, 400, "bad_choice", json={"battle_token": token, "choice": "no"})
    api.refused("POST", votes, 400, "bad_token", json={"battle_token": "x", "choice": "left"})
    old = expired_token(1)
    api.refused("POST", votes, 410, "token_expired", json={"battle_token": old, "choice": "left"})
    res = api.post(votes, 202, json={"battle_token": token, "choice": "left"})
    assert res.get_json()["left_model"].startswith("model-")
    api.refused("POST", votes, 409, "already_voted", json={"battle_token": token, "choice": "tie"})
