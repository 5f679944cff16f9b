"""Loading the composite rank's inputs: from the database, or from files alone.

``arena rank`` calls :func:`load_db_inputs` (DB mode) or :func:`load_file_inputs`
(files mode). Both return ``(RankInputs, inputs_meta)`` where ``inputs_meta``
lists every input with its kind, where it came from, what it held and a
sha256 digest (of the file's bytes, or of the rows read from the database),
so a ranking can be traced to exactly what it used.

File formats:

* ratings: the JSON of ``arena rate --format json`` (with ``bootstrap`` when
  written with replicates), or the lmsys leaderboard CSV (``model``,
  ``arena_score``, ``95_pct_ci`` like ``+7/-9``; its ``organization`` column
  helps name matching);
* benchmarks, popularity, aliases: see :mod:`arena.importers`;
* models: JSONL ``{"name", "organization", "parameters_b", "precision",
  "base_model", "release_date"}`` or the Open LLM Leaderboard v2 CSV
  (``metadata_params_billions``, ``model_precision``, ``metadata_base_model``,
  ``metadata_upload_date`` as the release date, the id's org part);
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
from sqlalchemy import select
from sqlalchemy.engine import Engine

from arena.importers.aliases import parse_aliases
from arena.importers.benchmarks import SignalFileError, is_hf_v2, number, parse_benchmarks, read_csv
from arena.importers.common import read_jsonl
from arena.importers.popularity import parse_date, parse_popularity
from arena.models import Alias, Answer, BenchmarkScore, Model, Popularity
from arena.ratings import latest_snapshot_row
from rating.composite.inputs import (
    ArenaRatings,
    BenchmarkResult,
    ModelFacts,
    PopularityCounts,
    RankInputs,
    Speed,
)


def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def rows_digest(rows) -> str:
    text = json.dumps(rows, sort_keys=True, default=str, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


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


def load_models(path: str | Path) -> dict[str, ModelFacts]:
    """Model metadata from JSONL or the Open LLM Leaderboard v2 CSV."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        header, rows = read_csv(path)
        if not is_hf_v2(header):
            raise SignalFileError(
                path,
                1,
                "a models CSV must be the Open LLM Leaderboard v2 "
                "export; use JSONL for other metadata",
            )
        out: dict[str, ModelFacts] = {}
        for line, row in rows:
            name = row["model_name"]
            if not name or name in out:
                continue
            base = row.get("metadata_base_model") or None
            params = number(
                path,
                line,
                "metadata_params_billions",
                row.get("metadata_params_billions", ""),
                optional=True,
            )
            out[name] = ModelFacts(
                organization=name.split("/")[0] if "/" in name else None,
                # the export writes -1 (or 0) when the size is unknown
                parameters_b=params if params is not None and params > 0 else None,
                precision=row.get("model_precision") or None,
                base_model=base if base and base != name else None,
                release_date=parse_date(
                    path, line, "metadata_upload_date", row.get("metadata_upload_date", "")
                ),
            )
        return out
    out = {}
    for line, obj in _jsonl(path):
        name = obj.get("name") or obj.get("model")
        if not isinstance(name, str) or not name.strip():
            raise SignalFileError(path, line, 'no "name"')
        when = obj.get("release_date")
        if when is not None and not isinstance(when, str):
            raise SignalFileError(path, line, '"release_date" must be YYYY-MM-DD')
        out[name.strip()] = ModelFacts(
            organization=obj.get("organization") or obj.get("org"),
            parameters_b=_opt_number(path, line, obj, "parameters_b"),
            precision=obj.get("precision"),
            base_model=obj.get("base_model"),
            release_date=parse_date(path, line, "release_date", when or ""),
        )
    if not out:
        raise SignalFileError(path, None, "no models in the file")
    return out


def _median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None


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
    return {m: Speed(_median(a), _median(b), _median(c)) for m, (a, b, c) in acc.items()}


def load_file_inputs(
    ratings=None, benchmarks=None, popularity=None, aliases=None, models=None, efficiency=None
) -> tuple[RankInputs, list[dict]]:
    """Read every given file; raises :class:`SignalFileError` for a bad one."""
    inputs = RankInputs()
    meta: list[dict] = []
    org_facts: dict[str, ModelFacts] = {}
    if ratings:
        inputs.arena, org_facts, fmt = load_ratings(ratings)
        reps = inputs.arena.replicates
        meta.append(
            {
                "kind": "ratings",
                "source": str(ratings),
                "format": fmt,
                "models": len(inputs.arena.models),
                "bootstrap_replicates": 0 if reps is None else int(reps.shape[0]),
                "digest": file_digest(ratings),
            }
        )
    if benchmarks:
        parsed = parse_benchmarks(benchmarks)
        inputs.benchmarks = parsed.rows
        meta.append(
            {
                "kind": "benchmarks",
                "source": str(benchmarks),
                "format": parsed.format,
                "rows": len(parsed.rows),
                "notes": parsed.notes,
                "digest": file_digest(benchmarks),
            }
        )
    if popularity:
        parsed = parse_popularity(popularity)
        inputs.popularity = dict(parsed.rows)
        meta.append(
            {
                "kind": "popularity",
                "source": str(popularity),
                "format": parsed.format,
                "rows": len(parsed.rows),
                "digest": file_digest(popularity),
            }
        )
    if aliases:
        parsed = parse_aliases(aliases)
        inputs.aliases = dict(parsed.rows)
        meta.append(
            {
                "kind": "aliases",
                "source": str(aliases),
                "rows": len(parsed.rows),
                "digest": file_digest(aliases),
            }
        )
    facts = dict(org_facts)
    if models:
        loaded = load_models(models)
        for name, f in loaded.items():
            if f.organization is None and name in org_facts:
                f.organization = org_facts[name].organization
            facts[name] = f
        meta.append(
            {
                "kind": "models",
                "source": str(models),
                "rows": len(loaded),
                "digest": file_digest(models),
            }
        )
    inputs.models = facts
    if efficiency:
        inputs.efficiency = load_efficiency(efficiency)
        meta.append(
            {
                "kind": "efficiency",
                "source": str(efficiency),
                "rows": len(inputs.efficiency),
                "digest": file_digest(efficiency),
            }
        )
    return inputs, meta


