"""Style control: Bradley-Terry with per-battle style covariates (contextual BT).

Model, for a battle of model ``a`` against model ``b`` with style features ``z``::

    P(a beats b) = sigmoid(theta_a - theta_b + gamma · z)

``z`` holds one relative difference ``(a - b) / (a + b)`` per feature (answer
length in tokens, Markdown headers, list items, bold spans: LMArena's "V1"
set, :mod:`rating.style_features`), scaled over the data set to root mean
square 1 (not centred: see :func:`standardize`). ``theta`` is then a model's
strength *at equal style*, and
``gamma_k`` is the log-odds a vote moves per standard deviation of feature
``k``. Ties count half a win each way (as in the plain BT fit), battle weights
multiply each battle's log-likelihood.

Objective (maximised): ``sum_b w_b [y_b d_b - log(1 + e^{d_b})] -
penalty/2 · |gamma|^2`` with ``d_b`` the logit above. The L2 penalty is on
``gamma`` only and is in units of the *summed* log-likelihood: the default
:data:`DEFAULT_PENALTY` = 1 is a N(0, 1) prior on each coefficient (a
standardized feature moving the log-odds by more than 2 is implausible), whose
pull on the estimate is ``O(1/N)``. arena-rank's ``reg`` acts on the *mean*
log-likelihood, i.e. ``penalty = reg · N``: its default ``reg = 1`` on 200k
battles is a prior with sd 0.002 and shrinks a planted 0.35 to about 0.04.

Speed: rows with the same ``(a, b, z)`` (after orienting every battle so
``a < b``) are merged into sufficient statistics (win mass, battle mass and
the second moments the sandwich needs), then damped Newton steps use the full
``(m + k) x (m + k)`` information, built with ``bincount`` over pairs and
rows: a few passes over the rows per step. Intervals:

* ``"sandwich"`` (the default for style control, as LMArena): ``H^-1 M H^-1``
  with ``H`` the penalised information and ``M`` the sum of outer products of
  the per-battle scores (centred by the penalty's gradient, as arena-rank);
* ``"bootstrap"``: battles resampled with replacement (multinomial over the
  merged rows), each replicate refitted by chord steps from the point fit with
  the point fit's information held fixed; percentile intervals;
* ``"none"``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from rating import __version__, bt, graph
from rating.blas import single_threaded
from rating.errors import RatingError
from rating.snapshot import Result, plain_number
from rating.style_fit import CI_METHODS, DEFAULT_PENALTY, StyleFit, fit_style
from rating.style_rows import StyleBattles, pair_ids, standardize
from rating.tiers import assign_tiers, rank_upper_bound

__all__ = [
    "CI_METHODS",
    "DEFAULT_PENALTY",
    "StyleBattles",
    "StyleFit",
    "fit_style",
    "rate_style",
    "standardize",
]


def _position(rating: np.ndarray) -> np.ndarray:
    """1 + the number of models rated strictly higher."""
    s = np.sort(rating)
    return 1 + rating.size - np.searchsorted(s, rating, side="right")


@single_threaded
def rate_style(
    battles: StyleBattles,
    *,
    ci: str = "sandwich",
    rounds: int = 100,
    seed: int = 42,
    confidence: float = 0.95,
    penalty: float = DEFAULT_PENALTY,
    anchor: tuple[str, float] | None = None,
    min_battles: float = 0,
    prior: float | None = None,
    scope: dict | None = None,
    progress=None,
) -> Result:
    """Style-controlled ratings of one scope, as a :class:`rating.snapshot.Result`.

    Ratings, intervals, rank (UB) and tiers are those of the style-controlled
    strengths; ``meta["style"]`` holds the coefficients with their intervals
    (per standardized feature), the standardization, the penalty, and per model
    the rating and position under plain BT on the same battles and weights, and
    the change in position (``+2``: two places higher with style control).
    Models with fewer than ``min_battles`` battles are left out (and their
    battles with them); the comparison graph must be connected.
    """
    if not 0 < confidence < 1:
        raise RatingError("confidence must be between 0 and 1")
    if ci == "bootstrap" and rounds <= 0:
        ci = "none"
    sub, few = _rated_battles(battles, min_battles)
    models, m = sub.models, len(sub.models)
    if anchor is not None and anchor[0] not in models:
        raise RatingError(f"anchor model {anchor[0]!r} is not among the rated models")
    fit = fit_style(
        sub, penalty=penalty, ci=ci, rounds=rounds, seed=seed, prior=prior, progress=progress
    )
    a_idx = None if anchor is None else models.index(anchor[0])
    rating = bt.to_rating(fit.theta)
    plain_rating = bt.to_rating(_plain_bt(sub, m, fit.prior))
    if a_idx is not None:
        rating += anchor[1] - rating[a_idx]
        plain_rating += anchor[1] - plain_rating[a_idx]
    low, high, reps, g_bounds = _bounds(fit, rating, a_idx, anchor, confidence)
    meta = {
        "method": "bt",
        "style_control": True,
        "ci": ci,
        "confidence": confidence,
        "bootstrap_rounds": rounds if ci == "bootstrap" else 0,
        "seed": seed if ci == "bootstrap" else None,
        "anchor": None if anchor is None else {"model": anchor[0], "rating": anchor[1]},
        "scope": scope or {"category": "", "source": "", "rater_group": ""},
        "digest": _digest(sub),
        "battles": plain_number(round(float(sub.weight.sum()), 6)),
        "battle_rows": int(sub.a.size),
        "positional": False,
        "min_battles": min_battles,
        "models_rated": m,
        "excluded": {
            "count": len(few),
            "models": few,
            "reason": f"fewer than {min_battles} battles",
        },
        "rating_scale": "1000 + 400*log10(strength)",
        "package_version": __version__,
        "prior": fit.prior,
        "iterations": fit.iterations,
        "grad_norm": fit.grad_norm,
        "style": _style_meta(sub, fit, penalty, g_bounds, rating, plain_rating),
    }
    wins, losses, ties = _tallies(sub, m)
    order = np.lexsort((np.array(models, dtype=object).astype(str), -rating))
    rank, tier = rank_upper_bound(low, high), assign_tiers(rating, low, high)
    pick = [rating, low, high, rank, tier, wins + losses + ties, wins, losses, ties]
    return Result(
        "bt",
        [models[k] for k in order],
        *(v[order] for v in pick),
        meta,
        None if reps is None else reps[:, order],
        None,
    )


def _rated_battles(battles: StyleBattles, min_battles: float):
    """The battles among models with at least ``min_battles`` (re-indexed), and the
    names of the models left out; refuses a disconnected comparison graph."""
    all_models = list(battles.models)
    n_all = len(all_models)
    played = np.bincount(battles.a, battles.weight, n_all) + np.bincount(
        battles.b, battles.weight, n_all
    )
    keep = (played > 0) & (played >= min_battles)
    few = [all_models[k] for k in np.flatnonzero((played > 0) & ~keep)]
    sel = keep[battles.a] & keep[battles.b]
    new = np.cumsum(keep) - 1
    models = [all_models[k] for k in np.flatnonzero(keep)]
    if not models or not sel.any():
        raise RatingError("no battles to rate")
    sub = StyleBattles(
        new[battles.a[sel]],
        new[battles.b[sel]],
        battles.outcome[sel],
        battles.z[sel],
        battles.weight[sel],
        models,
        battles.features,
    )
    comp = graph.components(sub.a, sub.b, len(models))
    if comp.max() > 0:
        groups = [[models[k] for k in np.flatnonzero(comp == c)] for c in range(comp.max() + 1)]
        raise RatingError(
            f"the comparison graph is not connected ({len(groups)} components); style control "
            "needs one: " + "; ".join(", ".join(g[:5]) for g in groups[:4])
        )
    return sub, few


def _bounds(fit: StyleFit, rating, a_idx, anchor, confidence):
    """Rating bounds, rating replicates (bootstrap) and the coefficients' (low, high, se)."""
    m = rating.size
    if fit.cov is not None:
        zq = ndtri(0.5 + confidence / 2.0)
        cov_r = fit.cov[:m, :m] * bt.POINTS_PER_LOG_UNIT**2
        var = np.diag(cov_r).copy()
        if a_idx is not None:
            var = var + cov_r[a_idx, a_idx] - 2.0 * cov_r[:, a_idx]
        se = np.sqrt(np.maximum(var, 0.0))
        g_se = np.sqrt(np.maximum(np.diag(fit.cov)[m:], 0.0))
        g = (fit.gamma - zq * g_se, fit.gamma + zq * g_se, g_se)
        return rating - zq * se, rating + zq * se, None, g
    if fit.replicates is not None:
        reps = bt.to_rating(fit.replicates[:, :m])
        if a_idx is not None:
            reps += (anchor[1] - reps[:, a_idx])[:, None]
        else:
            reps += rating.mean() - reps.mean(axis=1, keepdims=True)
        a = (1.0 - confidence) / 2.0
        low, high = np.quantile(reps, [a, 1 - a], axis=0)
        g_low, g_high = np.quantile(fit.replicates[:, m:], [a, 1 - a], axis=0)
        return low, high, reps, (g_low, g_high, fit.replicates[:, m:].std(axis=0, ddof=1))
    return rating.copy(), rating.copy(), None, (None, None, None)


