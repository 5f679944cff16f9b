"""One streamed chat completion from an OpenAI-compatible endpoint, measured.

:func:`stream_chat` sends ``POST {base_url}/chat/completions`` with ``stream: true``
and reads the Server-Sent Events: each content delta goes to ``on_delta`` exactly
as received, the last ``finish_reason`` and the ``usage`` chunk are kept, and the
answer ends at ``data: [DONE]``. It never raises for what an endpoint does: the
:class:`Outcome` says what came back, with its measures (time to first token,
latency, tokens per second) or a one-line reason:

* ``timed out after 30 s waiting for the first token`` (``first_token_timeout``)
  and ``timed out after 120 s`` (the model's ``timeout``, for the whole answer);
* ``cannot connect to the endpoint (...)``;
* ``HTTP 500 from the endpoint: <its error message>``;
* ``the stream broke after 120 characters`` (the body ended or broke before
  ``[DONE]`` and without a finish reason);
* ``the model returned nothing``;
* ``the endpoint sent something that is not a chat stream``.

Used by the generation worker (:mod:`workers.generate`) and ``arena models check``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import httpx

from arena.endpoints import ModelEndpoint
from rating.style_features import count_tokens


@dataclass
class Outcome:
    """A finished answer: what was received and measured, or the error."""

    text: str = ""
    status: str = "done"  # done | error
    error: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    ttft_ms: float | None = None
    latency_ms: float | None = None
    tokens_per_second: float | None = None
    settings: str | None = None  # JSON: the exact generation settings used
    identity_leak: bool = False


class StreamBroke(Exception):
    """The endpoint's stream ended or broke before the answer was complete."""


class EndpointError(Exception):
    """The endpoint answered with an error (its one-line reason is the message)."""


def seconds(x: float) -> str:
    """``30`` for 30.0, ``0.5`` for 0.5."""
    return f"{x:g}"


