"""Judge settings: the ``[judges.NAME]`` tables of ``config.toml``, checked.

Every key has a default here except ``base_url``, ``model`` and ``format``.
:func:`judge_settings` merges a table over :data:`JUDGE_DEFAULTS` and checks
every value, so a typo (an unknown key, an unknown format, a missing URL)
stops with a message that names the judge and the key instead of failing
later inside a worker.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from workers import judges

FORMATS = tuple(judges.FORMATS)
MODES = ("chat", "completion")
DISAGREEMENT = ("tie", "none")

DEFAULT_RUBRIC = (
    "Which response answers the instruction better: is it correct, helpful, "
    "complete and clearly written?"
)

JUDGE_DEFAULTS: dict[str, Any] = {
    "base_url": "",  # e.g. "http://127.0.0.1:8080/v1" (required)
    "model": "",  # the model name the server expects (required)
    "format": "",  # prometheus | judgelm | mtbench (required)
    "mode": "chat",  # chat: one user message; completion: the raw rendered prompt
    "temperature": 0.0,
    "top_p": 1.0,
    "max_tokens": 512,
    "seed": None,  # passed through when set
    "stop": [],  # stop strings, passed through when non-empty
    "grammar": "",  # a GBNF grammar, passed through when set (llama.cpp servers)
    "timeout": 60.0,  # seconds per HTTP request
    "max_retries": 3,  # HTTP retries on 429, 5xx, timeouts and connection errors
    "backoff_seconds": 0.5,  # first backoff; doubles per retry (with jitter)
    "max_backoff_seconds": 30.0,  # a longer Retry-After gives up and leaves it to rq's retry
    "parse_retries": 2,  # new calls after a reply that does not parse
    "concurrency": 4,  # simultaneous HTTP calls to this judge across all workers
    "api_key_env": "",  # name of the environment variable holding the API key
    "family": "",  # battles with a contestant of this family are skipped
    "on_disagreement": "tie",  # tie | none: what two disagreeing orders make
    "context_chars": 12000,  # the whole rendered prompt must fit in this many characters
    "max_answer_chars": 4000,  # each contestant's answer is cut to this many characters
    "rubric": DEFAULT_RUBRIC,  # prometheus: the score rubric line
    "job_timeout": 0,  # seconds rq lets one judge job run (0: derived from the above)
    "job_retries": 3,  # rq retries of a failed or timed-out judge job
    "job_retry_interval": 0,  # seconds before rq retries (>0 needs a worker with a scheduler)
}


class JudgeConfigError(ValueError):
    """A ``[judges.NAME]`` table that cannot be used."""


@dataclass(frozen=True)
class JudgeSettings:
    name: str
    base_url: str
    model: str
    format: str
    mode: str
    temperature: float
    top_p: float
    max_tokens: int
    seed: int | None
    stop: tuple[str, ...]
    grammar: str
    timeout: float
    max_retries: int
    backoff_seconds: float
    max_backoff_seconds: float
    parse_retries: int
    concurrency: int
    api_key_env: str
    family: str
    on_disagreement: str
    context_chars: int
    max_answer_chars: int
    rubric: str
    job_timeout: int
    job_retries: int
    job_retry_interval: int
    extra: dict = field(default_factory=dict)

    @property
    def source(self) -> str:
        """The vote source and battle origin: ``judge:NAME``."""
        return f"judge:{self.name}"

    def api_key(self) -> str | None:
        if not self.api_key_env:
            return None
        key = os.environ.get(self.api_key_env)
        if not key:
            raise JudgeConfigError(
                f"judges.{self.name}.api_key_env: environment variable "
                f"{self.api_key_env} is not set"
            )
        return key

    def effective_job_timeout(self) -> int:
        """rq's job timeout: the configured one, else room for every retry of both calls."""
        if self.job_timeout:
            return self.job_timeout
        per_call = (self.max_retries + 1) * (self.timeout + self.max_backoff_seconds)
        return int(per_call * (self.parse_retries + 1) + 30)


def _check_type(name: str, key: str, value: Any, kinds: tuple) -> None:
    if isinstance(value, bool) and bool not in kinds:
        ok = False
    else:
        ok = isinstance(value, kinds)
    if not ok:
        want = " or ".join(k.__name__ for k in kinds)
        raise JudgeConfigError(f"judges.{name}.{key} must be {want}, got {value!r}")