def _style_meta(sub: StyleBattles, fit: StyleFit, penalty, g_bounds, rating, plain_rating):
    """``meta["style"]``: coefficients with intervals, the scaling, and plain BT per model."""
    g_low, g_high, g_se = g_bounds
    pos, plain_pos = _position(rating), _position(plain_rating)
    opt = lambda v, c: None if v is None else float(v[c])  # noqa: E731 (a one-line local helper)
    return {
        "features": list(sub.features),
        "penalty": penalty,
        "coefficients": {
            name: {
                "gamma": float(fit.gamma[c]),
                "ci_low": opt(g_low, c),
                "ci_high": opt(g_high, c),
                "se": opt(g_se, c),
            }
            for c, name in enumerate(sub.features)
        },
        "units": "log-odds per root mean square of (a - b)/(a + b)",
        "standardization": {
            "mean": [float(v) for v in fit.mean],
            "sd": [float(v) for v in fit.sd],
        },
        "plain_bt": {
            name: {
                "rating": float(plain_rating[k]),
                "position": int(plain_pos[k]),
                "style_position": int(pos[k]),
                "rank_change": int(plain_pos[k] - pos[k]),
            }
            for k, name in enumerate(sub.models)
        },
    }


def _digest(s: StyleBattles) -> str:
    """A short hash of the battles rated (models, outcomes, features, weights)."""
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    h.update("\x00".join(s.models).encode())
    for arr in (s.a, s.b, s.outcome, s.z, s.weight):
        h.update(np.ascontiguousarray(arr).tobytes())
    return "battles-blake2b:" + h.hexdigest()


def _plain_bt(s: StyleBattles, m: int, prior: float) -> np.ndarray:
    """Plain Bradley-Terry strengths of the same battles and weights (pair counts)."""
    lo, hi = np.minimum(s.a, s.b), np.maximum(s.a, s.b)
    pid, pair = pair_ids(lo * m + hi, m)
    y_lo = np.where(s.a == lo, s.outcome, 1.0 - s.outcome)
    w = np.bincount(pair, s.weight * y_lo, pid.size)
    n = np.bincount(pair, s.weight, pid.size)
    return bt.fit(pid // m, pid % m, w, n, m, prior=prior).theta


def _tallies(s: StyleBattles, m: int):
    w = s.weight
    a_won = w * (s.outcome == 1.0)
    b_won = w * (s.outcome == 0.0)
    tie = w * (s.outcome == 0.5)
    wins = np.bincount(s.a, a_won, m) + np.bincount(s.b, b_won, m)
    losses = np.bincount(s.a, b_won, m) + np.bincount(s.b, a_won, m)
    ties = np.bincount(s.a, tie, m) + np.bincount(s.b, tie, m)
    return wins, losses, ties
