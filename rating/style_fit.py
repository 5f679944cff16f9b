"""Style control's fit: damped Newton on merged rows, sandwich and bootstrap intervals.

Works on :class:`rating.style_rows.Rows` (see :mod:`rating.style` for the
model, the penalty's units and the interval methods). Each Newton step builds
the full ``(m + k) x (m + k)`` information with ``bincount`` over pairs and
rows; the bootstrap refits replicates by chord steps from the point fit with
its information held fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from rating import bt, graph
from rating.blas import single_threaded
from rating.errors import RatingError
from rating.style_rows import Rows, StyleBattles, feature_scale, merge_rows

#: L2 penalty on the standardized style coefficients, on the summed log-likelihood.
DEFAULT_PENALTY = 1.0
CI_METHODS = ("sandwich", "bootstrap", "none")


def logits(rows: Rows, x):
    """Each row's logit ``theta_a - theta_b + gamma · z`` at parameters ``x = (theta, gamma)``."""
    m = rows.m
    return x[:m][rows.a] - x[:m][rows.b] + rows.z @ x[m:]


def penalties(m, k, penalty, prior):
    """The L2 penalty's diagonal: ``prior`` on the ``m`` thetas, ``penalty`` on the ``k`` gammas."""
    return np.r_[np.full(m, float(prior)), np.full(k, float(penalty))]


def _gradient(rows, win, mass, x, pen, p):
    r = win - mass * p
    g_theta = rows.per_model(rows.per_pair(r))
    return np.concatenate([g_theta, rows.z.T @ r]) - pen * x


def information(rows: Rows, v: np.ndarray, pen=None) -> np.ndarray:
    """``sum_rows v · x xᵀ`` (+ ``diag(pen)``) with ``x = (e_a - e_b, z)``: (m+k, m+k)."""
    m, k = rows.m, rows.z.shape[1]
    buf = np.empty((v.size, k + 1))
    buf[:, 0] = v
    vz = buf[:, 1:]
    np.multiply(rows.z, v[:, None], out=vz)
    pp = rows.per_pair(buf)
    vq = pp[:, 0]
    h = np.zeros((m + k, m + k))
    hm = h[:m, :m]
    np.add.at(hm, (rows.pa, rows.pb), -vq)
    np.add.at(hm, (rows.pb, rows.pa), -vq)
    hm[np.diag_indices(m)] += np.bincount(rows.pa, vq, m) + np.bincount(rows.pb, vq, m)
    cross = rows.per_model(pp[:, 1:])
    h[:m, m:] = cross
    h[m:, :m] = cross.T
    h[m:, m:] = rows.z.T @ vz
    if pen is not None:
        h[np.diag_indices(m + k)] += pen
    return h


def fit_rows(rows: Rows, penalty, prior=0.0, x0=None, win=None, mass=None, tol=1e-9):
    """Damped Newton ascent of the penalised contextual BT likelihood on merged rows.

    Each step solves ``(H + F) δ = g`` (``F`` pins the common shift of theta)
    and halves the step until the objective does not fall; the logits of the
    accepted point are reused for the next gradient (one pass over the rows
    for the logits, one for the objective, one for gradient and information).

    Returns
    -------
    x : numpy.ndarray, shape (m + k,)
        Centred ``theta`` then ``gamma``.
    iterations : int
    grad_norm : float
    """
    m, k = rows.m, rows.z.shape[1]
    win = rows.win if win is None else win
    mass = rows.mass if mass is None else mass
    pen = penalties(m, k, penalty, prior)
    x = np.zeros(m + k) if x0 is None else np.array(x0, float)
    x[:m] -= x[:m].mean()
    fixed = np.zeros((m + k, m + k))
    fixed[:m, :m] = 1.0

    def objective(x, d):
        return float(win @ d - mass @ np.logaddexp(0.0, d) - 0.5 * (pen * x) @ x)

    d = logits(rows, x)
    ll = objective(x, d)
    it = 0
    for it in range(1, 101):
        p = expit(d)
        g = _gradient(rows, win, mass, x, pen, p)
        if np.linalg.norm(g) <= tol:
            it -= 1
            break
        step = np.linalg.solve(information(rows, mass * p * (1.0 - p), pen) + fixed, g)
        dstep = rows.scatter(step)
        t = 1.0
        while True:
            cand_d = d + t * dstep
            cand = x + t * step
            ll_new = objective(cand, cand_d)
            if ll_new >= ll - 1e-12 * max(1.0, abs(ll)) or t < 1e-8:
                break
            t *= 0.5
        x, d, ll = cand, cand_d, ll_new
        if np.max(np.abs(t * step)) < 1e-14:
            break
    x[:m] -= x[:m].mean()
    g = _gradient(rows, win, mass, x, pen, expit(logits(rows, x)))
    return x, it, float(np.linalg.norm(g))


