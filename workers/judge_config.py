"""Judge settings: the ``[judges.NAME]`` tables of ``config.toml``, typed and checked.

Every default lives in one place, the field defaults of :class:`JudgeSettings`;
only ``base_url``, ``model`` and ``format`` have none. :func:`judge_settings`
checks a table against the fields, so a typo stops with a message naming the
judge, the key and the nearest known key (``[judges.x] has no key 'temprature'
(did you mean 'temperature'?)``) instead of failing later inside a worker.
"""

from __future__ import annotations

import difflib
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any

from arena.endpoints import key_from_env
from workers import judges

FORMATS = tuple(judges.FORMATS)
MODES = ("default", "chat", "completion")
DISAGREEMENT = ("tie", "none")


class JudgeConfigError(ValueError):
    """A ``[judges.NAME]`` table that cannot be used."""


@dataclass(frozen=True)
class JudgeSettings:
    """One judge, as ``[judges.NAME]`` configures it (the field defaults are THE defaults)."""

    name: str
    base_url: str  # e.g. "http://127.0.0.1:8080/v1"
    model: str  # the model name the server expects
    format: str  # prometheus | prometheus-absolute | judgelm | mtbench
    mode: str = "default"  # default (the format's own) | chat | completion
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 1024
    seed: int = 0  # sent with every call; a parse retry sends seed + retry number
    retry_temperature: float = 0.3  # a parse retry's temperature when temperature is 0
    stop: tuple[str, ...] = ()  # stop strings, passed through when non-empty
    grammar: str = ""  # a GBNF grammar, passed through when set (llama.cpp servers)
    timeout: float = 60.0  # seconds per HTTP request
    max_retries: int = 3  # HTTP retries on 429, 5xx, timeouts and connection errors
    backoff_seconds: float = 0.5  # first backoff; doubles per retry (with jitter)
    max_backoff_seconds: float = 30.0  # a longer Retry-After gives up and leaves it to rq
    parse_retries: int = 2  # new calls after a reply that does not parse
    concurrency: int = 4  # simultaneous HTTP calls to this judge across all workers
    api_key_env: str = ""  # name of the environment variable holding the API key
    family: str = ""  # battles with a contestant of this family are skipped
    on_disagreement: str = "tie"  # tie | none: what two disagreeing orders make
    context_chars: int = 12000  # the whole rendered prompt must fit in this many characters
    max_answer_chars: int = 4000  # each contestant's answer is cut to this many characters
    rubric: str = "helpfulness"  # prometheus: an official rubric's name, or the rubric text
    price_per_million_input: float = 0.0  # for the report's cost (0: unknown or free)
    price_per_million_output: float = 0.0
    job_timeout: int = 0  # seconds rq lets one judge job run (0: derived from the above)
    job_retries: int = 3  # rq retries of a failed or timed-out judge job
    job_retry_interval: int = 0  # seconds before rq retries (>0 needs a scheduler)
    extra: dict = field(default_factory=dict)  # more request fields, passed through

    @property
    def source(self) -> str:
        """The vote source and battle origin: ``judge:NAME``."""
        return f"judge:{self.name}"

    @property
    def send_mode(self) -> str:
        """``chat`` or ``completion``: the configured mode, or the format's own."""
        return judges.get_format(self.format).default_mode if self.mode == "default" else self.mode

    def api_key(self) -> str | None:
        return key_from_env(f"judges.{self.name}", self.api_key_env, JudgeConfigError)

    def effective_job_timeout(self) -> int:
        """rq's job timeout: the configured one, else room for every retry of both calls."""
        if self.job_timeout:
            return self.job_timeout
        per_call = (self.max_retries + 1) * (self.timeout + self.max_backoff_seconds)
        return int(per_call * (self.parse_retries + 1) + 30)


