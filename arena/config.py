"""Settings: one typed layer, every default in one place.

Each ``config.toml`` section is a frozen dataclass below; its field defaults
are *the* defaults (``config.toml`` at the top of the repository shows every
key with the same value, and a test keeps the two equal). :func:`load` builds
and checks them once:

* an unknown section or key is an error naming it and the nearest known one
  (``[rating] has no key 'bootsrap' (did you mean 'bootstrap'?)``);
* every value must have its field's kind (a whole number, a number, a string,
  true or false, a list of strings, a table) and lie in its range or choices.

Precedence, lowest first: the defaults; the TOML file named by ``--config``,
else ``ARENA_CONFIG``, else ``./config.toml`` when it exists; the environment
(``ARENA_DATABASE_URL``, ``ARENA_REDIS_URL``, ``ARENA_SECRET_KEY``,
``ARENA_INSTANCE``); then ``overrides`` given by the caller (tests, commands).

An empty database URL means a SQLite file in the instance folder; an empty
Redis URL means an embedded redis-server (see :mod:`arena.redis_server`).

``[judges.NAME]`` tables are kept as tables here and checked, key by key,
by :mod:`workers.judge_config` (the judge layer knows its own formats).
``[models.NAME]`` tables (models with an OpenAI-compatible endpoint: live
models) are checked here, key by key, by :func:`arena.endpoints.endpoint_from_table`.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import secrets
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A settings file or value that cannot be used."""


def _check(*rules):
    """Field metadata: checks run on the value after its kind is checked.

    Each rule is ``(predicate, text)``: the value must satisfy ``predicate``,
    and ``text`` says what it must be ("at least 1", "one of bt, elo").
    """
    return {"rules": rules}


def at_least(low):
    return (lambda v: v >= low, f"at least {low}")


def between(low, high):
    return (lambda v: low < v < high, f"between {low} and {high} (exclusive)")


def one_of(*choices):
    return (lambda v: v in choices, "one of " + ", ".join(map(str, choices)))


@dataclass(frozen=True)
class Section(Mapping):
    """A settings section; also readable as a mapping (``section["key"]``)."""

    def __getitem__(self, key: str) -> Any:
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self):
        return iter(self.__dataclass_fields__)

    def __len__(self) -> int:
        return len(self.__dataclass_fields__)


@dataclass(frozen=True)
class ArenaSettings(Section):
    #: Folder for the SQLite file, the embedded Redis data and the secret key; a relative
    #: path is taken from the config file's folder (else the working folder).
    instance: str = "instance"
    #: Signs battle tokens and sessions; empty: made once and kept in <instance>/secret_key.
    secret_key: str = ""


@dataclass(frozen=True)
class DatabaseSettings(Section):
    url: str = ""
    echo: bool = False


@dataclass(frozen=True)
class RedisSettings(Section):
    url: str = ""


@dataclass(frozen=True)
class BattleSettings(Section):
    token_ttl_seconds: int = field(default=3600, metadata=_check(at_least(1)))
    #: A pair policy registered in arena.sampling.POLICIES (checked by the app factory).
    sampler: str = "uniform"


@dataclass(frozen=True)
class VotesSettings(Section):
    queue: str = "votes"
    job_timeout_seconds: int = field(default=30, metadata=_check(at_least(1)))
    retries: int = field(default=3, metadata=_check(at_least(0)))


@dataclass(frozen=True)
class QueuesSettings(Section):
    """The rq queues of the judge jobs and of the rating recomputes (the votes' queue
    is ``[votes] queue``)."""

    judge: str = field(default="judge", metadata=_check((bool, "a non-empty name")))
    recompute: str = field(default="recompute", metadata=_check((bool, "a non-empty name")))


@dataclass(frozen=True)
class WorkerSettings(Section):
    #: Queues `arena worker` listens on without --queue; empty: all three (arena.queue).
    queues: tuple[str, ...] = ()
    vote_batch_size: int = field(default=200, metadata=_check(at_least(1)))
    vote_batch_wait_ms: int = field(default=100, metadata=_check(at_least(0)))
    #: How much `arena worker` (rq and --generate) lowers its own CPU priority at start
    #: (``os.nice``; 0 to 19). On a machine shared with the web app, the web's requests then
    #: come first when the cores are busy (docs/operations.md).
    nice: int = field(default=0, metadata=_check((lambda v: 0 <= v <= 19, "from 0 to 19")))


