"""Settings: defaults in one place, then ``config.toml``, then the environment.

Precedence, lowest first:

1. ``DEFAULTS`` below (``config.toml`` at the top of the repository documents
   every key with the same values);
2. the TOML file named by ``--config``, else ``ARENA_CONFIG``, else
   ``./config.toml`` when it exists;
3. the environment: ``ARENA_DATABASE_URL``, ``ARENA_REDIS_URL``,
   ``ARENA_SECRET_KEY``, ``ARENA_INSTANCE``.

An empty database URL means a SQLite file in the instance folder; an empty
Redis URL means an embedded redis-server (see :mod:`arena.redis_server`).
"""

from __future__ import annotations

import copy
import os
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    "arena": {
        "instance": "instance",
        "secret_key": "",
    },
    "database": {
        "url": "",
        "echo": False,
    },
    "redis": {
        "url": "",
    },
    "battle": {
        "token_ttl_seconds": 3600,
        "sampler": "uniform",
    },
    "votes": {
        "queue": "votes",
        "job_timeout_seconds": 30,
        "retries": 3,
    },
    "queues": {
        "judge": "judge",
        "recompute": "recompute",
    },
    "worker": {
        "queues": [],
        "vote_batch_size": 200,
        "vote_batch_wait_ms": 100,
    },
    "rating": {
        "recompute_every": 100,
        "method": "bt",
        "bootstrap": 1000,
        "seed": 42,
        "min_battles": 0,
        "confidence": 0.95,
        "components": "largest",
        "keep_snapshots": 10,
    },
    "limits": {
        "enabled": True,
        "battles": "120 per minute",
        "votes": "120 per minute",
    },
    "judges": {},
    "rank": {
        "normalize": "minmax",
        "aggregate": "mean",
        "min_coverage": 0.0,
        "recency_half_life_days": 180,
        "replicates": 200,
        "weights": {
            "arena": 0.5,
            "benchmarks": 0.3,
            "popularity": 0.1,
            "recency": 0.05,
            "efficiency": 0.05,
        },
    },
}

ENV_KEYS = {
    "ARENA_DATABASE_URL": ("database", "url"),
    "ARENA_REDIS_URL": ("redis", "url"),
    "ARENA_SECRET_KEY": ("arena", "secret_key"),
    "ARENA_INSTANCE": ("arena", "instance"),
}


class ConfigError(ValueError):
    """A settings file or value that cannot be used."""


def _kind(value: Any) -> str:
    """The kind of setting a default is: a table, list, string, true/false or number."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true or false"
    return "a number"


def _merge(base: dict, override: dict, where: str = "") -> dict:
    """Merge ``override`` into ``base``; a key with a default must keep its kind.

    Raises :class:`ConfigError` naming the key (``database.url``) otherwise.
    """
    for key, value in override.items():
        if key in base and _kind(value) != _kind(base[key]):
            raise ConfigError(
                f"{where}{key} must be {_kind(base[key])}, got {type(value).__name__} {value!r}"
            )
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value, f"{where}{key}.")
        else:
            base[key] = value
    return base


@dataclass
class Settings:
    """Resolved settings. ``data`` is the merged nested dict."""

    data: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(DEFAULTS))
    source: Path | None = None
    _instance_key: str | None = field(default=None, init=False, repr=False, compare=False)

    def __getitem__(self, section: str) -> Any:
        return self.data[section]

    def get(self, section: str, key: str | None = None, default: Any = None) -> Any:
        value = self.data.get(section, default)
        if key is None:
            return value
        return value.get(key, default) if isinstance(value, dict) else default

    @property
    def instance_path(self) -> Path:
        path = Path(self.data["arena"]["instance"]).expanduser()
        if not path.is_absolute() and self.source is not None:
            path = self.source.parent / path
        return path.resolve()

    @property
    def database_url(self) -> str:
        url = self.data["database"]["url"]
        if url:
            return url
        return f"sqlite:///{self.instance_path / 'arena.db'}"

    @property
    def redis_url(self) -> str:
        """The configured URL; empty means "start the embedded server"."""
        return self.data["redis"]["url"]

    @property
    def secret_key(self) -> str:
        """The configured key, else one generated once and kept in the instance.

        The instance's key file is read on first use only: the web app signs a
        battle token with the key on every request. Processes starting at once
        (gunicorn workers without ``--preload``) agree on one key: the file is
        created with ``O_CREAT | O_EXCL``, so exactly one of them writes it, and
        every one reads back what is there.
        """
        key = self.data["arena"]["secret_key"]
        if key:
            return key
        if self._instance_key is None:
            self._instance_key = _instance_secret_key(self.instance_path / "secret_key")
        return self._instance_key


def _instance_secret_key(path: Path, wait: float = 5.0) -> str:
    """The key in ``path``, created atomically (``O_EXCL``) when absent.

    The one process whose create succeeds writes the key to a private temporary
    file and renames it over the empty file, so a reader sees either no key yet
    (and waits, at most ``wait`` seconds) or the whole key, never a part.
    """
    import time

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        deadline = time.monotonic() + wait
        while True:
            key = path.read_text().strip()
            if key:
                return key
            if time.monotonic() > deadline:
                raise ConfigError(f"{path} is empty: delete it to make a new key") from None
            time.sleep(0.01)
    os.close(fd)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(secrets.token_hex(32))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path.read_text().strip()


def load(
    path: str | os.PathLike | None = None, env: dict | None = None, overrides: dict | None = None
) -> Settings:
    """Resolve settings from defaults, a TOML file and the environment."""
    env = os.environ if env is None else env
    data = copy.deepcopy(DEFAULTS)
    source = None
    if path is None:
        path = env.get("ARENA_CONFIG") or None
        if path is None and Path("config.toml").exists():
            path = "config.toml"
    if path is not None:
        source = Path(path).resolve()
        try:
            with open(source, "rb") as fh:
                _merge(data, tomllib.load(fh))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
        except (tomllib.TOMLDecodeError, ConfigError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
    for name, (section, key) in ENV_KEYS.items():
        if env.get(name):
            data[section][key] = env[name]
    if overrides:
        _merge(data, copy.deepcopy(overrides))
    return Settings(data=data, source=source)
