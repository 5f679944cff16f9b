"""Online Elo in time order, for comparison with the maximum-likelihood fits.

Each battle moves both ratings by ``K·(score − expected)`` with
``expected = 1 / (1 + 10^((R_other − R_self)/400))``; a tie scores 1/2.
Unlike Bradley-Terry the result depends on the order of the battles and on K,
so it needs the battles themselves (O(battles)), not the aggregated counts.
"""

from __future__ import annotations

import numpy as np

BASE = 10.0
SCALE = 400.0
INIT = 1000.0


def online(
    left, right, outcome, m: int, k: float = 4.0, *, init: float = INIT, repeat=None
) -> np.ndarray:
    """Online Elo ratings after playing the battles in the given order.

    Parameters
    ----------
    left, right : array_like of int, shape (N,)
        The two models of each battle, in time order.
    outcome : array_like of int, shape (N,)
        0 = ``left`` won, 1 = ``right`` won, 2 or 3 = tie.
    m : int
        Number of models.
    k : float
        The K factor (default 4).
    repeat : numpy.ndarray of int, shape (R, N), optional
        For a bootstrap: how often each battle occurs in each of R replicates.
        The replicates are played side by side (vectorised across R), each
        battle applied as many times as it was drawn, in time order.

    Returns
    -------
    numpy.ndarray, shape (m,) or (R, m)
    """
    left = np.asarray(left, np.int64)
    right = np.asarray(right, np.int64)
    score = np.select([np.asarray(outcome) == 0, np.asarray(outcome) == 1], [1.0, 0.0], 0.5)
    if repeat is None:
        rating = np.full(m, float(init))
        ln = np.log(BASE) / SCALE
        for a, b, s in zip(left.tolist(), right.tolist(), score.tolist()):
            ra, rb = rating[a], rating[b]
            e = 1.0 / (1.0 + np.exp(ln * (rb - ra)))
            rating[a] = ra + k * (s - e)
            rating[b] = rb - k * (s - e)
        return rating
    repeat = np.asarray(repeat)
    reps = repeat.shape[0]
    rating = np.full((reps, m), float(init))
    rows = np.arange(reps)
    for t in range(left.size):
        times = repeat[:, t]
        for c in range(1, int(times.max()) + 1 if times.size else 1):
            sel = rows[times >= c]
            ra, rb = rating[sel, left[t]], rating[sel, right[t]]
            delta = k * (score[t] - 1.0 / (1.0 + BASE ** ((rb - ra) / SCALE)))
            rating[sel, left[t]] = ra + delta
            rating[sel, right[t]] = rb - delta
    return rating
