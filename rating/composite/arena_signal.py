"""The arena signal: the rating (or its tier's mean) over the pool, with replicates.

The replicates are the ratings' own bootstrap rows when the input has them (a
stored snapshot, or ``arena rate --replicates`` JSON), so the correlation
between models' ratings is kept; without them, independent normal draws from
the intervals (said in ``meta.arena_replicates``).
"""

from __future__ import annotations

import numpy as np

from rating.composite.blend import Signal
from rating.composite.inputs import ArenaRatings, RankOptions
from rating.composite.pool import Pool
from rating.composite.uncertainty import normal_replicates, pick_rows
from rating.tiers import assign_tiers


def _num(x) -> float | None:
    return None if x is None or not np.isfinite(float(x)) else round(float(x), 6)


def _replicates(arena: ArenaRatings, count: int, opts: RankOptions, rng) -> tuple:
    if arena.replicates is not None and arena.replicates.shape[0] > 0:
        reps = pick_rows(arena.replicates, count, rng)
        note = f"bootstrap ({arena.replicates.shape[0]} rows in the input, {count} used)"
        return reps, note
    reps = normal_replicates(arena.rating, arena.ci_low, arena.ci_high, count, rng, opts.confidence)
    note = (
        f"normal draws from the intervals (no bootstrap in the input; "
        f"sd = (ci_high - ci_low) / (2 z), {count} draws, seed {opts.seed})"
    )
    return reps, note


def _tier_means(arena: ArenaRatings, tiers: np.ndarray, reps: np.ndarray) -> tuple:
    """Every model in a tier gets the tier's mean rating, in the point and in each replicate."""
    point, rep = arena.rating.copy(), reps.copy()
    for t in np.unique(tiers):
        members = tiers == t
        point[members] = arena.rating[members].mean()
        rep[:, members] = reps[:, members].mean(axis=1, keepdims=True)
    return point, rep


def arena_signal(
    arena: ArenaRatings | None, pool: Pool, opts: RankOptions, rng: np.random.Generator
) -> tuple[Signal, str]:
    """The arena :class:`Signal` over the pool and how its replicates were made."""
    n = pool.size
    count = max(opts.replicates, 1)
    draws = np.full((count, n), np.nan)
    if arena is None or not arena.models:
        return Signal("arena", np.full(n, np.nan), draws if opts.replicates else None), "none"
    reps, note = _replicates(arena, count, opts, rng)
    tiers = (
        arena.tier
        if arena.tier is not None
        else assign_tiers(arena.rating, arena.ci_low, arena.ci_high)
    )
    src_value, src_draws = (
        _tier_means(arena, tiers, reps) if opts.arena_mode == "tier" else (arena.rating, reps)
    )
    value, rating = np.full(n, np.nan), np.full(n, np.nan)
    tier_of = np.zeros(n, dtype=int)
    for j, name in enumerate(arena.models):
        i = pool.match.lookup("arena", name)
        if i is not None:
            value[i], rating[i], tier_of[i] = src_value[j], arena.rating[j], tiers[j]
            draws[:, i] = src_draws[:, j]
    for child, parent in pool.inherited.items():
        value[child], rating[child], tier_of[child] = value[parent], rating[parent], tier_of[parent]
        draws[:, child] = draws[:, parent]
    raw = [
        None if np.isnan(r) else {"rating": _num(r), "tier": int(t)}
        for r, t in zip(rating, tier_of)
    ]
    return Signal("arena", value, draws if opts.replicates else None, raw=raw), note