def judge_settings(name: str, table: dict) -> JudgeSettings:
    """Merge ``table`` over the defaults and check it."""
    if not isinstance(table, dict):
        raise JudgeConfigError(f"judges.{name} must be a table, got {table!r}")
    unknown = sorted(set(table) - set(JUDGE_DEFAULTS) - {"extra"})
    if unknown:
        raise JudgeConfigError(
            f"judges.{name}: unknown key(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(JUDGE_DEFAULTS))}, extra)"
        )
    data = {**JUDGE_DEFAULTS, **table}
    for key in ("base_url", "model", "format"):
        _check_type(name, key, data[key], (str,))
        if not data[key].strip():
            raise JudgeConfigError(f"judges.{name}.{key} is missing")
    if not data["base_url"].startswith(("http://", "https://")):
        raise JudgeConfigError(
            f"judges.{name}.base_url must start with http:// or https://, got {data['base_url']!r}"
        )
    if data["format"] not in FORMATS:
        raise JudgeConfigError(
            f"judges.{name}.format must be one of {', '.join(FORMATS)}, got {data['format']!r}"
        )
    if data["mode"] not in MODES:
        raise JudgeConfigError(
            f"judges.{name}.mode must be one of {', '.join(MODES)}, got {data['mode']!r}"
        )
    if data["on_disagreement"] not in DISAGREEMENT:
        raise JudgeConfigError(
            f"judges.{name}.on_disagreement must be one of "
            f"{', '.join(DISAGREEMENT)}, got {data['on_disagreement']!r}"
        )
    for key in ("temperature", "top_p", "timeout", "backoff_seconds", "max_backoff_seconds"):
        _check_type(name, key, data[key], (int, float))
        data[key] = float(data[key])
    for key in (
        "max_tokens",
        "max_retries",
        "parse_retries",
        "concurrency",
        "context_chars",
        "max_answer_chars",
        "job_timeout",
        "job_retries",
        "job_retry_interval",
    ):
        _check_type(name, key, data[key], (int,))
    for key in ("max_tokens", "concurrency", "context_chars", "max_answer_chars"):
        if data[key] < 1:
            raise JudgeConfigError(f"judges.{name}.{key} must be at least 1, got {data[key]}")
    for key in ("max_retries", "parse_retries", "job_timeout", "job_retries", "job_retry_interval"):
        if data[key] < 0:
            raise JudgeConfigError(f"judges.{name}.{key} must not be negative, got {data[key]}")
    if data["timeout"] <= 0:
        raise JudgeConfigError(f"judges.{name}.timeout must be positive, got {data['timeout']}")
    if data["seed"] is not None:
        _check_type(name, "seed", data["seed"], (int,))
    if isinstance(data["stop"], str):
        data["stop"] = [data["stop"]]
    if not isinstance(data["stop"], list) or not all(isinstance(s, str) for s in data["stop"]):
        raise JudgeConfigError(f"judges.{name}.stop must be a list of strings")
    for key in ("grammar", "api_key_env", "family", "rubric"):
        _check_type(name, key, data[key], (str,))
    extra = data.pop("extra", {}) or {}
    if not isinstance(extra, dict):
        raise JudgeConfigError(f"judges.{name}.extra must be a table")
    data["stop"] = tuple(data["stop"])
    data["base_url"] = data["base_url"].rstrip("/")
    data["family"] = data["family"].strip()
    return JudgeSettings(name=name, extra=dict(extra), **data)


def all_judges(settings) -> dict[str, JudgeSettings]:
    """Every configured judge, checked (raises on the first bad one)."""
    tables = settings.judges
    return {name: judge_settings(name, table) for name, table in tables.items()}


def get_judge(settings, name: str) -> JudgeSettings:
    """The judge called ``name`` (:class:`JudgeConfigError` when not configured)."""
    tables = settings.judges
    if name not in tables:
        known = ", ".join(sorted(tables)) or "none configured"
        raise JudgeConfigError(f"no judge named {name!r} in [judges] (known: {known})")
    return judge_settings(name, tables[name])
