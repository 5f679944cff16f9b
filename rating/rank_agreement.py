"""How closely two rankings of the same models agree: rank correlations with intervals.

Used to set a judge's ranking against the human one. Both rankings come with
bootstrap replicates of their ratings (each snapshot resamples its own votes);
the two sets of votes are disjoint, so replicate ``r`` of one and replicate
``r`` of the other are an independent draw of the pair, and the correlation of
each such pair gives the correlation's bootstrap distribution.

The interval is the basic (reflected) bootstrap interval ``(2v - q_high, 2v -
q_low)``, not the percentile one: a replicate's ratings carry the resampling
noise on top of the estimate's own, so replicate correlations sit below the
point value (on the LLMFAO data, GPT-4 against the crowd: rho 0.71, percentile
interval 0.59 to 0.73). The shift of the replicates from the point estimates
how far the point itself sits below the correlation of the true strengths,
and the basic interval corrects for it; it is clipped to [-1, 1].
"""

from __future__ import annotations

import numpy as np
from scipy import stats

#: The rank correlations reported, by name.
COEFFICIENTS = ("spearman", "kendall")


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row pair of two (rounds, models) arrays (mid-ranks for ties)."""
    rx = stats.rankdata(x, axis=1)
    ry = stats.rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (rx * ry).sum(axis=1) / den, np.nan)


def _kendall_rows(x: np.ndarray, y: np.ndarray, chunk_cells: int = 2_000_000) -> np.ndarray:
    """Kendall's tau-b of each row pair of two (rounds, models) arrays.

    With ``s`` the signs of the differences over every pair of models,
    tau-b = sum(s_x s_y) / sqrt(sum(s_x^2) sum(s_y^2)) (ties give a zero sign);
    rows are taken in chunks of about ``chunk_cells`` pair cells, so memory stays
    bounded for many models.
    """
    n = x.shape[1]
    i, j = np.triu_indices(n, k=1)
    out = np.empty(x.shape[0])
    step = max(1, chunk_cells // max(1, i.size))
    for start in range(0, x.shape[0], step):
        sx = np.sign(x[start : start + step, i] - x[start : start + step, j])
        sy = np.sign(y[start : start + step, i] - y[start : start + step, j])
        den = np.sqrt((sx * sx).sum(axis=1) * (sy * sy).sum(axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start : start + step] = np.where(den > 0, (sx * sy).sum(axis=1) / den, np.nan)
    return out


def _point(x: np.ndarray, y: np.ndarray) -> dict[str, float | None]:
    one = {
        "spearman": _spearman_rows(x[None, :], y[None, :])[0],
        "kendall": _kendall_rows(x[None, :], y[None, :])[0],
    }
    return {k: (None if not np.isfinite(v) else float(v)) for k, v in one.items()}


def rank_correlation(
    x: np.ndarray,
    y: np.ndarray,
    x_replicates: np.ndarray | None = None,
    y_replicates: np.ndarray | None = None,
    *,
    confidence: float = 0.95,
) -> dict:
    """Spearman's rho and Kendall's tau-b between two ratings of the same models.

    Parameters
    ----------
    x, y : array of float, shape (models,)
        The two point ratings, model ``k`` at position ``k`` in both.
    x_replicates, y_replicates : array of float, shape (rounds, models), optional
        Bootstrap replicates of each rating, columns as in ``x`` and ``y``. With
        both, the first ``min(rounds_x, rounds_y)`` rows are paired and each
        pair's correlation gives a basic bootstrap interval (module docstring).
    confidence : float
        The interval's coverage.

    Returns
    -------
    dict
        ``models`` (how many), ``rounds`` (replicate pairs used, 0 without
        replicates), ``interval`` (its kind, with replicates), and per coefficient
        ``{"value", "low", "high"}`` (``None``
        where undefined: fewer than three models, or no replicates for the
        interval).
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("the two ratings must name the same models")
    n = x.size
    out: dict = {"models": int(n), "rounds": 0}
    empty = {"value": None, "low": None, "high": None}
    if n < 3:
        return out | {k: dict(empty) for k in COEFFICIENTS}
    point = _point(x, y)
    out |= {k: {**empty, "value": point[k]} for k in COEFFICIENTS}
    if x_replicates is None or y_replicates is None:
        return out
    xr, yr = np.asarray(x_replicates, dtype=float), np.asarray(y_replicates, dtype=float)
    if xr.ndim != 2 or yr.ndim != 2 or xr.shape[1] != n or yr.shape[1] != n:
        raise ValueError("replicates must have one column per model")
    rounds = min(xr.shape[0], yr.shape[0])
    if rounds < 2:
        return out
    xr, yr = xr[:rounds], yr[:rounds]
    alpha = (1.0 - confidence) / 2.0
    out["rounds"] = int(rounds)
    out["interval"] = "basic bootstrap"
    for name, draws in (("spearman", _spearman_rows(xr, yr)), ("kendall", _kendall_rows(xr, yr))):
        draws = draws[np.isfinite(draws)]
        value = out[name]["value"]
        if draws.size and value is not None:
            q_low, q_high = np.quantile(draws, [alpha, 1.0 - alpha])
            out[name]["low"] = float(max(-1.0, 2.0 * value - q_high))
            out[name]["high"] = float(min(1.0, 2.0 * value - q_low))
    return out
