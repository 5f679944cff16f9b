"""Ranks and tiers from confidence intervals.

Both functions take arrays in any order and answer in that same order, so a
caller can pass the columns of a table without sorting them first.
"""

from __future__ import annotations

import numpy as np


def rank_upper_bound(ci_low: np.ndarray, ci_high: np.ndarray) -> np.ndarray:
    """Rank (UB): 1 + the number of models whose lower bound is above this one's upper bound.

    Parameters
    ----------
    ci_low, ci_high : array_like, shape (n,)
        Lower and upper interval bounds.

    Returns
    -------
    numpy.ndarray of int, shape (n,)
        The best rank each model can claim given the intervals.

    Examples
    --------
    >>> rank_upper_bound([10, 5, 0], [20, 12, 4]).tolist()
    [1, 1, 3]
    """
    low = np.asarray(ci_low, dtype=float)
    high = np.asarray(ci_high, dtype=float)
    # For each model, count lower bounds strictly above its upper bound.
    sorted_low = np.sort(low)
    above = low.size - np.searchsorted(sorted_low, high, side="right")
    return (1 + above).astype(int)


def assign_tiers(rating: np.ndarray, ci_low: np.ndarray, ci_high: np.ndarray) -> np.ndarray:
    """Tiers (1 = best) by walking down the models in rating order.

    The first model leads tier 1. A new tier starts at the first model whose
    upper bound is below the lower bound of its current tier's leader; that
    model leads the new tier. Models with equal rating keep their input order.

    Parameters
    ----------
    rating, ci_low, ci_high : array_like, shape (n,)

    Returns
    -------
    numpy.ndarray of int, shape (n,)
        The tier of each model, in input order.

    Examples
    --------
    >>> assign_tiers([30, 25, 10, 8], [20, 15, 5, 2], [40, 35, 15, 14]).tolist()
    [1, 1, 2, 2]
    """
    rating = np.asarray(rating, dtype=float)
    low = np.asarray(ci_low, dtype=float)
    high = np.asarray(ci_high, dtype=float)
    order = np.argsort(-rating, kind="stable")
    tiers = np.empty(rating.size, dtype=int)
    tier, leader_low = 0, np.inf
    for idx in order:
        if tier == 0 or high[idx] < leader_low:
            tier += 1
            leader_low = low[idx]
        tiers[idx] = tier
    return tiers
