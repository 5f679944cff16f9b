"""The blend: signals in, a composite with an interval, rank (UB) and tiers out."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rating.composite.aggregate import combine, coverage, signal_scale
from rating.composite.uncertainty import interval, joint_tiers, rank_interval


@dataclass
class Signal:
    """One signal over the pool.

    ``value`` is higher-is-better and fed to normalization; ``raw`` is what is
    reported (``None`` = same as ``value``); ``draws`` ``(R, n)`` are its
    replicates (``None`` = no uncertainty: the value repeats).
    """

    name: str
    value: np.ndarray
    draws: np.ndarray | None = None
    raw: list | None = None

    def __post_init__(self) -> None:
        self.value = np.asarray(self.value, dtype=float)


@dataclass
class Blend:
    """The composite for the eligible models (arrays over the whole pool; ``NaN`` /
    0 for models left out)."""

    score: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    rank: np.ndarray
    rank_ub: np.ndarray
    rank_low: np.ndarray
    tier: np.ndarray
    coverage: np.ndarray  # share of the weight of the signals with data that the model has
    weight_present: np.ndarray  # share of all the weight that the model has
    eligible: np.ndarray
    scaled: dict[str, np.ndarray]
    weights: dict[str, float]
    draws: np.ndarray = field(repr=False, default=None)


def competition_rank(score: np.ndarray) -> np.ndarray:
    """1 + the number of strictly higher scores (``NaN`` ranks last)."""
    s = np.where(np.isnan(score), -np.inf, score)
    sorted_desc = np.sort(s)[::-1]
    return 1 + np.searchsorted(-sorted_desc, -s, side="left")


def blend(
    signals: dict[str, Signal],
    weights: dict[str, float],
    n: int,
    normalize: str = "minmax",
    aggregate: str = "mean",
    min_coverage: float = 0.0,
    replicates: int = 0,
    confidence: float = 0.95,
    keep: np.ndarray | None = None,
) -> Blend:
    """Blend weighted signals into a composite.

    Parameters
    ----------
    signals : dict
        ``{name: Signal}``; a weighted name with no entry counts as missing for everyone.
    weights : dict
        Normalized weights (see :func:`rating.composite.weights.normalize_weights`).
    n : int
        Pool size.
    keep : bool array, optional
        Models allowed in the candidate pool before coverage (e.g. the VRAM filter).
    replicates : int
        Number of replicates for the interval (0 = point only).

    Notes
    -----
    A model's coverage is the share of the weight of the signals that at least
    one candidate has (a signal nobody has does not count against anyone).
    Each replicate is normalized on the scale of the point values (not within
    the replicate), so no model is pinned to a bound; rank (UB), the rank's
    upper end and tiers come from the rank of every model in every replicate
    (:mod:`rating.composite.uncertainty`), not from overlapping marginal intervals.
    """
    keep = np.ones(n, dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    empty = np.full(n, np.nan)
    values = {k: (signals[k].value if k in signals else empty) for k in weights}
    present = {k: ~np.isnan(v) for k, v in values.items()}
    weight_present = coverage(present, weights)
    # a signal no candidate has is left out of coverage (it is in meta.signals_without_data)
    active = sum(w for k, w in weights.items() if (present[k] & keep).any())
    cov = weight_present / active if active > 0 else np.zeros(n)
    eligible = keep & (cov > 0) & (cov >= min_coverage - 1e-12)
    # normalize within the candidate pool only; replicates on the point values' scale
    point = {k: np.where(eligible, v, np.nan) for k, v in values.items()}
    scaled = {k: signal_scale(v, normalize, aggregate) for k, v in point.items()}
    score = np.where(eligible, combine(scaled, weights), np.nan)
    if replicates > 0:
        rep_scaled = {}
        for k in weights:
            sig = signals.get(k)
            d = sig.draws if sig is not None and sig.draws is not None else None
            d = np.broadcast_to(values[k], (replicates, n)) if d is None else np.asarray(d, float)
            rep_scaled[k] = signal_scale(
                np.where(eligible, d, np.nan), normalize, aggregate, reference=point[k]
            )
        draws = np.where(eligible, combine(rep_scaled, weights), np.nan)
        lo, hi = interval(draws, confidence)
    else:
        draws = score[None, :]
        lo, hi = score.copy(), score.copy()
    lo = np.minimum(lo, score)
    hi = np.maximum(hi, score)
    rank, rank_ub, rank_low, tier = (np.zeros(n, dtype=int) for _ in range(4))
    idx = np.flatnonzero(eligible)
    if idx.size:
        rank[idx] = competition_rank(score[idx])
        rank_ub[idx], rank_low[idx] = rank_interval(rank[idx], draws[:, idx], confidence)
        tier[idx] = joint_tiers(score[idx], draws[:, idx], confidence)
    return Blend(
        score=score,
        ci_low=np.where(eligible, lo, np.nan),
        ci_high=np.where(eligible, hi, np.nan),
        rank=rank,
        rank_ub=rank_ub,
        rank_low=rank_low,
        tier=tier,
        coverage=cov,
        weight_present=weight_present,
        eligible=eligible,
        scaled=scaled,
        weights=dict(weights),
        draws=draws,
    )


def point_scores(
    scaled: dict[str, np.ndarray], weights: dict[str, float], drop: str | None = None
) -> np.ndarray:
    """Point composite from already scaled signals, optionally without one signal
    (its weight spread over the others, as for a model missing it)."""
    w = {k: v for k, v in weights.items() if k != drop}
    if not w:
        return np.full(next(iter(scaled.values())).shape, np.nan)
    return combine(scaled, w)