# ---------------------------------------------------------------- database


def latest_ratings(
    engine: Engine, method: str, category: str = "", source: str = "", rater_group: str = ""
) -> tuple[dict | None, dict]:
    """The newest rating snapshot of ``method``: its payload for a scope, and where it came from.

    One read, so the payload and its id, digest and time are of the same row.
    """
    row = latest_snapshot_row(engine, method, category, source, rater_group)
    if row is None:
        return None, {}
    info = {"snapshot_id": row.id, "digest": row.digest, "created_at": row.created_at.isoformat()}
    return json.loads(row.payload), info


def load_db_inputs(
    engine: Engine, method: str, category: str = "", source: str = "", rater_group: str = ""
) -> tuple[RankInputs, list[dict]]:
    """Every signal stored in the database (ratings: the snapshots of ``method``)."""
    inputs = RankInputs()
    meta: list[dict] = []
    payload, snap = latest_ratings(engine, method, category, source, rater_group)
    if payload is not None:
        inputs.arena = ratings_from_payload(payload, "rating snapshot")
        reps = inputs.arena.replicates
        meta.append(
            {
                "kind": "ratings",
                "source": "database: rating_snapshots",
                "scope": {
                    "method": method,
                    "category": category,
                    "source": source,
                    "rater_group": rater_group,
                },
                "snapshot_id": snap.get("snapshot_id"),
                "created_at": snap.get("created_at"),
                "models": len(inputs.arena.models),
                "bootstrap_replicates": 0 if reps is None else int(reps.shape[0]),
                "digest": snap.get("digest") or rows_digest(payload),
            }
        )
    else:
        meta.append(
            {
                "kind": "ratings",
                "source": "database: rating_snapshots",
                "scope": {
                    "method": method,
                    "category": category,
                    "source": source,
                    "rater_group": rater_group,
                },
                "models": 0,
                "note": "no rating snapshot for this scope",
            }
        )
    with engine.connect() as conn:
        bench = [
            tuple(r)
            for r in conn.execute(
                select(
                    BenchmarkScore.model,
                    BenchmarkScore.benchmark,
                    BenchmarkScore.subtask,
                    BenchmarkScore.score,
                    BenchmarkScore.n_items,
                    BenchmarkScore.normalized,
                ).order_by(BenchmarkScore.id)
            )
        ]
        pop = [
            tuple(r)
            for r in conn.execute(
                select(
                    Popularity.model, Popularity.downloads, Popularity.likes, Popularity.as_of
                ).order_by(Popularity.model)
            )
        ]
        ali = [
            tuple(r) for r in conn.execute(select(Alias.alias, Alias.model).order_by(Alias.alias))
        ]
        mods = [
            tuple(r)
            for r in conn.execute(
                select(
                    Model.id,
                    Model.name,
                    Model.organization,
                    Model.parameters_b,
                    Model.precision,
                    Model.base_model,
                    Model.release_date,
                ).order_by(Model.id)
            )
        ]
        speed = [
            tuple(r)
            for r in conn.execute(
                select(Answer.model_id, Answer.tokens_per_second, Answer.latency_ms)
                .where((Answer.tokens_per_second.is_not(None)) | (Answer.latency_ms.is_not(None)))
                .order_by(Answer.id)
            )
        ]
    inputs.benchmarks = [
        BenchmarkResult(m, b, s or "", float(x), n, bool(z)) for m, b, s, x, n, z in bench
    ]
    inputs.popularity = {m: PopularityCounts(d, l, a) for m, d, l, a in pop}
    inputs.aliases = {a: m for a, m in ali}
    inputs.models = {
        name: ModelFacts(org, params, prec, base, rel)
        for _id, name, org, params, prec, base, rel in mods
    }
    by_id = {row[0]: row[1] for row in mods}
    acc: dict[str, list[list]] = {}
    for model_id, tps, lat in speed:
        slot = acc.setdefault(by_id.get(model_id, str(model_id)), [[], []])
        slot[0].append(tps if tps and tps > 0 else None)
        slot[1].append(lat if lat and lat > 0 else None)
    inputs.efficiency = {m: Speed(_median(a), _median(b)) for m, (a, b) in acc.items()}
    for kind, table, rows in (
        ("benchmarks", "benchmark_scores", bench),
        ("popularity", "popularity", pop),
        ("aliases", "aliases", ali),
        ("models", "models", mods),
        ("efficiency", "answers", speed),
    ):
        meta.append(
            {
                "kind": kind,
                "source": f"database: {table}",
                "rows": len(rows),
                "digest": rows_digest(rows),
            }
        )
    return inputs, meta
