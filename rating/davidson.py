"""Davidson's model: ties as their own outcome, with an optional left advantage.

For the model shown left ``l`` and right ``r``, with ``d = theta_l - theta_r + eta``::

    P(left wins)  ∝ exp(d / 2)
    P(right wins) ∝ exp(-d / 2)
    P(tie)        ∝ nu = exp(s)

(Davidson 1970, ``P(tie) ∝ nu·sqrt(pi_l·pi_r)`` divided through by
``sqrt(pi_l·pi_r)``). ``eta`` is the first-position (left) advantage in
natural-log strength: the left model plays as if ``POINTS_PER_LOG_UNIT·eta`` rating points
stronger. Both kinds of tie (tie, both bad) count as ties. Among decisive
battles the model is Bradley-Terry, so ``theta`` is on the same rating scale.

Fitted by Newton's method with backtracking on the positional counts;
``sum(theta) = 0`` is kept by solving with ``H + ccᵀ``, ``c`` = 1 on the
``theta`` block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from rating import chord
from rating.bt import newton_ascent


def _logsumexp(a, axis):
    from scipy.special import logsumexp  # when Davidson runs: rating.special says why

    return logsumexp(a, axis=axis)


def _softmax(a, axis):
    from scipy.special import softmax

    return softmax(a, axis=axis)


@dataclass(frozen=True)
class DavidsonFit:
    theta: np.ndarray  # centred natural-log strengths, shape (m,)
    log_nu: float  # tie parameter s = log(nu)
    eta: float | None  # left advantage (natural log), None when not fitted
    iterations: int
    grad_norm: float

    @property
    def params(self) -> np.ndarray:
        extra = [self.log_nu] + ([] if self.eta is None else [self.eta])
        return np.r_[self.theta, extra]


class PositionalCounts:
    """Davidson's data and likelihood: per row the models shown left ``l`` and right ``r``,
    and the left wins, right wins and ties."""

    def __init__(self, l, r, n_left, n_right, n_tie, m: int, left_advantage: bool):
        self.l = np.asarray(l, np.int64)
        self.r = np.asarray(r, np.int64)
        self.k = np.stack([n_left, n_right, n_tie], axis=1).astype(float)
        self.n = self.k.sum(axis=1)
        self.m = m
        self.left_advantage = left_advantage
        self.dim = m + 1 + int(left_advantage)

    def _u(self, x):
        m = self.m
        d = x[self.l] - x[self.r] + (x[m + 1] if self.left_advantage else 0.0)
        s = np.full_like(d, x[m])
        return np.stack([d / 2, -d / 2, s], axis=1)

    def loglik(self, x, k=None, prior=0.0) -> float:
        k = self.k if k is None else k
        u = self._u(x)
        th = x[: self.m]
        return float(
            np.sum(k * u) - np.sum(k.sum(1) * _logsumexp(u, axis=1)) - 0.5 * prior * th @ th
        )

    def _scatter(self, a_d, a_s):
        """Map per-row vectors on (d, s) to parameter space, shape (dim,)."""
        m, dim = self.m, self.dim
        g = np.bincount(self.l, a_d, dim) - np.bincount(self.r, a_d, dim)
        g[m] += a_s.sum()
        if self.left_advantage:
            g[m + 1] += a_d.sum()
        return g

    def _scatter_blocks(self, dd, ds, ss):
        """Map per-row 2x2 blocks on (d, s) to a (dim, dim) matrix."""
        m, dim = self.m, self.dim
        idx = [(self.l, 1.0), (self.r, -1.0)]
        if self.left_advantage:
            idx.append((np.full(self.l.size, m + 1), 1.0))
        h = np.zeros(dim * dim)
        for a, ca in idx:
            for b, cb in idx:
                h += np.bincount(a * dim + b, ca * cb * dd, dim * dim)
            h += np.bincount(a * dim + m, ca * ds, dim * dim)
            h += np.bincount(m * dim + a, ca * ds, dim * dim)
        h[m * dim + m] += ss.sum()
        return h.reshape(dim, dim)

    def _gradient(self, x, k, prior):
        """Penalised gradient, outcome probabilities and battles per row."""
        n = k.sum(axis=1)
        p = _softmax(self._u(x), axis=1)
        res = k - n[:, None] * p
        g = self._scatter(0.5 * (res[:, 0] - res[:, 1]), res[:, 2])
        g[: self.m] -= prior * x[: self.m]
        return g, p, n

    def grad_info(self, x, k=None, prior=0.0):
        """Gradient of the log-likelihood and the observed information (negative Hessian)."""
        g, p, n = self._gradient(x, self.k if k is None else k, prior)
        pl, pr, pt = p.T
        dd = n / 4 * (pl + pr - (pl - pr) ** 2)
        ds = n / 2 * pt * (pr - pl)
        ss = n * pt * (1 - pt)
        h = self._scatter_blocks(dd, ds, ss)
        h[np.arange(self.m), np.arange(self.m)] += prior
        return g, h

    def meat(self, x):
        """Sum over battles of the outer product of per-battle scores (sandwich meat)."""
        p = _softmax(self._u(x), axis=1)
        sd = np.array([0.5, -0.5, 0.0])[None, :] - 0.5 * (p[:, [0]] - p[:, [1]])
        ss = np.array([0.0, 0.0, 1.0])[None, :] - p[:, [2]]
        return self._scatter_blocks(
            (self.k * sd * sd).sum(1), (self.k * sd * ss).sum(1), (self.k * ss * ss).sum(1)
        )

    def fit(self, x0, k=None, prior=0.0, tol=1e-10, max_iter=100) -> DavidsonFit:
        m = self.m
        c = np.zeros(self.dim)
        c[:m] = 1.0
        cc = np.outer(c, c)
        x = np.array(x0, float)
        x[:m] -= x[:m].mean()
        x, it = newton_ascent(
            lambda y: self.loglik(y, k, prior),
            lambda y: self.grad_info(y, k, prior),
            x,
            cc,
            tol=tol,
            max_iter=max_iter,
        )
        x[:m] -= x[:m].mean()
        g, _ = self.grad_info(x, k, prior)
        return DavidsonFit(
            x[:m].copy(),
            float(x[m]),
            float(x[m + 1]) if self.left_advantage else None,
            it,
            float(np.linalg.norm(g)),
        )

    def refit_many(self, x_hat, h_inv, k_left, k_right, k_tie, prior, tol=1e-10, chord_iter=60):
        """Fit many count columns close to those of ``x_hat`` at once (bootstrap replicates).

        Chord steps (:func:`rating.chord.solve`) with the point fit's inverse
        information ``h_inv``: a column stops when no parameter moves more than
        ``tol``; one still moving after ``chord_iter`` steps finishes with
        :meth:`fit`.

        Parameters
        ----------
        x_hat : numpy.ndarray, shape (dim,)
            The point fit.
        h_inv : numpy.ndarray, shape (dim, dim)
            Inverse of the point fit's information plus ``ccᵀ``.
        k_left, k_right, k_tie : numpy.ndarray, shape (rows, R)
            Left wins, right wins and ties of every row, one column per replicate.
        prior : numpy.ndarray, shape (R,)

        Returns
        -------
        params : numpy.ndarray, shape (dim, R), strengths centred
        grad_norm : numpy.ndarray, shape (R,)
        """
        m, r = self.m, k_left.shape[1]
        q = self.l.size
        # Half the strength difference of each row.
        b = sparse.csr_matrix(
            (
                np.r_[np.full(q, 0.5), np.full(q, -0.5)],
                (np.r_[np.arange(q), np.arange(q)], np.r_[self.l, self.r]),
            ),
            shape=(q, m),
        )
        b_t = b.T.tocsr()

        def gradient(x, half_diff, n, ties, prior_):
            half_d = b @ x[:m]  # d/2 per row
            if self.left_advantage:
                half_d += 0.5 * x[m + 1]
            e_left = np.exp(half_d)
            z = e_left + 1.0 / e_left + np.exp(x[m])
            a_d = half_diff - 0.5 * n * (e_left / z - 1.0 / (e_left * z))  # the residual on d
            g = np.empty_like(x)
            g[:m] = 2.0 * (b_t @ a_d) - prior_ * x[:m]
            g[m] = (ties - n * np.exp(x[m]) / z).sum(axis=0)
            if self.left_advantage:
                g[m + 1] = a_d.sum(axis=0)
            return g

        prior = np.asarray(prior, float)
        n = k_left + k_right + k_tie
        out = chord.solve(
            np.repeat(np.asarray(x_hat, float)[:, None], r, axis=1),
            h_inv,
            gradient,
            (0.5 * (k_left - k_right), n, k_tie, prior),
            tol=tol,
            max_iter=chord_iter,
        )
        x, gnorm = out.x, out.grad_norm
        for c in out.moving:  # still moving after chord_iter steps: finish with Newton
            f = self.fit(
                x[:, c],
                k=np.c_[k_left[:, c], k_right[:, c], k_tie[:, c]],
                prior=prior[c],
                tol=1e-10,
            )
            x[:, c], gnorm[c] = f.params, f.grad_norm
        x[:m] -= x[:m].mean(axis=0)
        return x, gnorm

    def start(self, theta0=None) -> np.ndarray:
        """A starting point: given strengths, ``nu`` from the tie share, no left advantage."""
        tie_share = self.k[:, 2].sum() / max(self.n.sum(), 1.0)
        tie_share = min(max(tie_share, 1e-6), 1 - 1e-6)
        x = np.zeros(self.dim)
        if theta0 is not None:
            x[: self.m] = theta0
        x[self.m] = np.log(2 * tie_share / (1 - tie_share))
        return x
