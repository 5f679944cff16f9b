"""Per-signal normalization within the candidate pool.

Every function takes a value array whose last axis is the pool of models
(``NaN`` = the model has no value for this signal) and returns an array of the
same shape. Missing values stay ``NaN``. Higher is better on input and output.

* ``minmax``: ``(x - min) / (max - min)``, in [0, 1];
* ``percentile``: ``(rank - 1) / (n - 1)`` with average ranks for ties, in [0, 1];
* ``zscore``: ``(x - mean) / sd`` (population sd).

A signal that is constant over the pool (or present for one model only)
carries no information: ``minmax`` and ``percentile`` give 0.5, ``zscore`` 0.

With a ``reference`` (the point values of the pool), the scale is fixed by the
reference and applied as is to other values, e.g. the replicates of the same
signal: ``minmax`` uses the reference's min and max (a replicate may fall
outside [0, 1]), ``zscore`` its mean and sd, ``percentile`` the position among
the reference values (interpolated). So no model is pinned to a bound in
every replicate, and the interval shows the data's spread.
"""

from __future__ import annotations

import numpy as np

from rating.composite.ranks import rankdata

METHODS = ("minmax", "percentile", "zscore")


def minmax(values: np.ndarray) -> np.ndarray:
    """Min-max scaling along the last axis, ignoring ``NaN``.

    Examples
    --------
    >>> minmax(np.array([1.0, 3.0, np.nan, 2.0])).tolist()[:2]
    [0.0, 1.0]
    """
    x = np.asarray(values, dtype=float)
    present = ~np.isnan(x)
    if not present.any():
        return x.copy()
    lo = np.nanmin(np.where(present, x, np.inf), axis=-1, keepdims=True)
    hi = np.nanmax(np.where(present, x, -np.inf), axis=-1, keepdims=True)
    span = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(span > 0, (x - lo) / np.where(span > 0, span, 1.0), 0.5)
    return np.where(present, out, np.nan)


def percentile(values: np.ndarray) -> np.ndarray:
    """Percentile rank along the last axis: 0 = worst present, 1 = best.

    Examples
    --------
    >>> percentile(np.array([10.0, 30.0, 20.0, np.nan])).tolist()[:3]
    [0.0, 1.0, 0.5]
    """
    x = np.asarray(values, dtype=float)
    present = ~np.isnan(x)
    # rankdata ranks NaN last when told to keep them; mask them out afterwards.
    ranks = rankdata(np.where(present, x, np.inf), "average")
    n = present.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(n > 1, (ranks - 1.0) / np.maximum(n - 1, 1), 0.5)
    return np.where(present, out, np.nan)


def zscore(values: np.ndarray) -> np.ndarray:
    """Standard score along the last axis, ignoring ``NaN``.

    Examples
    --------
    >>> zscore(np.array([1.0, 3.0])).tolist()
    [-1.0, 1.0]
    """
    x = np.asarray(values, dtype=float)
    present = ~np.isnan(x)
    n = present.sum(axis=-1, keepdims=True)
    safe = np.where(present, x, 0.0)
    mean = safe.sum(axis=-1, keepdims=True) / np.maximum(n, 1)
    var = (np.where(present, x - mean, 0.0) ** 2).sum(axis=-1, keepdims=True) / np.maximum(n, 1)
    sd = np.sqrt(var)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(sd > 0, (x - mean) / np.where(sd > 0, sd, 1.0), 0.0)
    return np.where(present, out, np.nan)


def against(values: np.ndarray, reference: np.ndarray, method: str) -> np.ndarray:
    """Normalize ``values`` (``(..., n)``) on the scale the point ``reference`` (``(n,)``) fixes.

    Examples
    --------
    >>> against(np.array([[0.5, 3.5]]), np.array([1.0, 3.0]), "minmax").tolist()
    [[-0.25, 1.25]]
    """
    x = np.asarray(values, dtype=float)
    ref = np.asarray(reference, dtype=float)
    ref = ref[~np.isnan(ref)]
    present = ~np.isnan(x)
    if ref.size == 0:
        return np.full(x.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "minmax":
            lo, span = ref.min(), ref.max() - ref.min()
            out = (x - lo) / span if span > 0 else np.full(x.shape, 0.5)
        elif method == "zscore":
            sd = ref.std()
            out = (x - ref.mean()) / sd if sd > 0 else np.zeros(x.shape)
        elif method == "percentile":
            grid = np.sort(ref)
            if grid.size > 1 and grid[-1] > grid[0]:
                levels = percentile(grid)
                out = np.interp(np.where(present, x, grid[0]), grid, levels)
            else:
                out = np.full(x.shape, 0.5)
        else:
            raise ValueError(
                f"unknown normalization {method!r}; choose one of {', '.join(METHODS)}"
            )
    return np.where(present, out, np.nan)


def normalize(values: np.ndarray, method: str = "minmax") -> np.ndarray:
    """Dispatch to one of :data:`METHODS`; unknown names raise ``ValueError``."""
    if method == "minmax":
        return minmax(values)
    if method == "percentile":
        return percentile(values)
    if method == "zscore":
        return zscore(values)
    raise ValueError(f"unknown normalization {method!r}; choose one of {', '.join(METHODS)}")
