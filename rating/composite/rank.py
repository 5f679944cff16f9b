"""The composite rank from inputs: match names, build signals, blend, report.

:func:`rank_models` is the one entry point the command line and the store
call; it takes :class:`~rating.composite.inputs.RankInputs` and
:class:`~rating.composite.inputs.RankOptions` and returns a
:class:`RankResult` whose ``rows`` and ``meta`` are JSON-ready.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from rating.composite import goodness as gd
from rating.composite import signals as sg
from rating.composite.aggregate import AGGREGATORS
from rating.composite.blend import Blend, Signal, blend
from rating.composite.categories import benchmarks_for
from rating.composite.inputs import ModelFacts, RankInputs, RankOptions
from rating.composite.matching import Matching, match_names
from rating.composite.normalize import METHODS
from rating.composite.openllm import canonical_task
from rating.composite.uncertainty import interval, normal_replicates, pick_rows
from rating.composite.weights import normalize_weights
from rating.tiers import assign_tiers

ARENA_MODES = ("rating", "tier")


@dataclass
class RankResult:
    rows: list[dict]
    meta: dict
    names: list[str]
    blend: Blend
    signals: dict[str, Signal]


def _num(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if not np.isfinite(x) else round(x, 6)


def _merge_facts(first: ModelFacts, second: ModelFacts) -> ModelFacts:
    """Field-wise: the first known value wins (two spellings of one model)."""
    return ModelFacts(
        **{
            k: getattr(first, k) if getattr(first, k) is not None else getattr(second, k)
            for k in vars(first)
        }
    )


def _nan_array(n: int) -> np.ndarray:
    return np.full(n, np.nan)


def _arena_signal(
    inputs: RankInputs,
    match: Matching,
    n: int,
    opts: RankOptions,
    rng: np.random.Generator,
    inherited: dict[int, int],
) -> tuple[Signal, dict]:
    """Arena rating (or tier score) over the pool, with replicates."""
    arena = inputs.arena
    info: dict = {"replicates": "none"}
    value = _nan_array(n)
    rating = _nan_array(n)
    tier_of = np.zeros(n, dtype=int)
    draws = np.full((max(opts.replicates, 1), n), np.nan)
    if arena is None or not arena.models:
        return Signal("arena", value, draws if opts.replicates else None, raw=[None] * n), info
    R = max(opts.replicates, 1)
    if arena.replicates is not None and arena.replicates.shape[0] > 0:
        reps = pick_rows(arena.replicates, R, rng)
        info["replicates"] = f"bootstrap ({arena.replicates.shape[0]} rows in the input, {R} used)"
    else:
        reps = normal_replicates(arena.rating, arena.ci_low, arena.ci_high, R, rng, opts.confidence)
        info["replicates"] = (
            f"normal draws from the intervals (no bootstrap in the input; "
            f"sd = (ci_high - ci_low) / (2 z), {R} draws, seed {opts.seed})"
        )
    tiers = (
        arena.tier
        if arena.tier is not None
        else assign_tiers(arena.rating, arena.ci_low, arena.ci_high)
    )
    if opts.arena_mode == "tier":
        # every model in a tier gets the tier's mean rating, in the point and in each replicate
        point = arena.rating.copy()
        rep = reps.copy()
        for t in np.unique(tiers):
            members = tiers == t
            point[members] = arena.rating[members].mean()
            rep[:, members] = reps[:, members].mean(axis=1, keepdims=True)
        src_value, src_draws = point, rep
    else:
        src_value, src_draws = arena.rating, reps
    for j, name in enumerate(arena.models):
        i = match.lookup("arena", name)
        if i is None:
            continue
        value[i], rating[i], tier_of[i] = src_value[j], arena.rating[j], tiers[j]
        draws[:, i] = src_draws[:, j]
    for child, parent in inherited.items():
        value[child], rating[child], tier_of[child] = value[parent], rating[parent], tier_of[parent]
        draws[:, child] = draws[:, parent]
    raw = [
        None if np.isnan(r) else {"rating": _num(r), "tier": int(t)}
        for r, t in zip(rating, tier_of)
    ]
    return Signal("arena", value, draws if opts.replicates else None, raw=raw), info


def _leaves(inputs: RankInputs, match: Matching, category_benchmarks: set[str] | None):
    rows = [
        r
        for r in inputs.benchmarks
        if category_benchmarks is None or canonical_task(r.benchmark) in category_benchmarks
    ]
    idx = [match.lookup("benchmarks", r.model) for r in rows]
    rows = [r for r, i in zip(rows, idx) if i is not None]
    idx = [i for i in idx if i is not None]
    return gd.Leaves(
        model=np.array(idx, dtype=int),
        benchmark=[r.benchmark for r in rows],
        subtask=[r.subtask or "" for r in rows],
        score=np.array([r.score for r in rows], dtype=float),
        n_items=np.array([np.nan if r.n_items is None else r.n_items for r in rows], dtype=float),
        normalized=np.array([bool(r.normalized) for r in rows], dtype=bool),
    )


def rank_models(inputs: RankInputs, opts: RankOptions) -> RankResult:
    """Compute the composite rank. Raises ``ValueError`` for unusable options."""
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
    weights = normalize_weights(opts.weights)
    as_of = opts.as_of or date.today()
    seeds = np.random.SeedSequence(opts.seed).spawn(2)
    rng_arena, rng_bench = (np.random.default_rng(s) for s in seeds)

    # 1. the pool
    names_by_input = {
        "arena": list(inputs.arena.models) if inputs.arena else [],
        "models": list(inputs.models),
        "benchmarks": list(dict.fromkeys(r.model for r in inputs.benchmarks)),
        "popularity": list(inputs.popularity),
        "efficiency": list(inputs.efficiency),
    }
    orgs = {k: v.organization for k, v in inputs.models.items() if v.organization}
    match = match_names(names_by_input, inputs.aliases, orgs)
    names = match.names
    n = len(names)
    facts: list[ModelFacts | None] = [None] * n
    for name, f in inputs.models.items():
        i = match.locate("models", name)
        if i is not None:
            facts[i] = f if facts[i] is None else _merge_facts(facts[i], f)

    # 2. variants inherit their base's arena rating (opt-in)
    inherited: dict[int, int] = {}
    arena_present = match.present.get("arena", set())
    base_of: dict[int, int] = {}
    pool_key = {k[1].strip().lower(): v for k, v in match.index.items()}
    pool_key.update({nm.lower(): i for i, nm in enumerate(names)})
    for i, f in enumerate(facts):
        if f is not None and f.base_model:
            j = pool_key.get(f.base_model.strip().lower())
            if j is not None and j != i:
                base_of[i] = j
                if opts.inherit_base and i not in arena_present and j in arena_present:
                    inherited[i] = j

    # 3. size filter
    vram = sg.vram_gb(
        [f.parameters_b if f else None for f in facts], [f.precision if f else None for f in facts]
    )
    keep = np.ones(n, dtype=bool)
    excluded: list[dict] = []
    if opts.max_vram_gb is not None:
        over = ~(vram <= opts.max_vram_gb)
        keep &= ~over
        for i in np.flatnonzero(over):
            excluded.append(
                {
                    "model": names[i],
                    "reason": (
                        f"estimated VRAM {vram[i]} GB > {opts.max_vram_gb} GB"
                        if np.isfinite(vram[i])
                        else "VRAM unknown (no parameter count)"
                    ),
                }
            )

    # 4. signals
    sigs: dict[str, Signal] = {}
    arena_sig, arena_info = _arena_signal(inputs, match, n, opts, rng_arena, inherited)
    sigs["arena"] = arena_sig
    cat_benchmarks = benchmarks_for(opts.category, opts.categories) if opts.category else None
    leaves = _leaves(inputs, match, cat_benchmarks)
    points = gd.normalized_points(leaves)
    draws = gd.normalized_draws(leaves, opts.replicates, rng_bench) if opts.replicates else None
    names_bench = sorted(set(leaves.benchmark))
    all_bench = gd.benchmark_scores(leaves, points, n)
    sigs["benchmarks"] = Signal(
        "benchmarks",
        all_bench,
        gd.benchmark_scores(leaves, draws, n) if draws is not None else None,
    )
    for key in weights:
        if key.startswith("benchmarks."):
            one = key.split(".", 1)[1]
            sigs[key] = Signal(
                key,
                gd.benchmark_scores(leaves, points, n, only=one),
                gd.benchmark_scores(leaves, draws, n, only=one) if draws is not None else None,
            )
    good = gd.goodness(leaves, points, n)
    good_lo, good_hi = (
        interval(gd.goodness(leaves, draws, n), opts.confidence)
        if draws is not None and len(leaves)
        else (good, good)
    )
    pop_d, pop_l = _nan_array(n), _nan_array(n)
    for name, p in inputs.popularity.items():
        i = match.lookup("popularity", name)
        if i is not None:
            pop_d[i] = np.nan if p.downloads is None else p.downloads
            pop_l[i] = np.nan if p.likes is None else p.likes
    sigs["popularity"] = Signal(
        "popularity",
        sg.popularity(pop_d, pop_l),
        raw=[
            None
            if np.isnan(d) and np.isnan(l)
            else {
                "downloads": None if np.isnan(d) else int(d),
                "likes": None if np.isnan(l) else int(l),
            }
            for d, l in zip(pop_d, pop_l)
        ],
    )
    released = [f.release_date if f else None for f in facts]
    sigs["recency"] = Signal(
        "recency",
        sg.recency(released, as_of, opts.recency_half_life_days),
        raw=[d.isoformat() if d else None for d in released],
    )
    tps, lat, price = _nan_array(n), _nan_array(n), _nan_array(n)
    for name, s in inputs.efficiency.items():
        i = match.lookup("efficiency", name)
        if i is not None:
            tps[i] = np.nan if s.tokens_per_second is None else s.tokens_per_second
            lat[i] = np.nan if s.latency_ms is None else s.latency_ms
            price[i] = np.nan if s.price_per_mtok is None else s.price_per_mtok
    fast = sg.efficiency(tps, lat, price)
    sigs["efficiency"] = Signal(
        "efficiency",
        fast,
        raw=[
            None
            if np.isnan(a) and np.isnan(b) and np.isnan(c)
            else {"tokens_per_second": _num(a), "latency_ms": _num(b), "price_per_mtok": _num(c)}
            for a, b, c in zip(tps, lat, price)
        ],
    )

    # 5. blend
    result = blend(
        sigs,
        weights,
        n,
        normalize=opts.normalize,
        aggregate=opts.aggregate,
        min_coverage=opts.min_coverage,
        replicates=opts.replicates,
        confidence=opts.confidence,
        keep=keep,
    )
    for i in np.flatnonzero(keep & ~result.eligible):
        excluded.append(
            {
                "model": names[i],
                "reason": (
                    f"coverage {result.coverage[i]:.3f} below the minimum {opts.min_coverage}"
                    if result.coverage[i] > 0
                    else "no signal with a positive weight"
                ),
            }
        )

    # 6. rows
    rows = []
    for i in np.flatnonzero(result.eligible):
        entry: dict = {}
        for key, w in weights.items():
            sig = sigs.get(key)
            raw_val = None
            if sig is not None:
                raw_val = sig.raw[i] if sig.raw is not None else _num(sig.value[i])
            norm = result.scaled[key][i]
            share = w / result.coverage[i] if not np.isnan(norm) else 0.0
            entry[key] = {
                "raw": raw_val,
                "normalized": _num(norm),
                "weight": round(w, 6),
                "contribution": None if np.isnan(norm) else _num(share * norm),
            }
        row = {
            "model": names[i],
            "score": _num(result.score[i]),
            "ci_low": _num(result.ci_low[i]),
            "ci_high": _num(result.ci_high[i]),
            "rank": int(result.rank[i]),
            "rank_ub": int(result.rank_ub[i]),
            "tier": int(result.tier[i]),
            "coverage": _num(result.coverage[i]),
            "signals": entry,
            "goodness": None
            if np.isnan(good[i])
            else {"value": _num(good[i]), "ci_low": _num(good_lo[i]), "ci_high": _num(good_hi[i])},
            "fastness": _num(fast[i]),
            "vram_gb": _num(vram[i]),
            "precision": facts[i].precision if facts[i] else None,
            "base_model": names[base_of[i]] if i in base_of else None,
        }
        if i in inherited:
            row["inherited_from"] = names[inherited[i]]
        rows.append(row)
    rows.sort(key=lambda r: (r["rank"], r["model"].lower()))

    # quantized (or otherwise derived) variants side by side with their base
    ranked = {r["model"]: r for r in rows}

    def _side(i: int) -> dict:
        r = ranked.get(names[i])
        return {
            "model": names[i],
            "precision": facts[i].precision if facts[i] else None,
            "vram_gb": _num(vram[i]),
            "score": r["score"] if r else None,
            "rank": r["rank"] if r else None,
            "inherited": i in inherited,
        }

    variants: dict[str, list[dict]] = {}
    for child, parent in base_of.items():
        group = variants.setdefault(names[parent], [_side(parent)])
        group.append(_side(child))
    meta = {
        "weights": weights,
        "normalization": opts.normalize,
        "aggregate": opts.aggregate,
        "arena_mode": opts.arena_mode,
        "min_coverage": opts.min_coverage,
        "recency_half_life_days": opts.recency_half_life_days,
        "as_of": as_of.isoformat(),
        "category": opts.category,
        "category_benchmarks": sorted(cat_benchmarks) if cat_benchmarks is not None else None,
        "max_vram_gb": opts.max_vram_gb,
        "replicates": opts.replicates,
        "confidence": opts.confidence,
        "seed": opts.seed,
        "arena_replicates": arena_info["replicates"],
        "benchmarks": names_bench,
        "benchmark_leaves_with_items": int(np.isfinite(leaves.n_items).sum()),
        "pool": n,
        "ranked": len(rows),
        "signals_without_data": sorted(
            k for k in weights if k not in sigs or np.isnan(sigs[k].value).all()
        ),
        # metadata is not a signal: only the signal inputs are checked for gaps
        "missing": {
            src: match.missing(src)
            for src, lst in names_by_input.items()
            if lst and src != "models"
        },
        "ambiguous_names": match.ambiguous,
        "duplicate_names": match.duplicates,
        "matched_names": match.renamed,
        "excluded": excluded,
        "inherited": {names[c]: names[p] for c, p in inherited.items()},
        "variants": variants,
    }
    return RankResult(rows=rows, meta=meta, names=names, blend=result, signals=sigs)