KEYS = {f.name: f for f in fields(JudgeSettings) if f.name != "name"}
REQUIRED = tuple(
    k for k, f in KEYS.items() if f.default is MISSING and f.default_factory is MISSING
)
KINDS = {"float": (int, float), "int": (int,), "str": (str,)}


def _check_type(name: str, key: str, value: Any, kinds: tuple) -> None:
    if isinstance(value, bool) or not isinstance(value, kinds):
        want = " or ".join(k.__name__ for k in kinds)
        raise JudgeConfigError(f"judges.{name}.{key} must be {want}, got {value!r}")


def _unknown(name: str, table: dict) -> None:
    for key in table:
        if key not in KEYS:
            near = difflib.get_close_matches(key, list(KEYS), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else f" (known: {', '.join(KEYS)})"
            raise JudgeConfigError(f"[judges.{name}] has no key {key!r}{hint}")


def _choice(name: str, key: str, value: str, allowed: tuple) -> None:
    if value not in allowed:
        raise JudgeConfigError(
            f"judges.{name}.{key} must be one of {', '.join(allowed)}, got {value!r}"
        )


def judge_settings(name: str, table: dict) -> JudgeSettings:
    """``table`` checked and typed (the defaults fill what it leaves out)."""
    if not isinstance(table, dict):
        raise JudgeConfigError(f"judges.{name} must be a table, got {table!r}")
    _unknown(name, table)
    data = dict(table)
    for key in REQUIRED:
        if key not in data or not isinstance(data[key], str) or not data[key].strip():
            raise JudgeConfigError(f"judges.{name}.{key} is missing")
    for key, value in data.items():
        kind = KEYS[key].type
        if kind in KINDS:
            _check_type(name, key, value, KINDS[kind])
            if kind == "float":
                data[key] = float(value)
    if not data["base_url"].startswith(("http://", "https://")):
        raise JudgeConfigError(
            f"judges.{name}.base_url must start with http:// or https://, got {data['base_url']!r}"
        )
    _choice(name, "format", data["format"], FORMATS)
    settings = JudgeSettings(name=name, **data)
    _choice(name, "mode", settings.mode, MODES)
    _choice(name, "on_disagreement", settings.on_disagreement, DISAGREEMENT)
    for key in ("max_tokens", "concurrency", "context_chars", "max_answer_chars"):
        if getattr(settings, key) < 1:
            raise JudgeConfigError(
                f"judges.{name}.{key} must be at least 1, got {getattr(settings, key)}"
            )
    for key in (
        "max_retries",
        "parse_retries",
        "job_timeout",
        "job_retries",
        "job_retry_interval",
        "seed",
        "temperature",
        "retry_temperature",
        "price_per_million_input",
        "price_per_million_output",
    ):
        if getattr(settings, key) < 0:
            raise JudgeConfigError(
                f"judges.{name}.{key} must not be negative, got {getattr(settings, key)}"
            )
    if settings.timeout <= 0:
        raise JudgeConfigError(f"judges.{name}.timeout must be positive, got {settings.timeout}")
    stop = [settings.stop] if isinstance(settings.stop, str) else settings.stop
    if not isinstance(stop, (list, tuple)) or not all(isinstance(x, str) for x in stop):
        raise JudgeConfigError(f"judges.{name}.stop must be a list of strings")
    extra = settings.extra
    if not isinstance(extra, dict):
        raise JudgeConfigError(f"judges.{name}.extra must be a table")
    return replace(
        settings,
        stop=tuple(stop),
        extra=dict(extra),
        base_url=settings.base_url.rstrip("/"),
        family=settings.family.strip(),
    )


def get_judge(settings, name: str) -> JudgeSettings:
    """The judge called ``name`` (:class:`JudgeConfigError` when not configured)."""
    tables = settings["judges"]
    if name not in tables:
        known = ", ".join(sorted(tables)) or "none configured"
        raise JudgeConfigError(f"no judge named {name!r} in [judges] (known: {known})")
    return judge_settings(name, tables[name])