RATING_METHODS = ("bt", "davidson", "elo")
COMPONENT_POLICIES = ("largest", "each", "refuse")


@dataclass(frozen=True)
class RatingSettings(Section):
    recompute_every: int = field(default=100, metadata=_check(at_least(0)))
    method: str = field(default="bt", metadata=_check(one_of(*RATING_METHODS)))
    bootstrap: int = field(default=1000, metadata=_check(at_least(0)))
    seed: int = 42
    min_battles: int = field(default=0, metadata=_check(at_least(0)))
    confidence: float = field(default=0.95, metadata=_check(between(0, 1)))
    components: str = field(default="largest", metadata=_check(one_of(*COMPONENT_POLICIES)))
    keep_snapshots: int = field(default=10, metadata=_check(at_least(1)))
    #: Also store style-controlled snapshots (method "bt-style") for overall and each category.
    style_control: bool = False


@dataclass(frozen=True)
class LimitsSettings(Section):
    enabled: bool = True
    battles: str = "120 per minute"
    votes: str = "120 per minute"
    #: Read endpoints (pages and GET /api/v1/...); one budget per client for all of them.
    reads: str = "300 per minute"
    #: Live generation requests (new live battle, follow-up turn, regenerate) per rater/client.
    generate: str = "20 per minute"


def _positive(v) -> bool:
    return v > 0


@dataclass(frozen=True)
class LiveSettings(Section):
    """Live battles: raters' own prompts answered by models with endpoints ([models.NAME])."""

    #: Offer live battles when live models are configured.
    enabled: bool = True
    #: Turns (prompt + two answers) per battle, the first included.
    max_turns: int = field(default=5, metadata=_check(at_least(1)))
    #: The longest prompt (and follow-up) accepted, in characters.
    max_prompt_chars: int = field(default=8000, metadata=_check(at_least(1)))
    #: Shown to raters next to the prompt box.
    notice: str = (
        "Your prompts and the answers are stored and may be published. "
        "Do not share personal or confidential information."
    )
    #: Seconds a battle's Redis stream lives after its last entry.
    stream_ttl_seconds: int = field(default=3600, metadata=_check(at_least(1)))
    #: The Redis stream generation requests go on (consumer group "generate").
    request_stream: str = field(default="arena:generate", metadata=_check((bool, "non-empty")))
    #: Concurrent streams one generation worker process holds.
    max_streams: int = field(default=256, metadata=_check(at_least(1)))
    #: Seconds to wait for the first token (0: only the endpoint's timeout applies).
    first_token_timeout: float = field(default=30.0, metadata=_check(at_least(0)))
    #: Seconds to connect to an endpoint.
    connect_timeout: float = field(default=10.0, metadata=_check((_positive, "above 0")))
    #: A request a worker took and did not finish within this many seconds is taken over
    #: by another worker (XAUTOCLAIM): longer than the longest answer may take.
    reclaim_after_seconds: int = field(default=600, metadata=_check(at_least(1)))


NORMALIZERS = ("minmax", "percentile", "zscore")
AGGREGATORS = ("mean", "winrate", "borda")


def _default_weights() -> dict[str, float]:
    return {"arena": 0.5, "benchmarks": 0.3, "popularity": 0.1, "recency": 0.05, "efficiency": 0.05}


@dataclass(frozen=True)
class RankSettings(Section):
    normalize: str = field(default="minmax", metadata=_check(one_of(*NORMALIZERS)))
    aggregate: str = field(default="mean", metadata=_check(one_of(*AGGREGATORS)))
    #: 0.75: with the default weights a model needs both the arena and the benchmarks signal.
    min_coverage: float = field(default=0.75, metadata=_check((lambda v: 0 <= v <= 1, "in [0, 1]")))
    recency_half_life_days: float = field(
        default=180, metadata=_check((lambda v: v > 0, "above 0"))
    )
    replicates: int = field(default=200, metadata=_check(at_least(0)))
    #: The arena signal in database mode: the snapshot of this vote source (human,
    #: judge:NAME, or all); see arena.scope.
    arena_source: str = "human"
    #: Signal (or "benchmarks.NAME") -> weight; names are checked by the composite.
    weights: dict[str, float] = field(default_factory=_default_weights)
    #: Category -> the benchmarks that make its sub-rank (added to the built-in map).
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class ApiSettings(Section):
    #: Read endpoints answer without a token; false: a judge or maintainer token is needed.
    public_read: bool = True
    #: Largest request body the maintainer import endpoints accept, in MiB.
    max_import_mb: int = field(default=32, metadata=_check(at_least(1)))


