"""One model's composite signals, for ``/models/<name>``.

Two parts, both from what is stored:

* its row of the composite rank with the ``[rank]`` defaults (the cached result
  of :func:`arena.web.composite_page.composite`): rank (UB), score with
  interval, tier, coverage, and per signal (arena, benchmarks, popularity,
  recency, efficiency) the raw value, the value scaled to 0-1, the weight and the
  contribution to the score; or why it is not ranked;
* the stored signal rows behind it (:mod:`arena.composite_db`'s tables): its
  benchmark scores (per benchmark, the mean over subtasks), popularity and
  metadata, read under every name the composite joined to it (the matching
  checks organizations; ``arena rank --show-matches`` lists the joins).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from arena.models import BenchmarkScore, ModelMetadata, Popularity
from arena.web.common import rt

SIGNAL_TEXT = {
    "arena": "Arena rating",
    "benchmarks": "Benchmarks",
    "popularity": "Popularity",
    "recency": "Recency",
    "efficiency": "Efficiency (fastness)",
}


def joined_names(name: str, meta: dict) -> dict[str, list[str]]:
    """Input -> the names in that input the composite joined to ``name`` (itself included)."""
    out: dict[str, list[str]] = {}
    for j in meta.get("matched_names") or []:
        if j.get("model") == name:
            out.setdefault(j.get("input", ""), []).append(j.get("name"))
    return out


def _stored(names: dict[str, list[str]], name: str) -> dict:
    """The stored benchmark, popularity and metadata rows under the joined names."""
    bench_names = sorted({name, *names.get("benchmarks", [])})
    pop_names = sorted({name, *names.get("popularity", [])})
    meta_names = sorted({name, *names.get("metadata", [])})
    with Session(rt().engine) as s:
        bench = s.execute(
            select(
                BenchmarkScore.model,
                BenchmarkScore.benchmark,
                BenchmarkScore.subtask,
                BenchmarkScore.score,
                BenchmarkScore.normalized,
            )
            .where(BenchmarkScore.model.in_(bench_names))
            .order_by(BenchmarkScore.benchmark, BenchmarkScore.subtask)
        ).all()
        pop = s.execute(
            select(
                Popularity.model, Popularity.downloads, Popularity.likes, Popularity.as_of
            ).where(Popularity.model.in_(pop_names))
        ).all()
        facts = s.execute(
            select(
                ModelMetadata.model,
                ModelMetadata.parameters_b,
                ModelMetadata.precision,
                ModelMetadata.architecture,
                ModelMetadata.release_date,
                ModelMetadata.upload_date,
            ).where(ModelMetadata.model.in_(meta_names))
        ).all()
    per_bench: dict[tuple[str, str], list] = {}
    for model, bench_name, _subtask, score, normalized in bench:
        per_bench.setdefault((model, bench_name), []).append((score, normalized))
    benchmarks = [
        {
            "source_name": model,
            "benchmark": bench_name,
            "score": sum(v for v, _ in values) / len(values),
            "subtasks": len(values),
            "normalized": all(n for _, n in values),
        }
        for (model, bench_name), values in sorted(per_bench.items())
    ]
    return {
        "benchmarks": benchmarks,
        "popularity": [
            {"source_name": m, "downloads": d, "likes": k, "as_of": a and str(a)}
            for m, d, k, a in pop
        ],
        "metadata": [
            {
                "source_name": m,
                "parameters_b": p,
                "precision": prec,
                "architecture": arch,
                "release_date": rel and str(rel),
                "upload_date": up and str(up),
            }
            for m, p, prec, arch, rel, up in facts
        ],
    }


def signals(name: str) -> dict:
    """Everything the model page shows of the composite for ``name`` (JSON-ready)."""
    from arena.web.composite_page import composite

    data = composite()
    meta = data.get("meta", {})
    row = next((r for r in data.get("models", []) if r["model"] == name), None)
    excluded = next((e for e in meta.get("excluded") or [] if e.get("model") == name), None)
    entries = []
    if row is not None:
        for key, entry in row["signals"].items():
            entries.append(
                {"signal": key, "label": SIGNAL_TEXT.get(key.split(".")[0], key), **entry}
            )
    return {
        "error": data.get("error"),
        "row": row,
        "ranked": len(data.get("models", [])),
        "entries": entries,
        "excluded": excluded,
        "confidence": meta.get("confidence"),
        "replicates": meta.get("replicates"),
        "stored": _stored(joined_names(name, meta), name),
    }
