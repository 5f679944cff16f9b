"""The composite rank's inputs from files alone (``arena rank --ratings ...``).

:func:`load_file_inputs` returns ``(RankInputs, inputs_meta)`` where
``inputs_meta`` lists every file with its kind, format, what it held and the
sha256 digest of its bytes, so a ranking can be traced to exactly what it used.
Reading from the database is :mod:`arena.composite_db`.

File formats:

* ratings: the JSON of ``arena rate --format json`` (with ``bootstrap`` when
  written with replicates), or the lmsys leaderboard CSV (``model``,
  ``arena_score``, ``95_pct_ci`` like ``+7/-9``; its ``organization`` column
  helps name matching);
* benchmarks, popularity, aliases: see :mod:`arena.importers`;
* models: see :mod:`arena.importers.metadata` (JSONL or the v2 CSV);
* efficiency: JSONL with ``model`` (or LLMFAO's ``name`` when ``model`` is a
  number), ``tokens_per_second`` or ``rate``, ``latency_ms`` or ``duration``
  (ms), ``price_per_mtok``; several lines per model are reduced to medians.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np

from arena.files import read_jsonl
from arena.importers.aliases import parse_aliases_table
from arena.importers.benchmarks import SignalFileError, number, parse_benchmarks_table, read_csv
from arena.importers.metadata import parse_metadata, parse_metadata_table
from arena.importers.popularity import parse_popularity_table
from rating.composite.inputs import ArenaRatings, ModelFacts, RankInputs, Speed


def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


# ---------------------------------------------------------------- ratings


def _finite(path, where: str, value) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise SignalFileError(path, None, f"{where} is not a number: {value!r}") from None
    if not math.isfinite(x):
        raise SignalFileError(path, None, f"{where} is not finite: {value!r}")
    return x


def ratings_from_payload(payload: dict, path: str = "<ratings>") -> ArenaRatings:
    """An :class:`ArenaRatings` from the parsed JSON of ``arena rate --format json``."""
    if not isinstance(payload, dict) or not isinstance(payload.get("models"), list):
        raise SignalFileError(path, None, 'not a ratings file: no "models" list')
    names, rating, lo, hi, tiers = [], [], [], [], []
    for k, m in enumerate(payload["models"]):
        if not isinstance(m, dict) or not m.get("model"):
            raise SignalFileError(path, None, f'models[{k}] has no "model"')
        names.append(str(m["model"]))
        rating.append(_finite(path, f"models[{k}].rating", m.get("rating")))
        lo.append(_finite(path, f"models[{k}].ci_low", m.get("ci_low", m.get("rating"))))
        hi.append(_finite(path, f"models[{k}].ci_high", m.get("ci_high", m.get("rating"))))
        tiers.append(m.get("tier"))
    if not names:
        raise SignalFileError(path, None, "the ratings file lists no models")
    tier = np.array(tiers, dtype=int) if all(isinstance(t, int) for t in tiers) else None
    reps = None
    boot = payload.get("bootstrap")
    if boot:
        bnames = [str(x) for x in boot.get("models", [])]
        matrix = np.asarray(boot.get("ratings", []), dtype=float)
        if matrix.ndim != 2 or matrix.shape[1] != len(bnames):
            raise SignalFileError(
                path,
                None,
                f"bootstrap.ratings has shape {matrix.shape}, expected (replicates, {len(bnames)})",
            )
        pos = {n: i for i, n in enumerate(bnames)}
        missing = [n for n in names if n not in pos]
        if missing:
            raise SignalFileError(path, None, f"bootstrap lacks models: {', '.join(missing[:5])}")
        reps = matrix[:, [pos[n] for n in names]]
    return ArenaRatings(names, rating, lo, hi, tier, reps)


def _parse_ci(path, line: int, text: str) -> tuple[float, float]:
    try:
        plus, minus = text.split("/")
        return float(plus), abs(float(minus))
    except ValueError:
        raise SignalFileError(path, line, f"95_pct_ci is not like '+7/-9': {text!r}") from None


def load_ratings(path: str | Path) -> tuple[ArenaRatings, dict[str, ModelFacts], str]:
    """Ratings from a rate JSON or the lmsys CSV; also organizations found there."""
    path = Path(path)
    if not path.is_file():
        raise SignalFileError(path, None, "file not found")
    head = path.read_bytes()[:1].strip() or b" "
    if head in (b"{", b"["):
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise SignalFileError(path, exc.lineno, f"broken JSON ({exc.msg})") from None
        return ratings_from_payload(payload, str(path)), {}, "arena-rate-json"
    header, rows = read_csv(path)
    if not {"model", "arena_score", "95_pct_ci"} <= set(header):
        raise SignalFileError(
            path,
            1,
            "not a ratings file: expected arena rate JSON or a CSV "
            "with model, arena_score, 95_pct_ci",
        )
    names, rating, lo, hi, facts = [], [], [], [], {}
    for line, row in rows:
        if not row["model"]:
            raise SignalFileError(path, line, "column 'model' is empty")
        r = number(path, line, "arena_score", row["arena_score"])
        plus, minus = _parse_ci(path, line, row["95_pct_ci"])
        names.append(row["model"])
        rating.append(r)
        lo.append(r - minus)
        hi.append(r + plus)
        if row.get("organization"):
            facts[row["model"]] = ModelFacts(organization=row["organization"])
    if not names:
        raise SignalFileError(path, None, "no ratings in the file")
    return ArenaRatings(names, rating, lo, hi), facts, "lmsys-csv"


# ---------------------------------------------------------------- models, efficiency


def _jsonl(path: Path):
    return read_jsonl(path, SignalFileError)


def _opt_number(path, line, obj, *keys):
    for key in keys:
        if obj.get(key) is not None:
            value = obj[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SignalFileError(path, line, f"{key!r} is not a number: {value!r}")
            if not math.isfinite(value) or value < 0:
                raise SignalFileError(path, line, f"{key!r} must be a finite number >= 0")
            return float(value)
    return None


def load_models(path: str | Path, tables: CsvTables | None = None) -> dict[str, ModelFacts]:
    """Model metadata from JSONL or the Open LLM Leaderboard v2 CSV."""
    if Path(path).suffix.lower() == ".csv":
        return dict(parse_metadata_table(path, *(tables or CsvTables()).read(path)).rows)
    return dict(parse_metadata(path).rows)


class CsvTables:
    """CSV files read once per :func:`load_file_inputs` call: the v2 export is often
    given as benchmarks, popularity and models at once (2.7 MB, parsed once, not thrice)."""

    def __init__(self) -> None:
        self._read: dict[str, tuple[list[str], list[tuple[int, dict]]]] = {}

    def read(self, path) -> tuple[list[str], list[tuple[int, dict]]]:
        key = str(Path(path).resolve())
        if key not in self._read:
            self._read[key] = read_csv(path)
        return self._read[key]


def median_or_none(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None


def speed_from_samples(tps: list, latency: list, price: list | None = None) -> Speed:
    """Medians of the measurements, and the measurements themselves (for the interval)."""
    known_tps = [v for v in tps if v is not None]
    known_lat = [v for v in latency if v is not None]
    return Speed(
        median_or_none(tps),
        median_or_none(latency),
        median_or_none(price or []),
        known_tps or None,
        known_lat or None,
    )


def load_efficiency(path: str | Path) -> dict[str, Speed]:
    """Per-model medians of speed facts from JSONL (LLMFAO ``results.jsonl`` works as is)."""
    path = Path(path)
    acc: dict[str, list[list]] = {}
    for line, obj in _jsonl(path):
        name = obj.get("model")
        if not isinstance(name, str):
            name = obj.get("name")
        if not isinstance(name, str) or not name.strip():
            raise SignalFileError(path, line, 'no model name ("model" or "name")')
        tps = _opt_number(path, line, obj, "tokens_per_second", "rate")
        lat = _opt_number(path, line, obj, "latency_ms", "duration")
        price = _opt_number(path, line, obj, "price_per_mtok")
        slot = acc.setdefault(name.strip(), [[], [], []])
        slot[0].append(tps if tps else None)
        slot[1].append(lat if lat else None)
        slot[2].append(price)
    if not acc:
        raise SignalFileError(path, None, "no lines in the file")
    return {m: speed_from_samples(a, b, c) for m, (a, b, c) in acc.items()}


def _entry(kind: str, path, **extra) -> dict:
    return {"kind": kind, "source": str(path), **extra, "digest": file_digest(path)}


def load_file_inputs(
    ratings=None, benchmarks=None, popularity=None, aliases=None, models=None, efficiency=None
) -> tuple[RankInputs, list[dict]]:
    """Read every given file; raises :class:`SignalFileError` for a bad one."""
    inputs = RankInputs()
    meta: list[dict] = []
    facts: dict[str, ModelFacts] = {}
    tables = CsvTables()
    if ratings:
        inputs.arena, facts, fmt = load_ratings(ratings)
        reps = inputs.arena.replicates
        boot = 0 if reps is None else int(reps.shape[0])
        meta.append(
            _entry(
                "ratings",
                ratings,
                format=fmt,
                models=len(inputs.arena.models),
                bootstrap_replicates=boot,
            )
        )
    if benchmarks:
        parsed = parse_benchmarks_table(benchmarks, *tables.read(benchmarks))
        inputs.benchmarks = parsed.rows
        meta.append(
            _entry(
                "benchmarks",
                benchmarks,
                format=parsed.format,
                rows=len(parsed.rows),
                notes=parsed.notes,
            )
        )
    if popularity:
        parsed = parse_popularity_table(popularity, *tables.read(popularity))
        inputs.popularity = dict(parsed.rows)
        meta.append(_entry("popularity", popularity, format=parsed.format, rows=len(parsed.rows)))
    if aliases:
        parsed = parse_aliases_table(aliases, *tables.read(aliases))
        inputs.aliases = dict(parsed.rows)
        meta.append(_entry("aliases", aliases, rows=len(parsed.rows)))
    if models:
        loaded = load_models(models, tables)
        for name, f in loaded.items():
            if f.organization is None and name in facts:
                f.organization = facts[name].organization
            facts[name] = f
        meta.append(_entry("models", models, rows=len(loaded)))
    inputs.models = facts
    if efficiency:
        inputs.efficiency = load_efficiency(efficiency)
        meta.append(_entry("efficiency", efficiency, rows=len(inputs.efficiency)))
    return inputs, meta
