"""The composite rank from inputs: match names, build signals, blend, report.

:func:`rank_models` is the one entry point the command line and the API
call; it takes :class:`~rating.composite.inputs.RankInputs` and
:class:`~rating.composite.inputs.RankOptions` and returns a
:class:`RankResult` whose ``rows`` and ``meta`` are JSON-ready. The steps live
in :mod:`~rating.composite.pool` (names, facts, variants, VRAM),
:mod:`~rating.composite.arena_signal`, :mod:`~rating.composite.signal_set`,
:mod:`~rating.composite.blend` and :mod:`~rating.composite.report`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from rating.composite.aggregate import AGGREGATORS
from rating.composite.arena_signal import arena_signal
from rating.composite.blend import Blend, Signal, blend
from rating.composite.goodness import GOODNESS_TRANSFORM, GOODNESS_WEIGHTING, Leaves
from rating.composite.inputs import RankInputs, RankOptions
from rating.composite.normalize import METHODS
from rating.composite.pool import Pool, build_pool
from rating.composite.report import build_rows, variants_table
from rating.composite.signal_set import build_signals, category_benchmarks
from rating.composite.weights import check_signal_name, normalize_weights

ARENA_MODES = ("rating", "tier")
BY = ("composite", "goodness", "fastness")


@dataclass
class RankResult:
    rows: list[dict]
    meta: dict
    names: list[str]
    blend: Blend
    signals: dict[str, Signal]


def check_options(opts: RankOptions) -> None:
    """Raise ``ValueError`` for options that cannot be used."""
    if opts.normalize not in METHODS:
        raise ValueError(
            f"unknown normalization {opts.normalize!r}; choose one of {', '.join(METHODS)}"
        )
    if opts.aggregate not in AGGREGATORS:
        raise ValueError(
            f"unknown aggregator {opts.aggregate!r}; choose one of {', '.join(AGGREGATORS)}"
        )
    if opts.arena_mode not in ARENA_MODES:
        raise ValueError(f"unknown arena mode {opts.arena_mode!r}; choose rating or tier")
    if not 0.0 <= opts.min_coverage <= 1.0:
        raise ValueError(f"min coverage must be within [0, 1], got {opts.min_coverage}")
    if opts.by.split(".", 1)[0] not in BY or (opts.by.startswith("fastness.")):
        raise ValueError(
            f"unknown --by {opts.by!r}; choose composite, goodness, goodness.<subdomain> "
            "or fastness"
        )


def ranking_weights(opts: RankOptions) -> dict[str, float]:
    """The composite's weights, or one signal alone for ``--by goodness|fastness``."""
    if opts.by == "composite":
        return normalize_weights(opts.weights)
    if opts.by == "fastness":
        return {"efficiency": 1.0}
    return {check_signal_name(opts.by): 1.0}


def _metadata_only(pool: Pool) -> np.ndarray:
    """Models named by the metadata input alone (facts, no signal): not candidates."""
    named = np.zeros(pool.size, dtype=bool)
    for src, present in pool.match.present.items():
        if src != "models":
            named[list(present)] = True
    return ~named


def _coverage_exclusions(pool: Pool, result: Blend, min_coverage: float) -> list[dict]:
    out = []
    for i in np.flatnonzero(pool.keep & ~result.eligible & ~_metadata_only(pool)):
        reason = (
            f"coverage {result.coverage[i]:.3f} below the minimum {min_coverage}"
            if result.coverage[i] > 0
            else "no signal with a positive weight"
        )
        out.append({"model": pool.names[i], "reason": reason})
    return out


def _meta(pool: Pool, opts: RankOptions, result: Blend, sigs, leaves: Leaves, extra: dict) -> dict:
    cat = category_benchmarks(opts)
    weights = result.weights
    return {
        "by": opts.by,
        "weights": weights,
        "normalization": opts.normalize,
        "aggregate": opts.aggregate,
        "arena_mode": opts.arena_mode,
        "min_coverage": opts.min_coverage,
        "recency_half_life_days": opts.recency_half_life_days,
        "as_of": extra["as_of"],
        "category": opts.category,
        "category_benchmarks": sorted(cat) if cat is not None else None,
        "max_vram_gb": opts.max_vram_gb,
        "replicates": opts.replicates,
        "confidence": opts.confidence,
        "seed": opts.seed,
        "arena_replicates": extra["arena_replicates"],
        "goodness_recipe": {"transform": GOODNESS_TRANSFORM, "weighting": GOODNESS_WEIGHTING},
        "benchmarks": sorted(set(leaves.benchmark)),
        "benchmark_leaves_with_items": int(np.isfinite(leaves.n_items).sum()),
        "pool": pool.size,
        "ranked": int(result.eligible.sum()),
        "signals_without_data": sorted(
            k for k in weights if k not in sigs or np.isnan(sigs[k].value).all()
        ),
        # metadata is not a signal: only the signal inputs are checked for gaps
        "missing": {
            src: pool.match.missing(src)
            for src, names in pool.names_by_input.items()
            if names and src != "models"
        },
        "ambiguous_names": pool.match.ambiguous,
        "duplicate_names": pool.match.duplicates,
        "matched_names": pool.match.renamed,
        "refused_matches": pool.match.refused,
        "excluded": pool.excluded + extra["excluded"],
        "metadata_only": int(_metadata_only(pool).sum()),
        "inherited": {pool.names[c]: pool.names[p] for c, p in pool.inherited.items()},
    }


def rank_models(inputs: RankInputs, opts: RankOptions) -> RankResult:
    """Compute the composite rank. Raises ``ValueError`` for unusable options."""
    check_options(opts)
    weights = ranking_weights(opts)
    as_of = opts.as_of or date.today()
    rng_arena, rng_bench = (
        np.random.default_rng(s) for s in np.random.SeedSequence(opts.seed).spawn(2)
    )
    pool = build_pool(inputs, opts)
    sigs, leaves = build_signals(inputs, pool, opts, weights, as_of, rng_bench)
    if opts.by.startswith("goodness.") and opts.by not in sigs:
        have = sorted(k.split(".", 1)[1] for k in sigs if k.startswith("goodness."))
        raise ValueError(
            f"no benchmark of subdomain {opts.by.split('.', 1)[1]!r} in the data; "
            f"it has: {', '.join(have) or 'none'}"
        )
    sigs["arena"], arena_note = arena_signal(inputs.arena, pool, opts, rng_arena)
    result = blend(
        sigs,
        weights,
        pool.size,
        normalize=opts.normalize,
        aggregate=opts.aggregate,
        min_coverage=opts.min_coverage,
        replicates=opts.replicates,
        confidence=opts.confidence,
        keep=pool.keep,
    )
    rows = build_rows(pool, result, sigs, opts.confidence)
    extra = {
        "as_of": as_of.isoformat(),
        "arena_replicates": arena_note,
        "excluded": _coverage_exclusions(pool, result, opts.min_coverage),
    }
    meta = _meta(pool, opts, result, sigs, leaves, extra)
    meta["variants"] = variants_table(pool, rows, sigs)
    return RankResult(rows=rows, meta=meta, names=pool.names, blend=result, signals=sigs)
