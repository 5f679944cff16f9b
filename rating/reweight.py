"""LMArena's inverse pair-frequency weights.

A model pair that was sampled often (a new flagship against its predecessor,
say) dominates a plain fit: every one of its battles counts as much as a
battle of a rare pair. LMArena reweights each battle by ``1 / max(pair count,
m)`` (``m`` = 50 by default), so every pair with at least ``m`` battles carries
the same total weight, and pairs with fewer keep one weight per battle of
``1/m``. The weights are then scaled to mean 1 over the battles (so a penalty
in "per battle" units keeps its meaning; the sandwich covariance does not
change when all weights are scaled).

Effect on intervals: the weighted fit is an M-estimator; only the sandwich
(``H^-1 M H^-1`` with weighted information and squared weighted scores) is
valid for it: the inverse information alone would treat the weights as
counts. Down-weighting frequent pairs spends their information, so the
intervals of models whose battles are concentrated in a few frequent pairs
widen, and those of models compared against many rarely played opponents
narrow a little relative to them.
"""

from __future__ import annotations

import numpy as np

from rating.errors import RatingError

DEFAULT_MIN_PAIR_COUNT = 50


def inverse_pair_weights(a, b, m: int, min_pair_count: float = DEFAULT_MIN_PAIR_COUNT):
    """Per-battle weights ``1 / max(count of the battle's unordered pair, min_pair_count)``.

    Parameters
    ----------
    a, b : array_like of int, shape (n,)
        The two models of each battle (either order).
    m : int
        Number of models.
    min_pair_count : float
        The floor ``m`` of LMArena's rule (default 50).

    Returns
    -------
    numpy.ndarray, shape (n,)
        Weights with mean 1.

    Examples
    --------
    >>> w = inverse_pair_weights([0, 0, 0, 1], [1, 1, 1, 2], 3, min_pair_count=1)
    >>> np.round(w, 3).tolist()
    [0.667, 0.667, 0.667, 2.0]
    """
    if min_pair_count <= 0:
        raise RatingError("the minimum pair count of --reweight must be > 0")
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    if a.size == 0:
        return np.ones(0)
    code = np.minimum(a, b) * m + np.maximum(a, b)
    _, inv, counts = np.unique(code, return_inverse=True, return_counts=True)
    w = 1.0 / np.maximum(counts[inv.ravel()], float(min_pair_count))
    return w / w.mean()