def sandwich(rows: Rows, x, penalty, prior, n_battles) -> np.ndarray:
    """Sandwich covariance ``H^-1 M H^-1`` of ``(theta, gamma)``, shape (m+k, m+k).

    ``M`` sums each battle's outer product of scores ``w (y - p) x``, from the
    rows' second moments, minus the penalty gradient's share
    ``(penalty·gamma)(penalty·gamma)ᵀ / n`` (the scores then sum to 0, as in
    arena-rank). The common shift of ``theta`` is pinned (sum 0).
    """
    m, k = rows.m, rows.z.shape[1]
    pen = penalties(m, k, penalty, prior)
    p = expit(logits(rows, x))
    bread = information(rows, rows.mass * p * (1.0 - p), pen)
    s2 = rows.w2y2 - 2.0 * p * rows.w2y + p * p * rows.w2
    meat = information(rows, s2)
    meat -= np.outer(pen * x, pen * x) / max(n_battles, 1.0)
    bread[:m, :m] += 1.0
    inv = np.linalg.inv(bread)
    return inv @ meat @ inv


def bootstrap(
    rows: Rows,
    x_hat,
    penalty,
    prior,
    *,
    rounds,
    seed,
    tol=1e-5,
    max_chord=30,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """``(theta, gamma)`` of ``rounds`` battle-resampling replicates, shape (rounds, m+k).

    Each round draws ``n`` battles with replacement (a multinomial over the
    merged rows, proportional to their battle counts), then takes chord steps
    ``H0^-1 g`` from the point fit with the point fit's information ``H0``
    fixed (the first step is linear in the draw: no logits needed). The chord
    method contracts the error by a factor ``rho`` per step (the relative
    difference between a replicate's information and ``H0``, a few percent),
    so a replicate stops when the error left, estimated as
    ``|step|·rho/(1 - rho)`` with ``rho`` the ratio of the last two steps, is
    below ``tol`` (1e-5 natural-log units = 0.002 rating points); a replicate
    still moving after ``max_chord`` steps is finished by Newton steps.
    """
    m = rows.m
    rng = np.random.default_rng(seed)
    n = int(np.rint(rows.count.sum()))
    unit = np.divide(rows.mass, rows.count, out=np.zeros_like(rows.mass), where=rows.count > 0)
    unit_win = np.divide(rows.win, rows.count, out=np.zeros_like(rows.win), where=rows.count > 0)
    battle_row = np.repeat(np.arange(rows.count.size), rows.count.astype(np.int64))
    pen = penalties(m, rows.z.shape[1], penalty, prior)
    p0 = expit(logits(rows, x_hat))
    h0 = information(rows, rows.mass * p0 * (1.0 - p0), pen)
    h0[:m, :m] += 1.0
    h0_inv = np.linalg.inv(h0)
    out = np.empty((rounds, x_hat.size))
    # At the point fit every row's score per battle is e = unit_win - unit·p0: the
    # first step of every replicate is linear in its battle counts.
    e0 = unit_win - unit * p0
    merged = rows.count.size < n
    for r in range(rounds):
        draw = rng.integers(0, n, n)
        times = np.bincount(battle_row[draw] if merged else draw, minlength=rows.count.size)
        mass, win = unit * times, unit_win * times
        te = times * e0
        g = np.concatenate([rows.per_model(rows.per_pair(te)), rows.z.T @ te]) - pen * x_hat
        step = h0_inv @ g
        x = x_hat + step
        last = float(np.abs(step).max())
        for _ in range(max_chord):
            step = h0_inv @ _gradient(rows, win, mass, x, pen, expit(logits(rows, x)))
            size = float(np.abs(step).max())
            step /= max(1.0, size)
            x += step
            # the chord method contracts by about rho per step: what is left is
            # about size·rho/(1 - rho)
            rho = min(size / last, 0.5) if last > 0 else 0.0
            if size * rho / (1.0 - rho) < tol or size < 1e-12:
                break
            last = size
        else:
            x, _, _ = fit_rows(rows, penalty, prior, x0=x, win=win, mass=mass)
        x[:m] -= x[:m].mean()
        out[r] = x
        if progress is not None:
            progress(1)
    return out


def _needs_prior(rows: Rows) -> bool:
    """True when some model never won or never lost (plain BT's maximum is then infinite)."""
    m = rows.m
    w_ab = rows.per_pair(rows.win)
    w_ba = rows.per_pair(rows.mass) - w_ab
    won = np.bincount(rows.pa, w_ab, m) + np.bincount(rows.pb, w_ba, m)
    lost = np.bincount(rows.pa, w_ba, m) + np.bincount(rows.pb, w_ab, m)
    played = (won + lost) > 0
    if np.any(played & ((won <= 0) | (lost <= 0))):
        return True
    return not graph.mle_exists(rows.pa, rows.pb, w_ab, w_ba, m)


@dataclass
class StyleFit:
    """A point fit with its covariance or replicates (natural-log units, centred theta)."""

    theta: np.ndarray
    gamma: np.ndarray
    cov: np.ndarray | None
    replicates: np.ndarray | None
    iterations: int
    grad_norm: float
    prior: float
    mean: np.ndarray
    sd: np.ndarray


@single_threaded
def fit_style(
    battles: StyleBattles,
    *,
    penalty: float = DEFAULT_PENALTY,
    ci: str = "sandwich",
    rounds: int = 100,
    seed: int = 42,
    prior: float | None = None,
    progress=None,
) -> StyleFit:
    """Fit contextual Bradley-Terry to ``battles`` (every model in ``battles.models``).

    Parameters
    ----------
    battles : StyleBattles
    penalty : float
        L2 penalty on the standardized coefficients (summed log-likelihood units).
    ci : {"sandwich", "bootstrap", "none"}
    rounds, seed : bootstrap rounds and seed.
    prior : float, optional
        Ridge prior on ``theta`` (default: none, or :data:`rating.bt.DEFAULT_PRIOR`
        when a model never won or never lost).
    """
    if ci not in CI_METHODS:
        raise RatingError(f"unknown interval method {ci!r}: use one of {', '.join(CI_METHODS)}")
    if penalty < 0:
        raise RatingError("the style penalty must be >= 0")
    m = len(battles.models)
    mean, sd = feature_scale(battles.z)
    rows = merge_rows(battles.a, battles.b, battles.outcome, battles.z, battles.weight, m, sd)
    if prior is None:
        prior = bt.DEFAULT_PRIOR if _needs_prior(rows) else 0.0
    # Start from plain Bradley-Terry on the rows' pair sums (cheap: pairs, not rows).
    w_ab = rows.per_pair(rows.win)
    start = bt.fit(rows.pa, rows.pb, w_ab, rows.per_pair(rows.mass), m, prior=prior).theta
    x, it, gnorm = fit_rows(rows, penalty, prior, x0=np.r_[start, np.zeros(rows.z.shape[1])])
    cov = reps = None
    if ci == "sandwich":
        cov = sandwich(rows, x, penalty, prior, float(battles.a.size))
    elif ci == "bootstrap" and rounds > 0:
        reps = bootstrap(rows, x, penalty, prior, rounds=rounds, seed=seed, progress=progress)
    return StyleFit(x[:m], x[m:], cov, reps, it, gnorm, prior, mean, sd)
