"""Aggregators: how per-signal values become one score.

Every aggregator scores a model over the signals it has: the weights of its
missing signals are left out and the rest rescaled, and its *coverage* is the
share of the total weight it has values for.

* ``mean`` (default): weighted mean of the normalized signals;
* ``winrate``: HELM-style mean win rate, the weighted mean over signals of
  the share of other models (having that signal) this model beats, ties
  counting half; it ignores the ``--normalize`` choice;
* ``borda``: weighted Borda count, the points on each signal being the number
  of pool models ranked below (ties half), divided by the pool size minus
  one; unlike the win rate, a signal few models have gives few points. The
  two agree when every model has every signal.
"""

from __future__ import annotations

import numpy as np

from rating.composite.normalize import against, normalize, percentile
from rating.composite.ranks import rankdata

AGGREGATORS = ("mean", "winrate", "borda")


def borda_points(values: np.ndarray) -> np.ndarray:
    """Models beaten on one signal (ties half) over ``pool size - 1``, along the last axis."""
    x = np.asarray(values, dtype=float)
    present = ~np.isnan(x)
    ranks = rankdata(np.where(present, x, np.inf), "average")
    n_pool = x.shape[-1]
    out = (ranks - 1.0) / max(n_pool - 1, 1)
    return np.where(present, out, np.nan)


def signal_scale(
    values: np.ndarray, method: str, aggregate: str, reference: np.ndarray | None = None
) -> np.ndarray:
    """The per-signal quantity an aggregator averages (last axis = pool).

    For ``mean``, a ``reference`` (the point values) fixes the normalization's
    scale (see :func:`rating.composite.normalize.against`); the rank-based
    aggregators compare models within each replicate by definition.
    """
    if aggregate == "mean":
        return (
            normalize(values, method) if reference is None else against(values, reference, method)
        )
    if aggregate == "winrate":
        return percentile(values)
    if aggregate == "borda":
        return borda_points(values)
    raise ValueError(f"unknown aggregator {aggregate!r}; choose one of {', '.join(AGGREGATORS)}")


def coverage(present: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """Share of the (normalized) weight each model has a value for."""
    total = None
    for name, w in weights.items():
        part = w * np.asarray(present[name], dtype=float)
        total = part if total is None else total + part
    return total


def combine(scaled: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """Weighted mean over the signals each model has (``NaN`` when it has none)."""
    num = den = None
    for name, w in weights.items():
        x = np.asarray(scaled[name], dtype=float)
        have = ~np.isnan(x)
        n = np.where(have, w * x, 0.0)
        d = np.where(have, w, 0.0)
        num = n if num is None else num + n
        den = d if den is None else den + d
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