@dataclass(frozen=True)
class WebSettings(Section):
    #: Reverse proxies in front of the app whose X-Forwarded-* headers are trusted (0: none).
    trusted_proxies: int = field(default=0, metadata=_check(at_least(0)))
    #: Days the rater's session cookie lives.
    session_days: int = field(default=7, metadata=_check(at_least(1)))
    #: Models with fewer votes than this are marked "preliminary" on the leaderboard.
    preliminary_votes: int = field(default=100, metadata=_check(at_least(0)))


#: The sections of config.toml, in the order the file shows them.
SECTIONS: dict[str, type[Section]] = {
    "arena": ArenaSettings,
    "database": DatabaseSettings,
    "redis": RedisSettings,
    "battle": BattleSettings,
    "votes": VotesSettings,
    "queues": QueuesSettings,
    "worker": WorkerSettings,
    "rating": RatingSettings,
    "limits": LimitsSettings,
    "live": LiveSettings,
    "rank": RankSettings,
    "api": ApiSettings,
    "web": WebSettings,
}
#: Sections that are tables of named tables, checked by their own layer.
TABLE_SECTIONS = ("judges", "models")

ENV_KEYS = {
    "ARENA_DATABASE_URL": ("database", "url"),
    "ARENA_REDIS_URL": ("redis", "url"),
    "ARENA_SECRET_KEY": ("arena", "secret_key"),
    "ARENA_INSTANCE": ("arena", "instance"),
}


def _plain(value: Any) -> Any:
    """A default as TOML shows it: tuples as lists, None left out by the caller."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def defaults() -> dict[str, Any]:
    """Every default as a nested dict, as ``config.toml`` writes it."""
    out: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        out[name] = {
            f.name: _plain(getattr(cls(), f.name))
            for f in dataclasses.fields(cls)
            if getattr(cls(), f.name) is not None
        }
    out["judges"] = {}
    out["models"] = {}
    return out


def _nearest(word: str, known) -> str:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


_KIND_TEXT = {
    int: "a whole number",
    float: "a number",
    str: "a string",
    bool: "true or false",
    tuple: "a list of strings",
    dict: "a table",
}


def _coerce(where: str, hint: Any, value: Any) -> Any:
    """``value`` as the kind ``hint`` names, else :class:`ConfigError`."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _coerce(where, args[0], value)
    base = origin or hint

    def wrong():
        return ConfigError(
            f"{where} must be {_KIND_TEXT[base]}, got {type(value).__name__} {value!r}"
        )

    if base is bool:
        if not isinstance(value, bool):
            raise wrong()
        return value
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong()
        return value
    if base is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong()
        return value
    if base is str:
        if not isinstance(value, str):
            raise wrong()
        return value
    if base is tuple:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise wrong()
        return tuple(value)
    if base is dict:
        if not isinstance(value, dict):
            raise wrong()
        _, value_hint = typing.get_args(hint)
        return {k: _coerce(f"{where}.{k}", value_hint, v) for k, v in value.items()}
    raise TypeError(f"unsupported setting type {hint!r}")  # pragma: no cover (a bug here)


