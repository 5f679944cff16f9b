"""Ranks along the last axis, in numpy (what ``scipy.stats.rankdata`` gives, for the
``min`` and ``average`` methods).

The composite ranks every replicate row at once; importing ``scipy.stats`` for
this alone cost ``arena rank`` about a second of start-up, more than the ranking.
"""

from __future__ import annotations

import numpy as np


def rankdata(values, method: str = "average") -> np.ndarray:
    """Ascending ranks (1 = smallest) along the last axis; ties share ``min`` or ``average``.

    Values must not be ``NaN`` (map them to ``inf`` or ``-inf`` first); equal values,
    infinities included, are ties.

    Examples
    --------
    >>> rankdata(np.array([10.0, 30.0, 20.0, 20.0])).tolist()
    [1.0, 4.0, 2.5, 2.5]
    >>> rankdata(np.array([[3.0, 1.0, 1.0], [np.inf, 0.0, np.inf]]), "min").tolist()
    [[3, 1, 1], [2, 1, 2]]
    """
    if method not in ("min", "average"):
        raise ValueError(f"method must be 'min' or 'average', got {method!r}")
    x = np.asarray(values, dtype=float)
    if x.ndim == 0:
        raise ValueError("rankdata needs at least one axis")
    n = x.shape[-1]
    out_type = int if method == "min" else float
    if n == 0:
        return np.empty(x.shape, dtype=out_type)
    order = np.argsort(x, axis=-1, kind="stable")
    s = np.take_along_axis(x, order, axis=-1)
    pos = np.broadcast_to(np.arange(n), s.shape)
    starts = np.ones(s.shape, dtype=bool)
    starts[..., 1:] = s[..., 1:] != s[..., :-1]
    first = np.maximum.accumulate(np.where(starts, pos, 0), axis=-1)
    if method == "min":
        ranked = first + 1
    else:
        ends = np.ones(s.shape, dtype=bool)
        ends[..., :-1] = starts[..., 1:]
        last = np.minimum.accumulate(np.where(ends, pos, n - 1)[..., ::-1], axis=-1)[..., ::-1]
        ranked = (first + last) / 2.0 + 1.0
    out = np.empty(s.shape, dtype=out_type)
    np.put_along_axis(out, order, ranked, axis=-1)
    return out
