"""The stand-in model server (arena.demo_models, NOT A MODEL) through real HTTP on loopback."""

from __future__ import annotations

import json

import httpx
import pytest

from arena.demo_models import LABEL, Behaviour, StandinModels, default_answer, split_chunks


def _stream(url: str, model: str, **extra) -> tuple[list[dict], list[str]]:
    """The parsed chunks and the raw ``data:`` payloads of one streamed chat request."""
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    body.update(extra)
    chunks, raw = [], []
    with httpx.stream("POST", f"{url}/chat/completions", json=body, timeout=10) as res:
        assert res.status_code == 200
        assert res.headers["content-type"].startswith("text/event-stream")
        for line in res.iter_lines():
            if line.startswith("data: "):
                raw.append(line[6:])
                if line[6:] != "[DONE]":
                    chunks.append(json.loads(line[6:]))
    return chunks, raw


def _content(chunks: list[dict]) -> str:
    return "".join(
        c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices")
    )


def test_split_chunks_keeps_every_character():
    text = "One two  three\n\nfour ünïcode 🎉 five\n"
    for n in (1, 2, 3, 5, 8, 200):
        pieces = split_chunks(text, n)
        assert "".join(pieces) == text
        assert all(pieces)
        assert len(pieces) == min(n, len(text))
    assert split_chunks("", 5) == []


def test_default_answer_is_labelled_deterministic_and_has_code_when_asked():
    msgs = [{"role": "user", "content": "Write a Python function to sort a list"}]
    a = default_answer("demo-a", msgs)
    assert a == default_answer("demo-a", msgs)
    assert LABEL in a and "```python" in a
    assert a != default_answer("demo-b", msgs)
    plain = default_answer("demo-a", [{"role": "user", "content": "Tell me about rivers"}])
    assert "```" not in plain and "## Approach" in plain


def test_streams_the_answer_in_chunks_with_usage_and_done():
    text = "alpha beta gamma delta epsilon zeta eta theta"
    with StandinModels({"m": Behaviour(text=text, chunks=4)}) as s:
        chunks, raw = _stream(s.url, "m", stream_options={"include_usage": True})
    assert raw[-1] == "[DONE]"
    assert _content(chunks) == text
    contents = [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]
    assert len([c for c in contents if c]) == 4
    finals = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finals[-1] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 4
    assert s.requests[0]["body"]["model"] == "m"


def test_max_tokens_below_the_chunks_ends_with_length():
    with StandinModels({"m": Behaviour(text="a b c d e f", chunks=6)}) as s:
        chunks, _ = _stream(s.url, "m", max_tokens=2)
    assert _content(chunks) == "a b"
    assert [c["choices"][0]["finish_reason"] for c in chunks][-1] == "length"


def test_without_streaming_and_models_list():
    with StandinModels({"m": Behaviour(text="hello there")}, api_key="k") as s:
        bad = httpx.get(f"{s.url}/models")
        assert bad.status_code == 401
        h = {"Authorization": "Bearer k"}
        assert [m["id"] for m in httpx.get(f"{s.url}/models", headers=h).json()["data"]] == ["m"]
        res = httpx.post(
            f"{s.url}/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "x"}]},
            headers=h,
        )
        missing = httpx.post(
            f"{s.url}/chat/completions",
            json={"model": "nope", "messages": []},
            headers=h,
        )
    assert res.status_code == 200
    assert res.json()["choices"][0]["message"]["content"] == "hello there"
    assert res.json()["choices"][0]["finish_reason"] == "stop"
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"
    assert s.requests[0]["authorization"] == "Bearer k"


def test_any_model_name_is_served_when_no_models_are_given():
    with StandinModels() as s:
        chunks, _ = _stream(s.url, "whatever")
        listed = httpx.get(f"{s.url}/models").json()["data"]
    assert LABEL in _content(chunks)
    assert [m["id"] for m in listed] == ["whatever"]


def test_error500_and_empty_and_leak():
    models = {
        "bad": Behaviour(mode="error500"),
        "empty": Behaviour(mode="empty"),
        "leaky": Behaviour(mode="leak", text="I can help."),
        "leaky2": Behaviour(mode="leak", alias="GPT-9", text="hi"),
    }
    with StandinModels(models) as s:
        res = httpx.post(
            f"{s.url}/chat/completions",
            json={"model": "bad", "messages": [], "stream": True},
        )
        empty, raw = _stream(s.url, "empty")
        leak, _ = _stream(s.url, "leaky")
        leak2, _ = _stream(s.url, "leaky2")
    assert res.status_code == 500 and res.json()["error"]["type"] == "server_error"
    assert _content(empty) == "" and raw[-1] == "[DONE]"
    assert _content(leak) == "As leaky, I can help."
    assert _content(leak2) == "As GPT-9, hi"


def test_drop_breaks_the_chunked_body_mid_stream():
    with StandinModels(
        {"m": Behaviour(text="a b c d e f g h", chunks=8, mode="drop", drop_after=3)}
    ) as s:
        got = []
        with pytest.raises(httpx.RemoteProtocolError):  # noqa: SIM117
            with httpx.stream(
                "POST",
                f"{s.url}/chat/completions",
                json={"model": "m", "messages": [], "stream": True},
                timeout=10,
            ) as res:
                for line in res.iter_lines():
                    got.append(line)
    payloads = [json.loads(x[6:]) for x in got if x.startswith("data: ")]
    assert _content(payloads) == "a b c"
    assert "data: [DONE]" not in got


def test_timeout_sends_nothing_until_the_client_gives_up():
    with StandinModels({"m": Behaviour(mode="timeout", hang=30)}) as s:  # noqa: SIM117
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(
                f"{s.url}/chat/completions",
                json={"model": "m", "messages": [], "stream": True},
                timeout=httpx.Timeout(5, read=0.3),
            )
    assert len(s.requests) == 1


def test_set_changes_a_behaviour_and_bad_modes_are_refused():
    with pytest.raises(ValueError, match="mode must be one of"):
        Behaviour(mode="explode")
    with StandinModels({"m": Behaviour(text="one")}) as s:
        s.set("m", Behaviour(text="two"))
        chunks, _ = _stream(s.url, "m")
    assert _content(chunks) == "two"
    assert len(s.requests_for("m")) == 1


def test_the_default_answer_never_names_its_model():
    msgs = [{"role": "user", "content": "Who are you? Write some code."}]
    assert "standin-zeta" not in default_answer("standin-zeta", msgs).lower()
