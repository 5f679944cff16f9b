"""An OpenAI-compatible HTTP client for judge models (vLLM, llama.cpp, Ollama, TGI).

``chat`` mode posts one user message to ``<base_url>/chat/completions``;
``completion`` mode posts the raw prompt to ``<base_url>/completions``. A
request that times out, cannot connect, or answers 429 or 5xx is retried up to
``max_retries`` times with exponential backoff and jitter; a ``Retry-After``
header is honoured (and shared with every worker through the limiter) unless
it asks for longer than ``max_backoff_seconds``, in which case the call gives
up and the rq job's own retry takes over. Other 4xx answers are not retried.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from workers.judges.base import RenderedPrompt
from workers.judges.limits import NullLimiter

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


def encode(body: dict) -> bytes:
    """The request's bytes: compact JSON, keys in insertion order (reproducible)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class JudgeHTTPError(RuntimeError):
    """The judge server refused the request (not worth retrying) or sent a bad body."""


class JudgeUnavailable(RuntimeError):
    """The judge server did not answer usefully within the retries."""


@dataclass
class Completion:
    text: str
    latency_ms: float
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    served_model: str | None = None  # the model name the server reported
    retries: list[str] = field(default_factory=list)  # what went wrong before the answer


MAX_RETRY_AFTER = 86400.0  # a longer Retry-After counts as a day (Redis refuses huge expiries)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds (at most a day): delta-seconds or an HTTP date; None when
    absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # "nan" and "inf" parse as floats but are no delay
        return min(max(seconds, 0.0), MAX_RETRY_AFTER) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max((when - (now or datetime.now(UTC))).total_seconds(), 0.0), MAX_RETRY_AFTER)


class JudgeClient:
    """Calls one judge; safe to share between threads.

    Parameters
    ----------
    judge : workers.judge_config.JudgeSettings
    limiter : RedisLimiter or NullLimiter
        Slots and shared cooldown (see :mod:`workers.judges.limits`).
    """

    def __init__(self, judge, limiter=None):
        self.judge = judge
        self.limiter = limiter or NullLimiter()
        headers = {"Content-Type": "application/json"}
        key = judge.api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self.url = judge.base_url + (
            "/chat/completions" if judge.send_mode == "chat" else "/completions"
        )
        self._http = httpx.Client(
            headers=headers,
            timeout=judge.timeout,
            limits=httpx.Limits(max_connections=max(judge.concurrency, 4)),
        )

    def close(self) -> None:
        self._http.close()

    def sampling(self, retry: int) -> dict:
        """The sampling settings sent on parse retry number ``retry`` (0: the first call).

        A retry must be able to change the answer: it sends ``seed + retry`` and, when
        the judge is deterministic (temperature 0), ``retry_temperature``.
        """
        j = self.judge
        temperature = j.temperature if retry == 0 or j.temperature > 0 else j.retry_temperature
        return {
            "temperature": temperature,
            "top_p": j.top_p,
            "max_tokens": j.max_tokens,
            "seed": j.seed + retry,
        }

    def body(self, prompt: RenderedPrompt, retry: int = 0) -> dict:
        """The request body for ``prompt`` (same prompt, settings and retry: same body)."""
        j = self.judge
        body: dict = {"model": j.model, **self.sampling(retry), "stream": False}
        if j.send_mode == "chat":
            body["messages"] = prompt.messages()
        else:
            body["prompt"] = prompt.completion
        if j.stop:
            body["stop"] = list(j.stop)
        if j.grammar:
            body["grammar"] = j.grammar
        body.update(j.extra)
        return body

    def _read(self, response: httpx.Response, latency_ms: float) -> Completion:
        try:
            data = response.json()
            choice = data["choices"][0]
            chat = self.judge.send_mode == "chat"
            text = choice["message"]["content"] if chat else choice["text"]
            if not isinstance(text, (str, type(None))):
                raise TypeError("the reply text is not a string")
            finish = choice.get("finish_reason")
            served = data.get("model")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise JudgeHTTPError(
                f"HTTP {response.status_code} with a body that is not an "
                f"OpenAI completion: {response.text[:200]!r}"
            ) from None
        usage = data.get("usage")
        usage = usage if isinstance(usage, dict) else {}  # token counts are optional

        def count(key: str) -> int | None:
            value = usage.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        return Completion(
            text=text or "",
            latency_ms=latency_ms,
            prompt_tokens=count("prompt_tokens"),
            completion_tokens=count("completion_tokens"),
            finish_reason=finish if isinstance(finish, str) else None,
            served_model=served if isinstance(served, str) else None,
        )

    def complete(self, body: dict) -> Completion:
        """The judge's reply to the request ``body`` (see :meth:`body`), sent as
        :func:`encode` writes it.

        Raises
        ------
        JudgeHTTPError
            On a 4xx other than 429, or a 200 whose body is not a completion.
        JudgeUnavailable
            When every attempt failed (timeouts, connection errors, 429, 5xx), or
            the server asked to wait longer than ``max_backoff_seconds``.
        """
        j = self.judge
        content = encode(body)
        errors: list[str] = []
        for attempt in range(j.max_retries + 1):
            self.limiter.wait_cooldown()
            retry_after = None
            with self.limiter.slot():
                start = time.perf_counter()
                try:
                    response = self._http.post(self.url, content=content)
                except httpx.TimeoutException:
                    errors.append(f"timeout after {j.timeout:g}s")
                    response = None
                except (httpx.TransportError, httpx.DecodingError) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    response = None
                latency_ms = (time.perf_counter() - start) * 1000
            if response is not None:
                if response.status_code == 200:
                    completion = self._read(response, latency_ms)
                    completion.retries = errors
                    return completion
                if response.status_code not in RETRY_STATUS:
                    raise JudgeHTTPError(
                        f"HTTP {response.status_code} from {self.url}: {response.text[:200]!r}"
                    )
                errors.append(f"HTTP {response.status_code}")
                retry_after = retry_after_seconds(response.headers.get("retry-after"))
                if retry_after is not None:  # every worker waits, even after the last attempt
                    self.limiter.cooldown(retry_after)
            if attempt == j.max_retries:
                break
            wait = min(j.max_backoff_seconds, j.backoff_seconds * 2**attempt)
            wait *= random.uniform(0.5, 1.0)
            if retry_after is not None:
                if retry_after > j.max_backoff_seconds:
                    raise JudgeUnavailable(
                        f"{'; '.join(errors)}; Retry-After {retry_after:g}s "
                        f"is longer than max_backoff_seconds"
                    )
                wait = max(wait, retry_after)
            time.sleep(wait)
        raise JudgeUnavailable(f"{self.url}: {len(errors)} attempts failed: {'; '.join(errors)}")
