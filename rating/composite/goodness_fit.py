"""Choosing the goodness recipe by leave-one-out, and correlations with intervals.

A recipe is a transform of each benchmark's 0-100 score (``identity``,
``sqrt``, ``logit``) and a weighting (``benchmark``: the six v2 tasks alike;
``subdomain``: MPG-style, each subdomain alike). :func:`leave_one_out` holds
out each model in turn, picks the recipe whose score correlates best with the
arena rating on the *other* models, calibrates it linearly on them and
predicts the held-out model's rating: the correlation of these predictions
with the ratings is an honest figure (no model is scored by a recipe fitted
on it). :func:`correlation_interval` bootstraps models for an interval on
Pearson's r, and on the difference of two r on the same models.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from rating.composite.goodness import transform

TRANSFORMS = ("identity", "sqrt", "logit")
WEIGHTINGS = ("benchmark", "subdomain")


def recipe_scores(
    tasks: np.ndarray, names: list[str], domains: dict[str, str], how: str, weighting: str
) -> np.ndarray:
    """Goodness of each row of ``tasks`` (``(m, k)`` benchmark scores 0-100, columns ``names``)."""
    t = transform(tasks, how)
    if weighting == "benchmark":
        return t.mean(axis=1)
    groups = sorted({domains.get(n, n) for n in names})
    cols = [[j for j, n in enumerate(names) if domains.get(n, n) == g] for g in groups]
    return np.mean([t[:, c].mean(axis=1) for c in cols], axis=0)


def _r(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.corrcoef(x, y)[0, 1])


@dataclass
class LooResult:
    chosen: Counter  # recipe -> folds that chose it
    predictions: np.ndarray
    r: float


def leave_one_out(
    tasks: np.ndarray, names: list[str], rating: np.ndarray, domains: dict[str, str], recipes=None
) -> LooResult:
    """Leave-one-out choice of the recipe and the correlation of its predictions."""
    recipes = recipes or [(h, w) for w in WEIGHTINGS for h in TRANSFORMS]
    scores = {rc: recipe_scores(tasks, names, domains, *rc) for rc in recipes}
    m = len(rating)
    pred = np.empty(m)
    chosen: Counter = Counter()
    for i in range(m):
        rest = np.arange(m) != i
        best = max(recipes, key=lambda rc: _r(scores[rc][rest], rating[rest]))
        chosen[best] += 1
        slope, icpt = np.polyfit(scores[best][rest], rating[rest], 1)
        pred[i] = slope * scores[best][i] + icpt
    return LooResult(chosen, pred, _r(pred, rating))


def correlation_interval(
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray | None = None,
    replicates: int = 2000,
    confidence: float = 0.95,
    seed: int = 42,
) -> dict:
    """Pearson r of ``x`` with ``y`` and a percentile-bootstrap interval over models;
    with ``z``, also r(z, y) and the interval of r(x, y) - r(z, y) (paired)."""
    rng = np.random.default_rng(seed)
    m = len(y)
    idx = rng.integers(0, m, size=(replicates, m))
    alpha = (1 - confidence) / 2

    def boot(a):
        return np.array([_r(a[k], y[k]) for k in idx])

    rx = boot(x)
    out = {"r": _r(x, y), "ci": [float(q) for q in np.nanquantile(rx, [alpha, 1 - alpha])]}
    if z is not None:
        rz = boot(z)
        diff = rx - rz
        out["other_r"] = _r(z, y)
        out["other_ci"] = [float(q) for q in np.nanquantile(rz, [alpha, 1 - alpha])]
        out["difference"] = out["r"] - out["other_r"]
        out["difference_ci"] = [float(q) for q in np.nanquantile(diff, [alpha, 1 - alpha])]
    return out
