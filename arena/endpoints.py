"""Model endpoints: the ``[models.NAME]`` tables of ``config.toml``, typed and checked.

A model with an endpoint is a *live* model: raters' own prompts are sent to it
(``arena.live``, ``workers.generate``). ``NAME`` is the model's name in Arena
(the ``models`` table); ``model`` is the name the server expects. Every default
lives in one place, the field defaults of :class:`ModelEndpoint`; only
``base_url`` has none (``model`` defaults to ``NAME``).

:func:`endpoint_from_table` checks one table when the settings are loaded, so a
typo stops every command with a message naming the model, the key and the nearest
known key (``[models.x] has no key 'temprature' (did you mean 'temperature'?)``).
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import MISSING, dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from arena.config import ConfigError


@dataclass(frozen=True)
class ModelEndpoint:
    """One live model, as ``[models.NAME]`` configures it."""

    name: str  # the model's name in Arena
    base_url: str  # an OpenAI-compatible server, e.g. "http://127.0.0.1:8080/v1"
    model: str = ""  # the served model name the server expects ("" = name)
    api_key_env: str = ""  # the environment variable holding the API key ("" = none)
    system_prompt: str = ""  # sent as the first message when not empty
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 1024
    timeout: float = 120.0  # seconds one answer may take in all
    concurrency: int = 8  # simultaneous streams to this model per generation worker
    aliases: tuple[str, ...] = ()  # names that give the model away (its own name counts too)

    @property
    def served_model(self) -> str:
        return self.model or self.name

    @property
    def host(self) -> str:
        """The endpoint's host and port (stored with each answer; never the key)."""
        return urlsplit(self.base_url).netloc

    def api_key(self) -> str | None:
        """The API key from ``api_key_env`` (ConfigError when that variable is unset)."""
        return key_from_env(f"models.{self.name}", self.api_key_env)

    def identity_names(self) -> tuple[str, ...]:
        """Names that give this model away: its name in Arena and its aliases.

        The served name is not among them (servers are often given a placeholder such
        as "default"); list it in ``aliases`` when it would give the model away.
        """
        names = [self.name, *self.aliases]
        out: list[str] = []
        for n in names:
            n = n.strip()
            if n and n.lower() not in (o.lower() for o in out):
                out.append(n)
        return tuple(out)

    def generation_settings(self) -> dict[str, Any]:
        """The exact settings a generation uses (stored with each answer)."""
        return {
            "model": self.name,
            "served_model": self.served_model,
            "host": self.host,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "system_prompt": self.system_prompt,
            "timeout": self.timeout,
        }


KEYS = {f.name: f for f in fields(ModelEndpoint) if f.name != "name"}
REQUIRED = tuple(k for k, f in KEYS.items() if f.default is MISSING)
_KINDS: dict[str, tuple[type, ...]] = {
    "float": (int, float),
    "int": (int,),
    "str": (str,),
    "tuple[str, ...]": (list, tuple),
}
_KIND_TEXT = {"float": "a number", "int": "a whole number", "str": "a string"}


def endpoint_from_table(name: str, table: Any) -> ModelEndpoint:
    """``[models.NAME]`` checked and typed (the defaults fill what it leaves out).

    Raises
    ------
    ConfigError
        For an unknown key (naming the nearest known one), a value of the wrong
        kind or out of range, or a missing ``base_url``.
    """
    where = f"models.{name}"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table, got {table!r}")
    if not name.strip():
        raise ConfigError("[models] names a model with an empty name")
    for key in table:
        if key not in KEYS:
            near = difflib.get_close_matches(key, list(KEYS), n=1)
            hint = f" (did you mean '{near[0]}'?)" if near else f" (known: {', '.join(KEYS)})"
            raise ConfigError(f"[{where}] has no key '{key}'{hint}")
    for key in REQUIRED:
        if not isinstance(table.get(key), str) or not table[key].strip():
            raise ConfigError(f"{where}.{key} is missing")
    data: dict[str, Any] = {}
    for key, value in table.items():
        kind = KEYS[key].type
        if isinstance(value, bool) or not isinstance(value, _KINDS[kind]):
            text = _KIND_TEXT.get(kind, "a list of strings")
            raise ConfigError(f"{where}.{key} must be {text}, got {value!r}")
        if kind == "tuple[str, ...]":
            if not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where}.{key} must be a list of strings, got {value!r}")
            value = tuple(value)
        elif kind == "float":
            value = float(value)
        data[key] = value
    endpoint = ModelEndpoint(name=name, **data)
    if not re.match(r"^https?://[^/\s]+", endpoint.base_url):
        raise ConfigError(
            f"{where}.base_url must start with http:// or https://, got {endpoint.base_url!r}"
        )
    for key in ("max_tokens", "concurrency"):
        if getattr(endpoint, key) < 1:
            raise ConfigError(f"{where}.{key} must be at least 1, got {getattr(endpoint, key)}")
    if endpoint.timeout <= 0:
        raise ConfigError(f"{where}.timeout must be above 0, got {endpoint.timeout}")
    if not 0 <= endpoint.temperature <= 2:
        raise ConfigError(f"{where}.temperature must be in [0, 2], got {endpoint.temperature}")
    if not 0 < endpoint.top_p <= 1:
        raise ConfigError(f"{where}.top_p must be in (0, 1], got {endpoint.top_p}")
    return ModelEndpoint(
        **{**endpoint.__dict__, "base_url": endpoint.base_url.rstrip("/")},
    )


def endpoints(settings) -> dict[str, ModelEndpoint]:
    """Every configured live model by its Arena name, in the order the file gives them."""
    return {name: endpoint_from_table(name, table) for name, table in settings.models.items()}


def key_from_env(table: str, env: str | None, error: type[Exception] = ConfigError) -> str | None:
    """The API key held by environment variable ``env`` (None when no variable is named).

    Keys are never written in ``config.toml``: a table names the variable (``api_key_env``).
    A named variable that is unset or empty raises ``error`` naming ``<table>.api_key_env``.
    """
    if not env:
        return None
    key = os.environ.get(env)
    if not key:
        raise error(f"{table}.api_key_env: environment variable {env} is not set")
    return key
