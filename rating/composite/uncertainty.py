"""Replicates and intervals.

The composite is computed once per replicate; a replicate draws every
uncertain input at once (a bootstrap row of the arena ratings, a Beta draw of
each benchmark accuracy). The interval is the central quantile range of the
replicated composite, and rank (UB) and tiers follow the rating engine's
rules (:mod:`rating.tiers`).
"""

from __future__ import annotations

import numpy as np


def normal_replicates(
    rating, ci_low, ci_high, replicates: int, rng: np.random.Generator, confidence: float = 0.95
) -> np.ndarray:
    """Draw ``(replicates, n)`` normal ratings from point values and intervals.

    Used when a ratings file carries no bootstrap: the standard deviation is
    ``(ci_high - ci_low) / (2 z)`` with ``z`` the normal quantile of the
    two-sided ``confidence`` level (1.96 for 95%).
    """
    from statistics import NormalDist

    rating = np.asarray(rating, dtype=float)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    sd = (np.asarray(ci_high, dtype=float) - np.asarray(ci_low, dtype=float)) / (2 * z)
    sd = np.where(np.isfinite(sd) & (sd > 0), sd, 0.0)
    return rating + rng.standard_normal((replicates, rating.size)) * sd


def pick_rows(rows: np.ndarray, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """``replicates`` rows of a bootstrap matrix: the first ones when there are
    enough (keeps the draw aligned with the file), else resampled with replacement."""
    rows = np.asarray(rows, dtype=float)
    if rows.shape[0] >= replicates:
        return rows[:replicates]
    idx = rng.integers(0, rows.shape[0], size=replicates)
    return rows[idx]


def beta_draws(accuracy, n_items, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """Posterior draws of accuracies, ``(replicates, L)``.

    A leaf with ``n`` items and accuracy ``p`` has ``k = p n`` successes; its
    posterior under the Jeffreys prior is ``Beta(k + 1/2, n - k + 1/2)``.
    Leaves with unknown ``n`` (``NaN`` or <= 0) keep their point value.
    """
    p = np.clip(np.asarray(accuracy, dtype=float), 0.0, 1.0)
    n = np.asarray(n_items, dtype=float)
    known = np.isfinite(n) & (n > 0) & np.isfinite(p)
    out = np.broadcast_to(p, (replicates, p.size)).copy()
    if known.any():
        k = p[known] * n[known]
        a = k + 0.5
        b = n[known] - k + 0.5
        out[:, known] = rng.beta(a, b, size=(replicates, int(known.sum())))
    return out


def interval(draws: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Central ``confidence`` interval over axis 0, ignoring ``NaN`` replicates.

    Columns with no ``NaN`` take one vectorized quantile; the (rare) partly
    missing ones ``nanquantile``; all-``NaN`` columns give ``NaN``.
    """
    alpha = (1.0 - confidence) / 2
    draws = np.asarray(draws, dtype=float)
    missing = np.isnan(draws)
    lo = np.full(draws.shape[1:], np.nan)
    hi = np.full(draws.shape[1:], np.nan)
    full = ~missing.any(axis=0)
    if full.any():
        lo[full], hi[full] = np.quantile(draws[:, full], [alpha, 1 - alpha], axis=0)
    part = missing.any(axis=0) & ~missing.all(axis=0)
    if part.any():
        lo[part], hi[part] = np.nanquantile(draws[:, part], [alpha, 1 - alpha], axis=0)
    return lo, hi


def replicate_ranks(draws: np.ndarray) -> np.ndarray:
    """Competition rank (1 = best) of every model in every replicate, ``(R, n)``.

    Examples
    --------
    >>> replicate_ranks(np.array([[3.0, 1.0, 2.0], [1.0, 3.0, 3.0]])).tolist()
    [[1, 3, 2], [3, 1, 1]]
    """
    from rating.composite.ranks import rankdata

    d = np.asarray(draws, dtype=float)
    return rankdata(-np.where(np.isnan(d), -np.inf, d), "min")


def rank_interval(
    point_rank: np.ndarray, draws: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """The central ``confidence`` range of each model's rank over the joint replicates.

    The lower end is the rank (UB): the best rank the replicates support
    (never worse than the point rank); the upper end the worst.
    """
    ranks = replicate_ranks(draws)
    alpha = (1.0 - confidence) / 2
    best = np.floor(np.quantile(ranks, alpha, axis=0)).astype(int)
    worst = np.ceil(np.quantile(ranks, 1 - alpha, axis=0)).astype(int)
    point_rank = np.asarray(point_rank, dtype=int)
    return np.minimum(best, point_rank), np.maximum(worst, point_rank)


def joint_tiers(score: np.ndarray, draws: np.ndarray, confidence: float = 0.95) -> np.ndarray:
    """Tiers (1 = best) from the joint replicates.

    Walking down the models in score order, a model starts a new tier (and
    leads it) when the current tier's leader is above it in more than
    ``(1 + confidence) / 2`` of the replicates (the central interval of their
    paired difference excludes zero); otherwise it joins the leader's tier.

    Examples
    --------
    >>> d = np.array([[3.0, 2.9, 1.0], [2.0, 2.1, 0.0], [3.5, 3.0, 0.5]])
    >>> joint_tiers(np.array([3.0, 2.8, 0.5]), d).tolist()
    [1, 1, 2]
    """
    score = np.asarray(score, dtype=float)
    draws = np.asarray(draws, dtype=float)
    alpha = (1.0 - confidence) / 2
    order = np.argsort(-score, kind="stable")
    tiers = np.empty(score.size, dtype=int)
    tier, leader = 0, -1
    for idx in order:
        # the alpha-quantile of the paired difference is above 0: fewer than alpha of the
        # replicates have the leader at or below this model
        if tier == 0 or np.count_nonzero(draws[:, leader] <= draws[:, idx]) < alpha * len(draws):
            tier += 1
            leader = idx
        tiers[idx] = tier
    return tiers
