"""Fuzz every endpoint and parameter of the web app: no answer is ever a 5xx.

Until an OpenAPI description exists (issue 13), hypothesis draws requests for each
endpoint of ``arena/web`` (``api``, ``battle``, ``health``, ``leaderboard``): known
and unknown parameters, values that are valid, nearly valid and hostile (NUL, lone
surrogates, numbers out of range, ``nan``, huge or deeply nested JSON, raw bytes,
wrong content types and methods), battle tokens that are fresh, reused, truncated
or forged. Through Flask's test client against a real SQLite database holding the
demo set, votes and stored rating snapshots, and the real Redis of the test run.

At least ``ARENA_FUZZ_REQUESTS`` requests (default 10,000) are sent; every answer
must be below 500, and under ``/api/`` and ``/healthz`` a JSON body.
"""

from __future__ import annotations

import json
import os
import string

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from arena.app import create_app
from arena.importers import demo_set
from tests.conftest import make_settings
from tests.test_leaderboard import vote_many

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

TARGET = int(os.environ.get("ARENA_FUZZ_REQUESTS", "10000"))
PER_EXAMPLE = 25
NO_BODY = ("HEAD", "OPTIONS")  # answers without a body (OPTIONS: Flask's automatic 200)

# -- values --------------------------------------------------------------------------------

any_char = st.characters(codec=None, exclude_categories=())  # surrogates and NUL included
hostile_text = st.text(any_char, max_size=12)
known_text = st.sampled_from(
    ["", "coding", "math", "writing", "general", "human", "judge:x", "expert", "all"]
)
numberish = st.sampled_from(
    ["0", "1", "-1", "0.5", "2000", "2001", "1e309", "nan", "inf", "-inf", "1_0", " 1", "x"]
)
text_value = st.one_of(known_text, hostile_text, numberish, st.text(string.printable, max_size=300))
json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    hostile_text,
    known_text,
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(hostile_text, inner, max_size=3)
    ),
    max_leaves=8,
)

SCOPE = ("category", "source", "rater_group")
PARAMS = {
    "/": SCOPE,
    "/leaderboard": (*SCOPE, "method", "style_control"),
    "/leaderboard/composite": (*SCOPE, "by"),
    "/leaderboard/judges": ("method",),
    "/healthz": (),
    "/api/v1/stats": (),
    "/api/v1/leaderboard": (*SCOPE, "method", "replicates", "style_control"),
    "/api/v1/leaderboard/scopes": (),
    "/api/v1/rank": (
        *SCOPE,
        "weight",
        "normalize",
        "aggregate",
        "arena_mode",
        "max_vram_gb",
        "min_coverage",
        "replicates",
    ),
}
CHOSEN = {
    "method": ["bt", "davidson", "elo", "BT", ""],
    "normalize": ["rank", "minmax", "zscore", "percentile", "none"],
    "aggregate": ["weighted_mean", "geometric", "borda", "x"],
    "arena_mode": ["rating", "tier", "both"],
    "weight": ["arena=1", "arena=0.6", "benchmarks=0.3", "popularity=-1", "arena", "=1", "x=nan"],
    "replicates": ["0", "1", "2", "20", "true", "-3", "2001"],
    "max_vram_gb": ["0", "24", "-1", "nan", "1e400"],
    "min_coverage": ["0", "0.5", "1", "1.5", "nan"],
    "style_control": ["1", "true", "0", "on", "x"],
    "by": ["composite", "goodness", "fastness", "goodness.math", "x"],
}


# Every path; the cheap ones twice (the pages and the composite rank cost the most).
# (hypothesis draws the first of a list most often: the costly pages come last)
COSTLY = ("/", "/leaderboard", "/api/v1/rank", "/leaderboard/composite", "/leaderboard/judges")
CHEAP = [p for p in PARAMS if p not in COSTLY]
GET_PATHS = [
    *CHEAP,
    *CHEAP,
    "/api/v1/rank",
    "/leaderboard/composite",
    "/leaderboard/judges",
    "/leaderboard",
    "/",
]


PARAM_VALUES = {
    name: st.one_of(st.sampled_from(CHOSEN[name]), text_value) if name in CHOSEN else text_value
    for names in PARAMS.values()
    for name in names
}
# Strategies are built once: building them per draw costs hypothesis more than the draw.
PARAM_LISTS = {
    path: st.lists(st.sampled_from(names), max_size=4) if names else st.just([])
    for path, names in PARAMS.items()
}


@st.composite
def query(draw, path: str):
    items = [(name, draw(PARAM_VALUES[name])) for name in draw(PARAM_LISTS[path])]
    if draw(st.integers(0, 9)) == 0:  # an unknown parameter, now and then
        items.append((draw(hostile_text), draw(text_value)))
    return items


@st.composite
def get_request(draw):
    path = draw(st.sampled_from(GET_PATHS))
    method = draw(st.sampled_from(["GET"] * 8 + ["HEAD"]))
    return {"method": method, "path": path, "query": draw(query(path))}


DEPTHS = st.sampled_from([17, 200, 990, 3000])


def body_of(draw, obj_strategy):
    kind = draw(st.integers(0, 19))
    if kind == 0:
        return {"data": draw(st.binary(max_size=40)), "content_type": "application/json"}
    if kind == 1:
        depth = draw(DEPTHS)
        return {"data": "[" * depth + "]" * depth, "content_type": "application/json"}
    if kind == 2:
        return {"data": json.dumps(draw(obj_strategy)), "content_type": "text/plain"}
    if kind == 3:
        return {"data": repr(draw(json_value)), "content_type": "application/json"}
    return {"data": json.dumps(draw(obj_strategy)), "content_type": "application/json"}


