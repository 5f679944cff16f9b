"""STAND-IN JUDGE, NOT A MODEL: a tiny OpenAI-compatible HTTP server for tests and benchmarks.

It plays the part of a judge model served by vLLM or llama.cpp so the judge
workers can be tested through real HTTP on 127.0.0.1. It does no judging of
its own: in ``correct`` mode it prefers the answer that contains a marker word
(``GOLD`` unless told otherwise), wherever it is shown. It recognises the
three prompt formats of :mod:`workers.judges` by their section headers and
answers in the matching reply format.

Modes (the default mode answers every request; :meth:`StandinJudge.plan`
queues modes for the next requests first):

``correct``    the answer with the marker word wins; neither or both: a tie
               (prometheus has no tie, so it says A)
``first``      always the answer shown first
``second``     always the answer shown second
``malformed``  prose without any verdict
``empty``      an empty reply
``500``        HTTP 500
``429``        HTTP 429 with ``Retry-After: <retry_after>``
``stall``      waits ``stall`` seconds (past the client's timeout), then answers correctly
``odd-usage``  answers correctly, with ``usage`` in a shape of its own (a string)
``not-openai`` HTTP 200 whose body is no completion (``choices`` is a string)
``phrasings`` answers correctly, cycling through every official phrasing of its
               format's verdict (:data:`PHRASINGS`): the parser must lose none

An absolute prompt (``prometheus-absolute``) is graded 5 when the answer holds the
marker word, else 2. Each reply names the served model ``standin-judge`` unless
``served_model`` is given.

``delay`` seconds are slept before every answer (the benchmark's fixed reply
delay). ``requests`` keeps every request body; ``max_in_flight`` the most
requests it was answering at once. :func:`write_config` writes an Arena
config file with judges pointing at a stand-in (for ``arena`` commands and
worker processes).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MODES = (
    "correct",
    "first",
    "second",
    "malformed",
    "empty",
    "500",
    "429",
    "stall",
    "odd-usage",
    "not-openai",
    "phrasings",
)

# (format, header of the answer shown first, header of the answer shown second)
LAYOUTS = (
    ("prometheus", "###Response A:", "###Response B:"),
    (
        "mtbench",
        "<|The Start of Assistant A's Conversation with User|>",
        "<|The Start of Assistant B's Conversation with User|>",
    ),
    ("judgelm", "[The Start of Assistant 1's Answer]", "[The Start of Assistant 2's Answer]"),
    ("mtbench", "[The Start of Assistant A's Answer]", "[The Start of Assistant B's Answer]"),
)
ENDS = (
    "###Reference Answer:",
    "###Score Rubric:",
    "[The End of Assistant 2's Answer]",
    "[The End of Assistant B's Answer]",
    "<|The End of Assistant B's Conversation with User|>",
)

REPLIES = {
    "prometheus": {
        "first": "Response A meets the rubric far better than Response B. [RESULT] A",
        "second": "Response B meets the rubric far better than Response A. [RESULT] B",
        "tie": "Both responses meet the rubric equally well. [RESULT] A",
    },
    "judgelm": {
        "first": "9 4\nAssistant 1 answers the question; Assistant 2 does not.",
        "second": "4 9\nAssistant 2 answers the question; Assistant 1 does not.",
        "tie": "6 6\nBoth assistants answer about equally well.",
    },
    "mtbench": {
        "first": "Assistant A is correct and B is not. [[A]]",
        "second": "Assistant B is correct and A is not. [[B]]",
        "tie": "The two answers are equally good. [[C]]",
    },
}


# Every phrasing of a verdict the official parsers accept (prometheus-eval's parser tests,
# JudgeLM's parse_score, FastChat's [[A]] check): {letter} is A or B, {tie} a tie's form.
PHRASINGS = {
    "prometheus": (
        "Feedback: Response {letter} meets the rubric better. [RESULT] {letter}",
        "Feedback: Both responses are similar... [Response {letter}]",
        "Feedback: Both responses are clear... [Result] Response {letter}",
        "Feedback: Both responses are clear... [RESULT: {letter}]",
        "Feedback: Both responses are clear... [Result: {letter}]",
        "[Response A is discussed first. [RESULT] {letter}",
        "Feedback: Response A. [RESULT] {letter}",
        "feedback in lower case [result] {lower}",
        "Feedback with a newline [RESULT]\n{letter}",
        "Feedback on its own line.\nResult: {letter}",
    ),
    "judgelm": ("{a} {b}\nexplanation", "{a},{b}\nexplanation", "{a}.0 {b}.0\nexplanation"),
    "mtbench": (
        "Explanation. [[{mt}]]",
        "[[{mt}]]",
        "Verdict: [[{mt}]] because of the explanation above.",
    ),
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the benchmark opens dozens of connections at once


MALFORMED = "Both responses have their merits, and I would rather not pick one."


def layout_of(prompt: str) -> tuple[str, int, int, int]:
    """The format and where the first answer, the second answer and its end begin."""
    for name, first, second in LAYOUTS:
        i2 = prompt.rfind(second)
        i1 = prompt.rfind(first, 0, i2) if i2 >= 0 else -1
        if i1 >= 0:
            ends = [prompt.find(e, i2) for e in ENDS]
            end = min([e for e in ends if e >= 0], default=len(prompt))
            return name, i1, i2, end
    raise ValueError("not a prompt in a known judge format")


def preferred(prompt: str, marker: str) -> str:
    """``first``, ``second`` or ``tie``: which shown answer holds the marker word."""
    _, i1, i2, end = layout_of(prompt)
    in_first = marker in prompt[i1:i2]
    in_second = marker in prompt[i2:end]
    if in_first == in_second:
        return "tie"
    return "first" if in_first else "second"


class StandinJudge:
    """The stand-in on a free loopback port: ``with StandinJudge() as judge: judge.base_url``."""

    def __init__(
        self,
        mode: str = "correct",
        *,
        marker: str = "GOLD",
        delay: float = 0.0,
        stall: float = 5.0,
        retry_after: str = "1",
        api_key: str | None = None,
        served_model: str | None = None,
    ):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.mode = mode
        self.marker = marker
        self.delay = delay
        self.stall = stall
        self.retry_after = retry_after
        self.api_key = api_key
        self.served_model = served_model
        self._phrasing = 0
        self.requests: list[dict] = []
        self.modes_used: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._planned: deque[str] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control -----------------------------------------------------------
    def plan(self, *modes: str) -> StandinJudge:
        """Answer the next requests in these modes, then in the default mode again."""
        for m in modes:
            if m not in MODES:
                raise ValueError(f"mode must be one of {MODES}")
        with self._lock:
            self._planned.extend(modes)
        return self

    def _next_mode(self, body: dict) -> str:
        with self._lock:
            mode = self._planned.popleft() if self._planned else self.mode
            self.requests.append(body)
            self.modes_used.append(mode)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return mode

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def phrased(self, fmt: str, verdict: str) -> str:
        """The next official phrasing of ``verdict`` (prometheus has no tie: it says A)."""
        with self._lock:
            k = self._phrasing
            self._phrasing += 1
        forms = PHRASINGS[fmt]
        letter = "B" if verdict == "second" else "A"
        a, b = {"first": (9, 4), "second": (4, 9), "tie": (6, 6)}[verdict]
        mt = {"first": "A", "second": "B", "tie": "C"}[verdict]
        return forms[k % len(forms)].format(letter=letter, lower=letter.lower(), a=a, b=b, mt=mt)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> StandinJudge:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                # headers and body go out in separate writes: without NODELAY, Nagle's
                # algorithm and delayed ACKs would add ~40 ms to every reply
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    return self._send(400, {"error": {"message": "body is not JSON"}})
                body["_raw"] = raw
                body["_path"] = self.path
                body["_authorization"] = self.headers.get("Authorization")
                mode = standin._next_mode(body)
                try:
                    self._answer(mode, body)
                finally:
                    standin._done()

            def _answer(self, mode: str, body: dict) -> None:
                if (
                    standin.api_key
                    and self.headers.get("Authorization") != f"Bearer {standin.api_key}"
                ):
                    return self._send(401, {"error": {"message": "bad API key"}})
                chat = self.path == "/v1/chat/completions"
                if not chat and self.path != "/v1/completions":
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                if standin.delay:
                    time.sleep(standin.delay)
                if mode == "500":
                    return self._send(500, {"error": {"message": "stand-in server error"}})
                if mode == "429":
                    return self._send(
                        429,
                        {"error": {"message": "stand-in rate limit"}},
                        {"Retry-After": standin.retry_after},
                    )
                if mode == "stall":
                    time.sleep(standin.stall)
                if mode == "not-openai":  # a 200 that is no completion at all
                    return self._send(200, {"choices": "none today"})
                prompt = (
                    (body.get("messages") or [{}])[-1].get("content", "")
                    if chat
                    else body.get("prompt", "")
                )
                absolute = "###Response to evaluate:" in prompt
                try:
                    fmt = "prometheus" if absolute else layout_of(prompt)[0]
                except ValueError as exc:
                    return self._send(400, {"error": {"message": str(exc)}})
                if mode == "malformed":
                    reply = MALFORMED
                elif mode == "empty":
                    reply = ""
                elif mode in ("first", "second"):
                    reply = REPLIES[fmt][mode]
                elif absolute:
                    graded = prompt.split("###Response to evaluate:", 1)[1]
                    graded = graded.split("###Reference Answer", 1)[0].split("###Score", 1)[0]
                    reply = f"Feedback: graded. [RESULT] {5 if standin.marker in graded else 2}"
                elif mode == "phrasings":
                    reply = standin.phrased(fmt, preferred(prompt, standin.marker))
                else:
                    reply = REPLIES[fmt][preferred(prompt, standin.marker)]
                choice = {"index": 0, "finish_reason": "stop"}
                if chat:
                    choice["message"] = {"role": "assistant", "content": reply}
                else:
                    choice["text"] = reply
                usage = {
                    "prompt_tokens": len(prompt.split()),
                    "completion_tokens": len(reply.split()),
                    "total_tokens": len(prompt.split()) + len(reply.split()),
                }
                self._send(
                    200,
                    {
                        "id": f"standin-{len(standin.requests)}",
                        "object": "chat.completion" if chat else "text_completion",
                        "model": standin.served_model or body["model"],
                        "choices": [choice],
                        # odd-usage: some servers send usage in a shape of their own
                        "usage": "n/a" if mode == "odd-usage" else usage,
                    },
                )

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name="standin-judge"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> StandinJudge:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def write_config(
    path: Path,
    *,
    database_url: str,
    redis_url: str,
    judges: dict[str, dict],
    secret_key: str = "standin",
) -> Path:
    """Write an Arena config file at ``path`` with these ``[judges.NAME]`` tables.

    The instance folder is ``instance`` beside the file; ratings are not
    recomputed on votes. Values are written as JSON, which TOML reads the same
    for strings, numbers, booleans and lists of them.
    """
    path = Path(path)
    sections = {
        "arena": {"instance": str(path.parent / "instance"), "secret_key": secret_key},
        "database": {"url": database_url},
        "redis": {"url": redis_url},
        "rating": {"recompute_every": 0},
        **{f"judges.{json.dumps(name)}": table for name, table in judges.items()},
    }
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:  # pragma: no cover - manual use: python -m tests.standin_judge
    import argparse

    parser = argparse.ArgumentParser(description="Run the stand-in judge (NOT a model).")
    parser.add_argument("--mode", default="correct", choices=MODES)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    with StandinJudge(args.mode, delay=args.delay) as judge:
        print(f"stand-in judge (not a model) at {judge.base_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    main()
