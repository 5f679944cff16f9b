"""Exact Bradley-Terry maximum likelihood on aggregated pair counts.

Model: ``P(i beats j) = 1 / (1 + exp(theta_j - theta_i))`` with natural-log
strengths ``theta``; a tie counts as half a win each way (the convention of
the public Chatbot Arena leaderboard). The log-likelihood is concave, so
Newton's method on the counts converges quadratically; we iterate until the
step is at rounding level, which leaves the gradient at machine precision.
The strengths are centred (mean 0); :func:`to_rating` maps them to the
``1000 + 400·log10`` scale.

When the maximum is not finite (see :func:`rating.graph.mle_exists`), a
Gaussian prior ``N(0, 1/prior)`` on every ``theta`` is added (ridge penalty
``prior/2 · |theta|^2``); :data:`DEFAULT_PRIOR` is tiny (sd 10 natural-log
units, about 1,700 rating points).

:func:`fit_many` solves many fits at once (the bootstrap): one batched Newton
iteration costs a few sparse products and one batched ``solve``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.special import expit

SCALE = 400.0 / np.log(10.0)  # rating points per natural-log unit
INIT_RATING = 1000.0
DEFAULT_PRIOR = 0.01


@dataclass(frozen=True)
class Fit:
    """A point fit: centred natural-log strengths and how the solver ended."""

    theta: np.ndarray
    iterations: int
    grad_norm: float
    prior: float


def to_rating(theta) -> np.ndarray:
    """``1000 + 400·log10(strength)`` for centred natural-log strengths."""
    return INIT_RATING + SCALE * np.asarray(theta, float)


def _loglik(theta, i, j, w, n, prior):
    d = theta[i] - theta[j]
    return float(np.sum(w * d - n * np.logaddexp(0.0, d)) - 0.5 * prior * theta @ theta)


def gradient(theta, i, j, w, n, m, prior=0.0) -> np.ndarray:
    """Gradient of the (penalised) log-likelihood.

    Parameters
    ----------
    theta : numpy.ndarray, shape (m,)
    i, j : numpy.ndarray of int, shape (Q,)
        The pairs.
    w : numpy.ndarray, shape (Q,)
        Win mass of ``i`` over ``j`` (wins plus half the ties).
    n : numpy.ndarray, shape (Q,)
        Battles per pair.
    """
    r = w - n * expit(theta[i] - theta[j])
    return np.bincount(i, r, m) - np.bincount(j, r, m) - prior * theta


def hessian(theta, i, j, n, m, prior=0.0) -> np.ndarray:
    """Negative Hessian (the observed information), shape (m, m)."""
    p = expit(theta[i] - theta[j])
    v = n * p * (1.0 - p)
    h = np.bincount(i * m + j, -v, m * m) + np.bincount(j * m + i, -v, m * m)
    h = h.reshape(m, m)
    h[np.diag_indices(m)] = np.bincount(i, v, m) + np.bincount(j, v, m) + prior
    return h


def newton_ascent(loglik, grad_info, x, fixed, *, tol, max_iter):
    """Damped Newton ascent of a concave log-likelihood.

    Each step solves ``(H + fixed) δ = g``, where ``fixed`` pins the common
    shift the likelihood does not see, and is halved until the objective does
    not fall (a short step always helps a concave objective).

    Parameters
    ----------
    loglik : callable
        ``x -> float``.
    grad_info : callable
        ``x -> (gradient, observed information)``.
    x : numpy.ndarray
        Start.
    tol : float
        Stop when the gradient norm is below ``tol`` or a step is below 1e-14.

    Returns
    -------
    x : numpy.ndarray
    iterations : int
    """
    ll = loglik(x)
    it = 0
    for it in range(1, max_iter + 1):
        g, h = grad_info(x)
        if np.linalg.norm(g) <= tol:
            it -= 1
            break
        step = np.linalg.solve(h + fixed, g)
        t = 1.0
        while True:
            cand = x + t * step
            ll_new = loglik(cand)
            if ll_new >= ll - 1e-12 * max(1.0, abs(ll)) or t < 1e-8:
                break
            t *= 0.5
        x, ll = cand, ll_new
        if np.max(np.abs(t * step)) < 1e-14:
            break
    return x, it


def fit(i, j, w, n, m, *, prior=0.0, theta0=None, tol=1e-10, max_iter=100) -> Fit:
    """Maximise the Bradley-Terry likelihood by damped Newton steps.

    The sum of ``theta`` is held at 0 (the likelihood does not see a common
    shift): each step solves ``(H + 11ᵀ) δ = g``, whose solution has zero sum.

    Parameters
    ----------
    i, j, w, n : see :func:`gradient`.
    m : int
        Number of models.
    prior : float
        Ridge penalty (0 = plain maximum likelihood).
    theta0 : numpy.ndarray, optional
        Start (default 0).
    tol : float
        Stop when the gradient norm is below ``tol`` or a step is below 1e-14.

    Returns
    -------
    Fit
    """
    i = np.asarray(i, np.int64)
    j = np.asarray(j, np.int64)
    w = np.asarray(w, float)
    n = np.asarray(n, float)
    theta = np.zeros(m) if theta0 is None else np.array(theta0, float)
    theta -= theta.mean()
    theta, it = newton_ascent(
        lambda x: _loglik(x, i, j, w, n, prior),
        lambda x: (gradient(x, i, j, w, n, m, prior), hessian(x, i, j, n, m, prior)),
        theta, np.ones((m, m)), tol=tol, max_iter=max_iter)
    theta -= theta.mean()
    return Fit(theta, it, float(np.linalg.norm(gradient(theta, i, j, w, n, m, prior))), prior)


class Batch:
    """Fixed pair structure for fitting many count vectors at once (bootstrap replicates)."""

    def __init__(self, i, j, m: int):
        self.i = np.asarray(i, np.int64)
        self.j = np.asarray(j, np.int64)
        self.m = m
        q = self.i.size
        cols = np.arange(q)
        # B: pairs -> models incidence (+1 on i, -1 on j), used for gradients.
        self.b = sparse.csr_matrix(
            (np.r_[np.ones(q), -np.ones(q)], (np.r_[cols, cols], np.r_[self.i, self.j])),
            shape=(q, m))
        # S: pair weights -> flattened Hessian entries.
        rows = np.r_[self.i * m + self.i, self.j * m + self.j, self.i * m + self.j, self.j * m + self.i]
        vals = np.r_[np.ones(2 * q), -np.ones(2 * q)]
        self.s = sparse.csr_matrix((vals, (rows, np.r_[cols, cols, cols, cols])), shape=(m * m, q))
        self._h0_inv = None
        self.last_iterations = 0

    def fit_many(self, w, n, theta0, *, prior=None, tol=1e-9, max_iter=50, chord_iter=40):
        """Newton on every row of ``w``/``n`` at once.

        Starting from the point fit, the first iterations reuse the point fit's
        Hessian (a chord method: one small matrix product per iteration, no
        solve); rows that have not reached ``tol`` after ``chord_iter`` such
        iterations finish with full Newton steps (one batched solve each).

        Parameters
        ----------
        w, n : numpy.ndarray, shape (R, Q)
            Win mass of ``i`` and battles per pair, one row per fit.
        theta0 : numpy.ndarray, shape (m,)
            Warm start (the point fit).
        prior : numpy.ndarray, shape (R,), optional
            Ridge penalty per row.

        Returns
        -------
        theta : numpy.ndarray, shape (R, m), centred
        grad_norm : numpy.ndarray, shape (R,)
        """
        r, m = w.shape[0], self.m
        theta0 = np.asarray(theta0, float)
        theta = np.broadcast_to(theta0, (r, m)).copy()
        theta -= theta.mean(axis=1, keepdims=True)
        prior = np.zeros(r) if prior is None else np.asarray(prior, float)
        gnorm = np.full(r, np.inf)
        if self._h0_inv is None:  # the point fit's Hessian, inverted once per Batch
            h0 = hessian(theta0, self.i, self.j, n.mean(axis=0), m, float(np.median(prior)))
            self._h0_inv = np.linalg.inv(h0 + 1.0)
        h0_inv = self._h0_inv
        self.last_iterations = 0
        active = np.arange(r)
        eye = np.eye(m)
        for it in range(chord_iter + max_iter):
            th = theta[active]
            p = expit(th[:, self.i] - th[:, self.j])
            na = n[active]
            g = (self.b.T @ (w[active] - na * p).T).T - prior[active, None] * th
            gn = np.linalg.norm(g, axis=1)
            gnorm[active] = gn
            keep = gn > tol
            if not keep.any():
                break
            self.last_iterations = it + 1
            active, th, g, p, na = active[keep], th[keep], g[keep], p[keep], na[keep]
            if it < chord_iter:
                step = g @ h0_inv
            else:
                v = na * p * (1.0 - p)
                h = (self.s @ v.T).T.reshape(-1, m, m) + 1.0 + prior[active, None, None] * eye
                step = np.linalg.solve(h, g[..., None])[..., 0]
            # Damping: no coordinate moves more than 1 natural-log unit per step.
            big = np.max(np.abs(step), axis=1, keepdims=True)
            step /= np.maximum(1.0, big)
            theta[active] = th + step
        theta -= theta.mean(axis=1, keepdims=True)
        return theta, gnorm
