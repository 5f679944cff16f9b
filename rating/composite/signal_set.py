"""Every signal over the pool: benchmarks (and one benchmark alone), goodness
(and per subdomain), popularity, recency and efficiency ("fastness")."""

from __future__ import annotations

from datetime import date

import numpy as np

from rating.composite import goodness as bench_agg
from rating.composite import signals as facts_to_values
from rating.composite.blend import Signal
from rating.composite.categories import benchmarks_for
from rating.composite.inputs import RankInputs, RankOptions
from rating.composite.openllm import canonical_task
from rating.composite.pool import Pool


def _num(x) -> float | None:
    return None if x is None or not np.isfinite(float(x)) else round(float(x), 6)


def category_benchmarks(opts: RankOptions) -> set[str] | None:
    return benchmarks_for(opts.category, opts.categories) if opts.category else None


def benchmark_leaves(inputs: RankInputs, pool: Pool, only: set[str] | None) -> bench_agg.Leaves:
    """The benchmark results of pool models (``only``: these benchmarks)."""
    rows = [r for r in inputs.benchmarks if only is None or canonical_task(r.benchmark) in only]
    idx = [pool.match.lookup("benchmarks", r.model) for r in rows]
    rows = [r for r, i in zip(rows, idx) if i is not None]
    return bench_agg.Leaves(
        model=np.array([i for i in idx if i is not None], dtype=int),
        benchmark=[r.benchmark for r in rows],
        subtask=[r.subtask or "" for r in rows],
        score=np.array([r.score for r in rows], dtype=float),
        n_items=np.array([np.nan if r.n_items is None else r.n_items for r in rows], dtype=float),
        normalized=np.array([bool(r.normalized) for r in rows], dtype=bool),
    )


def _benchmark_signals(leaves, n: int, weights: dict, replicates: int, rng) -> dict:
    points = bench_agg.normalized_points(leaves)
    draws = bench_agg.normalized_draws(leaves, replicates, rng) if replicates else None

    def both(func, **kw) -> tuple:
        value = func(leaves, points, n, **kw)
        reps = func(leaves, draws, n, **kw) if draws is not None and len(leaves) else None
        return value, reps

    sigs = {"benchmarks": Signal("benchmarks", *both(bench_agg.benchmark_scores))}
    sigs["goodness"] = Signal("goodness", *both(bench_agg.goodness))
    for sub in bench_agg.subdomains_present(leaves):
        sigs[f"goodness.{sub}"] = Signal(f"goodness.{sub}", *both(bench_agg.goodness, only=sub))
    for key in weights:
        if key.startswith("benchmarks."):
            only = key.split(".", 1)[1]
            sigs[key] = Signal(key, *both(bench_agg.benchmark_scores, only=only))
    return sigs


def _popularity(inputs: RankInputs, pool: Pool) -> Signal:
    n = pool.size
    downloads, likes = np.full(n, np.nan), np.full(n, np.nan)
    for name, p in inputs.popularity.items():
        i = pool.match.lookup("popularity", name)
        if i is not None:
            downloads[i] = np.nan if p.downloads is None else p.downloads
            likes[i] = np.nan if p.likes is None else p.likes
    raw = [
        None
        if np.isnan(d) and np.isnan(k)
        else {
            "downloads": None if np.isnan(d) else int(d),
            "likes": None if np.isnan(k) else int(k),
        }
        for d, k in zip(downloads, likes)
    ]
    return Signal("popularity", facts_to_values.popularity(downloads, likes), raw=raw)


def _recency(pool: Pool, as_of: date, half_life_days: float) -> Signal:
    """The release date when known, else the repository's upload date (marked)."""
    when, raw = [], []
    for f in pool.facts:
        day = (f.release_date or f.upload_date) if f else None
        when.append(day)
        if day is None:
            raw.append(None)
        else:
            raw.append({"date": day.isoformat(), "from": "release" if f.release_date else "upload"})
    return Signal("recency", facts_to_values.recency(when, as_of, half_life_days), raw=raw)


def _efficiency(inputs: RankInputs, pool: Pool, replicates: int, rng) -> Signal:
    """Fastness; with measurements per model, its replicates are bootstrap medians."""
    n = pool.size
    point = {k: np.full(n, np.nan) for k in ("tokens_per_second", "latency_ms", "price_per_mtok")}
    draws = {
        k: np.full((max(replicates, 1), n), np.nan) for k in ("tokens_per_second", "latency_ms")
    }
    sampled = False
    for name, s in inputs.efficiency.items():
        i = pool.match.lookup("efficiency", name)
        if i is None:
            continue
        for key in point:
            value = getattr(s, key)
            point[key][i] = np.nan if value is None else value
        for key in draws:
            samples = getattr(s, f"{key}_samples")
            if replicates and samples:
                draws[key][:, i] = facts_to_values.bootstrap_medians(samples, replicates, rng)
                sampled = True
            else:
                draws[key][:, i] = point[key][i]
    tps, lat, price = point["tokens_per_second"], point["latency_ms"], point["price_per_mtok"]
    raw = [
        None
        if np.isnan(a) and np.isnan(b) and np.isnan(c)
        else {"tokens_per_second": _num(a), "latency_ms": _num(b), "price_per_mtok": _num(c)}
        for a, b, c in zip(tps, lat, price)
    ]
    value = facts_to_values.efficiency(tps, lat, price)
    reps = facts_to_values.efficiency_draws(point, draws) if sampled else None
    return Signal("efficiency", value, reps, raw=raw)


def build_signals(
    inputs: RankInputs,
    pool: Pool,
    opts: RankOptions,
    weights: dict,
    as_of: date,
    rng: np.random.Generator,
) -> tuple[dict[str, Signal], bench_agg.Leaves]:
    """Every signal but the arena's, and the benchmark leaves used."""
    leaves = benchmark_leaves(inputs, pool, category_benchmarks(opts))
    sigs = _benchmark_signals(leaves, pool.size, weights, opts.replicates, rng)
    sigs["popularity"] = _popularity(inputs, pool)
    sigs["recency"] = _recency(pool, as_of, opts.recency_half_life_days)
    sigs["efficiency"] = _efficiency(inputs, pool, opts.replicates, rng)
    return sigs, leaves
