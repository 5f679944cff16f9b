"""STAND-IN MODEL, NOT A MODEL: a small OpenAI-compatible chat server for demos and tests.

It plays the part of a model behind vLLM, llama.cpp or a hosted API so live
battles can run without network or weights (``arena demo``) and be tested
through real HTTP on 127.0.0.1. Its answers are made from the prompt by a fixed
rule and say that they come from a stand-in; nothing here is a language model.

Routes: ``POST /v1/chat/completions`` with ``stream`` true (Server-Sent Events:
``data: {chunk}`` lines with ``choices[0].delta.content``, a last chunk with
``finish_reason``, a ``usage`` chunk when the request asks for it with
``stream_options.include_usage``, then ``data: [DONE]``) or false (one
``chat.completion``), and ``GET /v1/models``.

Each served model name has a :class:`Behaviour`: the answer text (default:
:func:`default_answer`), how many chunks it is streamed in, the delay before the
first chunk and between chunks, and a ``mode``:

``ok``        the whole answer, then ``finish_reason`` "stop" ("length" when the
              request's ``max_tokens`` is below the chunk count: one chunk counts
              as one token)
``error500``  HTTP 500 with an OpenAI-style error body
``timeout``   accepts the request and sends nothing until ``hang`` seconds pass
              (or the server stops)
``empty``     a well-formed stream without any content
``drop``      closes the connection after ``drop_after`` chunks, without ending
              the chunked body (what a crashed server looks like to the client)
``leak``      the answer starts with "As <alias>, " (``alias``, else the served
              model name): a model giving away who it is

Streams use HTTP/1.1 chunked transfer encoding like real servers, so a dropped
connection is an incomplete body to the client, not a short answer.
:attr:`StandinModels.requests` keeps every request (body, path, Authorization).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODES = ("ok", "error500", "timeout", "empty", "drop", "leak")
LABEL = "STAND-IN MODEL, NOT A MODEL"

#: A text rule: (served model name, the request's messages) -> the answer.
TextRule = Callable[[str, list[dict]], str]


@dataclass(frozen=True)
class Behaviour:
    """How one served model answers.

    Parameters
    ----------
    text
        The answer: a fixed string, or a rule called with the served model name and the
        request's messages; None: :func:`default_answer`.
    chunks
        How many pieces the answer is streamed in (fewer when it has fewer characters).
    delay
        Seconds slept before each chunk after the first.
    first_delay
        Seconds slept before the first chunk (the time to first token).
    mode
        One of :data:`MODES`.
    drop_after
        ``drop``: how many chunks are sent before the connection is closed.
    hang
        ``timeout``: seconds to wait before giving up on the client.
    alias
        ``leak``: the name the answer gives away (default: the served model name).
    """

    text: str | TextRule | None = None
    chunks: int = 40
    delay: float = 0.0
    first_delay: float = 0.0
    mode: str = "ok"
    drop_after: int = 3
    hang: float = 600.0
    alias: str = ""

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.chunks < 1:
            raise ValueError("chunks must be at least 1")


_CODE_WORDS = re.compile(
    r"```|\b(code|python|javascript|function|program|script|sql|regex|class|implement|bash)\b",
    re.IGNORECASE,
)
_OPENERS = (
    "Here is a short, structured answer.",
    "Let me take this step by step.",
    "A brief overview first, then the details.",
    "Good question; the main points are below.",
)
_POINTS = (
    "state the question in your own words",
    "list what is known and what is asked",
    "check the simplest case first",
    "look for a counterexample",
    "compare two ways of doing it",
    "write down the assumptions",
    "estimate the answer before computing it",
    "test the result against the question",
)


def _user_turns(messages: list[dict]) -> list[str]:
    return [str(m.get("content", "")) for m in messages if m.get("role") == "user"]


def default_answer(model: str, messages: list[dict]) -> str:
    """A deterministic, clearly labelled Markdown answer made from the last user message.

    The same model, prompt and turn always give the same text; different models give
    different openings and points. A prompt asking for code gets a fenced code block.
    The text never names the model (that would be an identity leak in a live battle).
    """
    turns = _user_turns(messages)
    prompt = turns[-1] if turns else ""
    digest = hashlib.sha256(f"{model}\n{len(turns)}\n{prompt}".encode()).digest()
    quoted = " ".join(prompt.split())
    if len(quoted) > 80:
        quoted = quoted[:77] + "..."
    points = [_POINTS[(digest[i] + i) % len(_POINTS)] for i in range(3)]
    lines = [
        f"*{LABEL}: this answer is made by a fixed rule (turn {max(len(turns), 1)}).*",
        "",
        _OPENERS[digest[3] % len(_OPENERS)],
        "",
        f"> {quoted}" if quoted else "> (an empty prompt)",
        "",
        "## Approach",
        "",
        *[
            f"{i + 1}. To begin, **{p}**." if i == 0 else f"{i + 1}. Then {p}."
            for i, p in enumerate(points)
        ],
        "",
    ]
    if _CODE_WORDS.search(prompt):
        name = "solve_" + "".join(f"{b:02x}" for b in digest[4:6])
        lines += [
            "## Code",
            "",
            "```python",
            f"def {name}(items):",
            '    """Stand-in code: returns the items sorted and without repeats."""',
            "    return sorted(set(items))",
            "",
            "",
            f"print({name}([3, 1, 2, 3]))",
            "```",
            "",
        ]
    lines += [
        "## Summary",
        "",
        f"- The prompt had {len(prompt.split())} words and {sum(c.isdigit() for c in prompt)} "
        "digits.",
        "- This reply comes from a stand-in: it does not understand the question.",
    ]
    return "\n".join(lines) + "\n"


def split_chunks(text: str, n: int) -> list[str]:
    """``text`` in at most ``n`` non-empty pieces whose concatenation is ``text``.

    Pieces end at word boundaries when the text has at least ``n`` words, else the
    text is cut into ``n`` runs of characters of (nearly) equal length.
    """
    if not text:
        return []
    words = re.findall(r"\s*\S+|\s+$", text)
    if len(words) >= n:
        bounds = [len(words) * i // n for i in range(n + 1)]
        return ["".join(words[bounds[i] : bounds[i + 1]]) for i in range(n)]
    n = min(n, len(text))
    bounds = [len(text) * i // n for i in range(n + 1)]
    return [text[bounds[i] : bounds[i + 1]] for i in range(n)]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # benchmarks open hundreds of streams at once
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        """Quiet about clients that hang up (a timeout, a closed keep-alive connection)."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class StandinModels:
    """The stand-in on a loopback port: ``with StandinModels({"a": Behaviour()}) as s: s.url``.

    Parameters
    ----------
    models
        Served model name -> :class:`Behaviour`. None: every model name is served with
        the default behaviour (``GET /v1/models`` then lists the names asked for so far).
    port
        0: a free port.
    api_key
        When set, requests must carry ``Authorization: Bearer <api_key>`` (else 401).
    host
        The address to listen on (loopback by default).
    """

    def __init__(
        self,
        models: dict[str, Behaviour] | None = None,
        port: int = 0,
        *,
        api_key: str | None = None,
        host: str = "127.0.0.1",
    ):
        self.models: dict[str, Behaviour] | None = dict(models) if models is not None else None
        self.port = port
        self.host = host
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._seen: list[str] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- control ---------------------------------------------------------------------------
    def set(self, name: str, behaviour: Behaviour) -> None:
        """Serve ``name`` with ``behaviour`` from the next request on."""
        with self._lock:
            if self.models is None:
                self.models = {}
            self.models[name] = behaviour

    def behaviour(self, name: str) -> Behaviour | None:
        """The behaviour of ``name``, or None when it is not served."""
        with self._lock:
            if self.models is None:
                if name not in self._seen:
                    self._seen.append(name)
                return Behaviour()
            return self.models.get(name)

    def served(self) -> list[str]:
        """The model names ``GET /v1/models`` lists."""
        with self._lock:
            return list(self._seen) if self.models is None else list(self.models)

    def requests_for(self, model: str) -> list[dict[str, Any]]:
        """The chat requests made to ``model``, oldest first."""
        with self._lock:
            return [r for r in self.requests if r["body"].get("model") == model]

    @property
    def url(self) -> str:
        """The base URL clients use, ending in ``/v1``."""
        if self._server is None:
            raise RuntimeError("the stand-in is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> StandinModels:
        self._stopping.clear()
        self._server = _Server((self.host, self.port), _handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name="standin-models"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes "timeout" and delayed answers
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StandinModels:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- used by the handler ---------------------------------------------------------------
    def _record(self, entry: dict) -> None:
        with self._lock:
            self.requests.append(entry)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _finished(self, entry: dict) -> None:
        """The request ``entry`` is answered (counted once, before the answer's last bytes
        go out: a client that saw the end of an answer sees it counted)."""
        with self._lock:
            if not entry.get("answered"):
                entry["answered"] = True
                self.in_flight -= 1

    def _sleep(self, seconds: float) -> bool:
        """Sleep; False when the server is stopping."""
        if seconds <= 0:
            return not self._stopping.is_set()
        return not self._stopping.wait(seconds)


def _answer_text(name: str, behaviour: Behaviour, messages: list[dict]) -> str:
    if behaviour.mode == "empty":
        return ""
    if behaviour.text is None:
        text = default_answer(name, messages)
    elif callable(behaviour.text):
        text = behaviour.text(name, messages)
    else:
        text = behaviour.text
    if behaviour.mode == "leak":
        text = f"As {behaviour.alias or name}, " + text
    return text


def _prompt_tokens(messages: list[dict]) -> int:
    return sum(len(str(m.get("content", "")).split()) for m in messages)


def _handler(standin: StandinModels) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "StandinModels/1 (" + LABEL + ")"

        def setup(self):
            super().setup()
            # headers and chunks go out in small writes: without NODELAY, Nagle's
            # algorithm and delayed ACKs would hold each one back
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, *args):  # quiet
            pass

        def _json(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        def _error(self, status: int, message: str, kind: str, code: str | None = None) -> None:
            self._json(status, {"error": {"message": message, "type": kind, "code": code}})

        def do_GET(self):
            if self.path.rstrip("/") != "/v1/models":
                return self._error(404, f"no route {self.path}", "not_found")
            if not self._authorized():
                return None
            data = [
                {"id": name, "object": "model", "owned_by": "stand-in (not a model)"}
                for name in standin.served()
            ]
            return self._json(200, {"object": "list", "data": data})

        def _authorized(self) -> bool:
            if standin.api_key and self.headers.get("Authorization") != (
                f"Bearer {standin.api_key}"
            ):
                self._error(401, "bad API key", "invalid_request_error", "invalid_api_key")
                return False
            return True

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.rstrip("/") != "/v1/chat/completions":
                return self._error(404, f"no route {self.path}", "not_found")
            try:
                body = json.loads(raw or b"{}")
                if not isinstance(body, dict):
                    raise ValueError
            except ValueError:
                return self._error(400, "the body is not a JSON object", "invalid_request_error")
            self.entry = {
                "body": body,
                "raw": raw,
                "path": self.path,
                "authorization": self.headers.get("Authorization"),
                "time": time.time(),
                "client_port": self.client_address[1],  # the same port: a reused connection
            }
            standin._record(self.entry)
            try:
                self._chat(body)
            finally:
                standin._finished(self.entry)
            return None

        def _chat(self, body: dict) -> None:
            if not self._authorized():
                return
            name = body.get("model")
            messages = body.get("messages")
            if not isinstance(name, str) or not isinstance(messages, list):
                return self._error(400, "model and messages are required", "invalid_request_error")
            behaviour = standin.behaviour(name)
            if behaviour is None:
                return self._error(
                    404,
                    f"the model {name!r} does not exist",
                    "invalid_request_error",
                    "model_not_found",
                )
            if behaviour.mode == "error500":
                return self._error(500, "stand-in server error", "server_error")
            if behaviour.mode == "timeout":
                standin._sleep(behaviour.hang)
                self.close_connection = True
                return None
            text = _answer_text(name, behaviour, messages)
            pieces = split_chunks(text, behaviour.chunks)
            finish = "stop"
            max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
            if isinstance(max_tokens, int) and 0 < max_tokens < len(pieces):
                pieces, finish = pieces[:max_tokens], "length"
            usage = {
                "prompt_tokens": _prompt_tokens(messages),
                "completion_tokens": len(pieces),
                "total_tokens": _prompt_tokens(messages) + len(pieces),
            }
            ident = f"chatcmpl-standin-{len(standin.requests)}"
            if not body.get("stream"):
                if not standin._sleep(behaviour.first_delay):
                    return None
                if behaviour.mode == "drop":
                    self.close_connection = True
                    return None
                standin._finished(self.entry)
                return self._json(
                    200,
                    {
                        "id": ident,
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": name,
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": "".join(pieces)},
                                "finish_reason": finish,
                            }
                        ],
                        "usage": usage,
                    },
                )
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._stream(
                    ident, name, behaviour, pieces, finish, usage if include_usage else None
                )
            return None

        def _event(self, payload: dict | str) -> None:
            data = payload if isinstance(payload, str) else json.dumps(payload)
            frame = f"data: {data}\n\n".encode()
            self.wfile.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
            self.wfile.flush()

        def _stream(self, ident, name, behaviour, pieces, finish, usage) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            created = int(time.time())

            def chunk(delta: dict, reason: str | None = None) -> dict:
                return {
                    "id": ident,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": name,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": reason}],
                }

            if not standin._sleep(behaviour.first_delay):
                return
            self._event(chunk({"role": "assistant", "content": ""}))
            for i, piece in enumerate(pieces):
                if behaviour.mode == "drop" and i >= behaviour.drop_after:
                    self.close_connection = True
                    return  # no terminating chunk: the client sees a broken body
                if i and not standin._sleep(behaviour.delay):
                    return
                self._event(chunk({"content": piece}))
            if behaviour.mode == "drop":
                self.close_connection = True
                return
            standin._finished(self.entry)
            self._event(chunk({}, finish))
            if usage is not None:
                self._event({**chunk({}), "choices": [], "usage": usage})
            self._event("[DONE]")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    return Handler


def main() -> None:  # pragma: no cover - manual use: python -m arena.demo_models
    import argparse

    parser = argparse.ArgumentParser(description=f"Run the stand-in models ({LABEL}).")
    parser.add_argument("names", nargs="*", default=["demo-a", "demo-b"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--chunks", type=int, default=40)
    parser.add_argument("--delay", type=float, default=0.02)
    parser.add_argument("--first-delay", type=float, default=0.0, help="time to first token, s")
    args = parser.parse_args()
    models = {
        n: Behaviour(chunks=args.chunks, delay=args.delay, first_delay=args.first_delay)
        for n in args.names
    }
    with StandinModels(models, args.port) as standin:
        print(f"{LABEL}: {', '.join(models)} at {standin.url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    main()