def _build_section(name: str, cls: type[Section], table: Any) -> Section:
    if not isinstance(table, dict):
        raise ConfigError(f"{name} must be a table, got {type(table).__name__} {table!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in table.items():
        if key not in fields:
            raise ConfigError(f"[{name}] has no key '{key}'{_nearest(key, fields)}")
        value = _coerce(f"{name}.{key}", hints[key], value)
        for predicate, text in fields[key].metadata.get("rules", ()):
            if not predicate(value):
                raise ConfigError(f"{name}.{key} must be {text}, got {value!r}")
        values[key] = value
    return cls(**values)


def _merge(base: dict, override: dict) -> dict:
    """Tables merged key by key (a table given twice keeps the keys of both)."""
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


@dataclass
class Settings:
    """Resolved, checked settings: one frozen section per ``config.toml`` section.

    Read a value as ``settings.rating.bootstrap`` (or ``settings["rating"]["bootstrap"]``).
    Sections are frozen: a different value is a new :class:`Settings`
    (:meth:`replace`), never a change to a shared one.
    """

    arena: ArenaSettings = field(default_factory=ArenaSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    battle: BattleSettings = field(default_factory=BattleSettings)
    votes: VotesSettings = field(default_factory=VotesSettings)
    queues: QueuesSettings = field(default_factory=QueuesSettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    rating: RatingSettings = field(default_factory=RatingSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    live: LiveSettings = field(default_factory=LiveSettings)
    rank: RankSettings = field(default_factory=RankSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    web: WebSettings = field(default_factory=WebSettings)
    #: ``[judges.NAME]`` tables, as given (checked by workers.judge_config).
    judges: dict[str, dict] = field(default_factory=dict)
    #: ``[models.NAME]`` tables, as given and checked (arena.endpoints reads them).
    models: dict[str, dict] = field(default_factory=dict)
    source: Path | None = None
    _instance_key: str | None = field(default=None, init=False, repr=False, compare=False)

    def __getitem__(self, section: str) -> Any:
        if section not in SECTIONS and section not in TABLE_SECTIONS:
            raise KeyError(section)
        return getattr(self, section)

    def replace(self, **sections: dict) -> Settings:
        """New settings with some keys changed: ``replace(rating={"bootstrap": 20})``."""
        data = {name: dict(getattr(self, name)) for name in SECTIONS}
        data["judges"] = dict(self.judges)
        data["models"] = {k: dict(v) for k, v in self.models.items()}
        _merge(data, sections)
        new = _from_data(data, self.source)
        new._instance_key = self._instance_key
        return new

    @property
    def instance_path(self) -> Path:
        path = Path(self.arena.instance).expanduser()
        if not path.is_absolute() and self.source is not None:
            path = self.source.parent / path
        return path.resolve()

    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.instance_path / 'arena.db'}"

    @property
    def redis_url(self) -> str:
        """The configured URL; empty means "start the embedded server"."""
        return self.redis.url

    @property
    def secret_key(self) -> str:
        """The configured key, else one generated once and kept in the instance.

        The instance's key file is read on first use only: the web app signs a
        battle token with the key on every request. Processes starting at once
        (gunicorn workers without ``--preload``) agree on one key: the file is
        created with ``O_CREAT | O_EXCL``, so exactly one of them writes it, and
        every one reads back what is there.
        """
        key = self.arena.secret_key
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


def _from_data(data: dict, source: Path | None) -> Settings:
    """Check a nested dict of sections and build :class:`Settings` from it."""
    known = [*SECTIONS, *TABLE_SECTIONS]
    for name in data:
        if name not in known:
            raise ConfigError(f"unknown section [{name}]{_nearest(name, known)}")
    sections = {
        name: _build_section(name, cls, data.get(name, {})) for name, cls in SECTIONS.items()
    }
    judges = data.get("judges", {})
    if not isinstance(judges, dict) or not all(isinstance(t, dict) for t in judges.values()):
        raise ConfigError("judges must be a table of [judges.NAME] tables")
    models = data.get("models", {})
    if not isinstance(models, dict) or not all(isinstance(t, dict) for t in models.values()):
        raise ConfigError("models must be a table of [models.NAME] tables")
    from arena.endpoints import endpoint_from_table  # it uses ConfigError from here

    for name, table in models.items():
        endpoint_from_table(name, table)
    return Settings(**sections, judges=dict(judges), models=dict(models), source=source)


def load(
    path: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    overrides: dict | None = None,
) -> Settings:
    """Resolve and check settings from defaults, a TOML file, the environment and overrides."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    source = None
    if path is None:
        path = env.get("ARENA_CONFIG") or None
        if path is None and Path("config.toml").exists():
            path = "config.toml"
    if path is not None:
        source = Path(path).resolve()
        try:
            with open(source, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    for name, (section, key) in ENV_KEYS.items():
        if env.get(name):
            table = data.setdefault(section, {})
            if isinstance(table, dict):
                table[key] = env[name]
    if overrides:
        _merge(data, overrides)
    try:
        return _from_data(data, source)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}" if path is not None else str(exc)) from None