def one_line(text: object, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _http_reason(status: int, body: bytes) -> str:
    reason = f"HTTP {status} from the endpoint"
    try:
        err = json.loads(body or b"{}").get("error")
        message = err.get("message") if isinstance(err, dict) else err
    except (ValueError, AttributeError):
        message = None
    if isinstance(message, str) and message.strip():
        return f"{reason}: {one_line(message, 160)}"
    return reason


def request_body(endpoint: ModelEndpoint, conversation: Sequence[tuple[str, str]]) -> dict:
    """The chat request for one answer: the model's settings and the conversation.

    ``conversation`` is ``(role, text)`` pairs, oldest first; the system prompt,
    when set, goes first.
    """
    messages = []
    if endpoint.system_prompt:
        messages.append({"role": "system", "content": endpoint.system_prompt})
    messages += [{"role": role, "content": text} for role, text in conversation]
    return {
        "model": endpoint.served_model,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": endpoint.temperature,
        "top_p": endpoint.top_p,
        "max_tokens": endpoint.max_tokens,
    }


@dataclass
class _Progress:
    """What one stream has delivered so far, and when."""

    t0: float
    first_at: float | None = None
    parts: list[str] = field(default_factory=list)
    usage: dict | None = None
    finished: bool = False  # [DONE] seen

    def measure(self, out: Outcome, end: float) -> None:
        """Fill the text and the measures of ``out`` (its ``error`` set means it failed)."""
        out.text = "".join(self.parts)
        if out.error is None and not out.text:
            out.error = "the model returned nothing"
        if out.error is not None:
            out.status = "error"
        out.latency_ms = round((end - self.t0) * 1000, 1)
        if self.first_at is not None:
            out.ttft_ms = round((self.first_at - self.t0) * 1000, 1)
        if self.usage:
            out.prompt_tokens = _int(self.usage.get("prompt_tokens"))
            out.completion_tokens = _int(self.usage.get("completion_tokens"))
        if out.completion_tokens is None and out.text:
            out.completion_tokens = count_tokens(out.text)  # the tokenizer-free rule
        if self.first_at is not None and out.completion_tokens:
            speed = out.completion_tokens / max(end - self.first_at, 1e-3)
            out.tokens_per_second = round(speed, 1)


async def _nothing(_text: str) -> None:
    return None


async def stream_chat(
    client: httpx.AsyncClient,
    endpoint: ModelEndpoint,
    conversation: Sequence[tuple[str, str]],
    out: Outcome | None = None,
    *,
    headers: dict | None = None,
    on_delta: Callable[[str], Awaitable[None]] = _nothing,
    first_token_timeout: float = 0.0,
    connect_timeout: float = 10.0,
) -> Outcome:
    """Stream one answer; fill and return ``out`` (a new :class:`Outcome` by default).

    ``first_token_timeout`` (0: none) bounds the wait for the first content delta,
    ``endpoint.timeout`` the whole answer; ``connect_timeout`` is only used in the
    message (the client's own connect timeout applies).
    """
    out = out if out is not None else Outcome()
    loop = asyncio.get_running_loop()
    got = _Progress(t0=loop.time())
    total = None
    try:
        async with asyncio.timeout_at(got.t0 + endpoint.timeout) as total:
            limit = got.t0 + first_token_timeout if first_token_timeout else None
            async with (
                asyncio.timeout_at(limit) as first,
                client.stream(
                    "POST",
                    f"{endpoint.base_url}/chat/completions",
                    json=request_body(endpoint, conversation),
                    headers=headers or {},
                ) as res,
            ):
                if res.status_code >= 400:
                    raise EndpointError(_http_reason(res.status_code, await res.aread()))
                events = _sse_data(res)
                await _consume(events, got, first, out, on_delta)
                if got.finished:
                    await _drain(events)
        if not got.finished and out.finish_reason is None:
            raise StreamBroke
    except TimeoutError:
        if total is not None and total.expired():
            out.error = f"timed out after {seconds(endpoint.timeout)} s"
        else:
            limit_s = seconds(first_token_timeout)
            out.error = f"timed out after {limit_s} s waiting for the first token"
    except EndpointError as exc:
        out.error = str(exc)
    except httpx.ConnectError as exc:
        out.error = f"cannot connect to the endpoint ({one_line(exc)})"
    except httpx.ConnectTimeout:
        out.error = f"cannot connect to the endpoint (no answer in {seconds(connect_timeout)} s)"
    except (StreamBroke, httpx.TransportError):
        out.error = f"the stream broke after {len(''.join(got.parts))} characters"
    except ValueError:
        out.error = "the endpoint sent something that is not a chat stream"
    got.measure(out, loop.time())
    return out


async def _consume(events, got: _Progress, first, out: Outcome, on_delta) -> None:
    """Read the chunks, handing each content delta to ``on_delta`` as it comes."""
    async for data in events:
        if data == "[DONE]":
            got.finished = True
            return
        chunk = json.loads(data)
        if not isinstance(chunk, dict):
            raise ValueError("not a chunk")
        if isinstance(chunk.get("usage"), dict):
            got.usage = chunk["usage"]
        choice = (chunk.get("choices") or [None])[0]
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta") or {}
        text = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(text, str) and text:
            if got.first_at is None:
                got.first_at = asyncio.get_running_loop().time()
                first.reschedule(None)  # from now on only the total timeout counts
            got.parts.append(text)
            await on_delta(text)
        if choice.get("finish_reason"):
            out.finish_reason = str(choice["finish_reason"])


async def _drain(events, limit: float = 0.5) -> None:
    """Read what follows ``[DONE]`` (the end of the chunked body, normally at once), so the
    connection goes back to the pool instead of being closed: the next answer to this
    endpoint skips the connect (and a thread-per-connection server its thread start)."""
    with contextlib.suppress(TimeoutError, httpx.HTTPError):
        async with asyncio.timeout(limit):
            async for _ in events:
                pass


async def _sse_data(res: httpx.Response):
    """The ``data:`` payloads of a Server-Sent Events body (one per event)."""
    async for line in res.aiter_lines():
        if line.startswith("data:"):
            yield line[5:].lstrip(" ")


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