BATTLE_BODY = st.one_of(
    st.fixed_dictionaries({}, optional={"category": st.one_of(text_value, json_value)}),
    json_value,
)
TOKEN_NAMES = ["FRESH", "USED", "FRESH-CUT", "FRESH+NUL", "FRESH+SURROGATE", "FORGED", "STORED"]
VOTE_BODY = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "battle_token": st.one_of(st.sampled_from(TOKEN_NAMES), json_value),
            "choice": st.one_of(st.sampled_from(["left", "right", "tie", "both_bad"]), json_value),
        },
    ),
    json_value,
)
STRAY_PATHS = st.one_of(
    st.sampled_from([*PARAMS, "/api/v1/battles", "/api/v1/votes", "/api/v1/"]),
    st.text(string.ascii_letters + "/%0._-", max_size=30).map(lambda p: "/api/v1/" + p),
    hostile_text.map(lambda p: "/x/" + p),
)
STRAY_METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])


@st.composite
def battle_request(draw):
    return {"method": "POST", "path": "/api/v1/battles", **body_of(draw, BATTLE_BODY)}


@st.composite
def vote_request(draw):
    return {"method": "POST", "path": "/api/v1/votes", **body_of(draw, VOTE_BODY)}


@st.composite
def stray_request(draw):
    """Wrong methods on known paths, and paths nobody serves."""
    return {"method": draw(STRAY_METHODS), "path": draw(STRAY_PATHS)}


# Weighted by hand (one_of picks its branches evenly): drawing battles costs the most.
a_request = st.sampled_from(
    [get_request()] * 3 + [vote_request()] * 3 + [stray_request()] * 2 + [battle_request()]
).flatmap(lambda strategy: strategy)


# -- the run -------------------------------------------------------------------------------


@pytest.fixture
def app(tmp_path, sqlite_url, redis_url, redis_conn):
    settings_ = make_settings(
        tmp_path, sqlite_url, redis_url, rating={"recompute_every": 5, "bootstrap": 20}
    )
    app = create_app(settings_)
    rt = app.extensions["arena.runtime"]
    demo_set.load(rt.engine)
    vote_many(rt, 30)  # stored battles, votes and rating snapshots
    return app


class Fuzzer:
    """Sends the drawn requests, with real battle tokens where a body names one.

    Fresh tokens are minted with the app's own signer from battles the app drew
    (a new random key each: a battle nobody voted on yet), so that voting with
    them does not cost a battle draw per vote.
    """

    def __init__(self, app):
        from arena.web.common import _tokens

        self.client = app.test_client()
        self.signer = _tokens("test-secret", 3600)
        self.sent = 0
        self.drawn = [self.signer.read(self.fresh_token()).unstored for _ in range(20)]
        self.used: list[str] = []

    def fresh_token(self) -> str:
        res = self.client.post("/api/v1/battles")
        self.sent += 1
        assert res.status_code == 201, res.get_data(as_text=True)
        return res.get_json()["battle_token"]

    def token(self, name: str) -> str:
        import dataclasses
        import secrets

        from arena.battles import BattleTokens

        if name == "USED" and self.used:
            return self.used[-1]
        if name == "FORGED":
            return BattleTokens("not-our-secret", 60).sign(1)
        if name == "STORED":
            return self.signer.sign(1)
        battle = self.drawn[secrets.randbelow(len(self.drawn))]
        token = self.signer.sign_unstored(
            dataclasses.replace(battle, key=secrets.token_urlsafe(16))
        )
        self.used.append(token)
        self.used = self.used[-20:]
        return {
            "FRESH": token,
            "FRESH-CUT": token[:-3],
            "FRESH+NUL": token + "\x00",
            "FRESH+SURROGATE": token[:10] + "\ud800" + token[10:],
        }.get(name, token)

    def resolve(self, req: dict) -> dict:
        """Put real tokens where the drawn body names them."""
        data = req.get("data")
        if req["path"] == "/api/v1/votes" and isinstance(data, str) and data.startswith("{"):
            try:
                body = json.loads(data)
            except ValueError:
                return req
            if isinstance(body, dict) and isinstance(body.get("battle_token"), str):
                name = body["battle_token"]
                if name in TOKEN_NAMES:
                    body["battle_token"] = self.token(name)
                return {**req, "data": json.dumps(body)}
        return req

    def send(self, req: dict) -> None:
        req = self.resolve(req)
        kwargs = {}
        if "query" in req:
            kwargs["query_string"] = [
                (k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass"))
                for k, v in req["query"]
            ]
        if "data" in req:
            data = req["data"]
            kwargs["data"] = (
                data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
            )
            kwargs["content_type"] = req["content_type"]
        path = req["path"].encode("utf-8", "surrogatepass").decode("latin-1")
        res = self.client.open(path, method=req["method"], **kwargs)
        self.sent += 1
        assert res.status_code < 500, (req, res.status_code, res.get_data(as_text=True)[:500])
        if req["path"].startswith(("/api/", "/healthz")) and req["method"] not in NO_BODY:
            assert res.is_json, (req, res.status_code, res.get_data(as_text=True)[:200])
            if res.status_code >= 400:
                assert res.get_json()["reason"]


def test_fuzz_every_endpoint_no_5xx(app):
    fuzzer = Fuzzer(app)

    @settings(
        max_examples=100,
        deadline=None,
        database=None,
        phases=[Phase.generate],  # a failure names its request; shrinking lists is slow
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(a_request, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
    def run(requests):
        for req in requests:
            fuzzer.send(req)

    while fuzzer.sent < TARGET:
        run()
    assert fuzzer.sent >= TARGET
