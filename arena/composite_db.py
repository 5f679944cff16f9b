"""The composite rank's inputs from the database (``arena rank`` without files, the API).

:func:`load_db_inputs` returns ``(RankInputs, inputs_meta)`` like
:func:`arena.composite_files.load_file_inputs`, each input's digest being the
sha256 of the rows read. The arena signal is the newest ``bt`` rating snapshot
of one scope: by default the human votes only (``[rank] arena_source``), since
judge votes (source ``judge:NAME``) are not the arena's human signal; another
source is chosen with ``arena rank --source`` (``all`` = every vote).
Metadata is the union of the ``models`` table (arena models) and
``model_metadata`` (``arena import metadata``), the latter filling gaps.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select
from sqlalchemy.engine import Engine

from arena.composite_files import ratings_from_payload, speed_from_samples
from arena.models import Alias, Answer, BenchmarkScore, Model, ModelMetadata, Popularity
from arena.rating_store import latest_snapshot_row
from rating.composite.inputs import (
    BenchmarkResult,
    ModelFacts,
    PopularityCounts,
    RankInputs,
    Speed,
)


def rows_digest(rows) -> str:
    text = json.dumps(rows, sort_keys=True, default=str, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


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


def _arena(engine: Engine, inputs: RankInputs, scope: dict) -> dict:
    """Load the arena signal of one scope into ``inputs``; its entry for ``inputs_meta``."""
    payload, snap = latest_ratings(
        engine, scope["method"], scope["category"], scope["source"], scope["rater_group"]
    )
    entry = {"kind": "ratings", "source": "database: rating_snapshots", "scope": scope}
    if payload is None:
        return {**entry, "models": 0, "note": "no rating snapshot for this scope"}
    inputs.arena = ratings_from_payload(payload, "rating snapshot")
    reps = inputs.arena.replicates
    return {
        **entry,
        "snapshot_id": snap["snapshot_id"],
        "created_at": snap["created_at"],
        "models": len(inputs.arena.models),
        "bootstrap_replicates": 0 if reps is None else int(reps.shape[0]),
        "digest": snap["digest"] or rows_digest(payload),
    }


QUERIES = {
    "benchmarks": select(
        BenchmarkScore.model,
        BenchmarkScore.benchmark,
        BenchmarkScore.subtask,
        BenchmarkScore.score,
        BenchmarkScore.n_items,
        BenchmarkScore.normalized,
    ).order_by(BenchmarkScore.id),
    "popularity": select(
        Popularity.model, Popularity.downloads, Popularity.likes, Popularity.as_of
    ).order_by(Popularity.model),
    "aliases": select(Alias.alias, Alias.model).order_by(Alias.alias),
    "models": select(
        Model.id,
        Model.name,
        Model.organization,
        Model.parameters_b,
        Model.precision,
        Model.base_model,
        Model.release_date,
        Model.license,
    ).order_by(Model.id),
    "metadata": select(
        ModelMetadata.model,
        ModelMetadata.organization,
        ModelMetadata.parameters_b,
        ModelMetadata.precision,
        ModelMetadata.base_model,
        ModelMetadata.release_date,
        ModelMetadata.upload_date,
        ModelMetadata.architecture,
        ModelMetadata.license,
    ).order_by(ModelMetadata.model),
    "efficiency": select(Answer.model_id, Answer.tokens_per_second, Answer.latency_ms)
    .where((Answer.tokens_per_second.is_not(None)) | (Answer.latency_ms.is_not(None)))
    .order_by(Answer.id),
}
TABLES = {
    "benchmarks": "benchmark_scores",
    "popularity": "popularity",
    "aliases": "aliases",
    "models": "models",
    "metadata": "model_metadata",
    "efficiency": "answers",
}


def _facts(models: list[tuple], metadata: list[tuple]) -> dict[str, ModelFacts]:
    """Arena models' facts, gaps filled from ``model_metadata``; other metadata rows as is."""
    out = {
        name: ModelFacts(org, params, prec, base, rel, license=lic)
        for _id, name, org, params, prec, base, rel, lic in models
    }
    for name, org, params, prec, base, rel, up, arch, lic in metadata:
        extra = ModelFacts(org, params, prec, base, rel, up, arch, lic)
        known = out.get(name)
        if known is None:
            out[name] = extra
            continue
        for key, value in vars(extra).items():
            if getattr(known, key) is None:
                setattr(known, key, value)
    return out


def _speed(models: list[tuple], answers: list[tuple]) -> dict[str, Speed]:
    by_id = {row[0]: row[1] for row in models}
    acc: dict[str, list[list]] = {}
    for model_id, tps, lat in answers:
        slot = acc.setdefault(by_id.get(model_id, str(model_id)), [[], []])
        slot[0].append(tps if tps and tps > 0 else None)
        slot[1].append(lat if lat and lat > 0 else None)
    return {m: speed_from_samples(a, b) for m, (a, b) in acc.items()}


def load_db_inputs(
    engine: Engine, method: str, category: str = "", source: str = "human", rater_group: str = ""
) -> tuple[RankInputs, list[dict]]:
    """Every signal stored in the database; the arena's from the snapshot of ``method``
    (``[rating] method``) and (``category``, ``source``, ``rater_group``): ``source`` is
    ``[rank] arena_source`` unless asked otherwise (:func:`arena.rank_options.arena_source`)."""
    inputs = RankInputs()
    scope = {"method": method, "category": category, "source": source, "rater_group": rater_group}
    meta = [_arena(engine, inputs, scope)]
    with engine.connect() as conn:
        got = {kind: [tuple(r) for r in conn.execute(q)] for kind, q in QUERIES.items()}
    inputs.benchmarks = [
        BenchmarkResult(m, b, s or "", float(x), n, bool(z))
        for m, b, s, x, n, z in got["benchmarks"]
    ]
    inputs.popularity = {m: PopularityCounts(d, k, a) for m, d, k, a in got["popularity"]}
    inputs.aliases = {a: m for a, m in got["aliases"]}
    inputs.models = _facts(got["models"], got["metadata"])
    inputs.efficiency = _speed(got["models"], got["efficiency"])
    for kind, rows in got.items():
        meta.append(
            {
                "kind": kind,
                "source": f"database: {TABLES[kind]}",
                "rows": len(rows),
                "digest": rows_digest(rows),
            }
        )
    return inputs, meta
