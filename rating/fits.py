"""One scope's fit and its intervals, in natural-log strengths (see :mod:`rating.engine`).

Each ``fit_*_scope`` function returns a :class:`ScopeFit` for the models of
``pairs``: ``theta`` centred, replicates of shape (rounds, m) or the
covariance of ``theta`` for the sandwich, and what the fit reports in meta.
Both models share the bootstrap driver (:func:`rating.intervals.bootstrap`)
and the chord solver (:mod:`rating.chord`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rating import bt, graph, intervals
from rating.counts import BOTH_BAD, LEFT_WIN, RIGHT_WIN, TIE, PairCounts
from rating.davidson import DavidsonFit, PositionalCounts
from rating.errors import RatingError


@dataclass
class ScopeFit:
    """A scope's point fit and its uncertainty (natural-log strengths)."""

    theta: np.ndarray
    replicates: np.ndarray | None = None  # (rounds, m)
    cov: np.ndarray | None = None  # (m, m), for the sandwich
    meta: dict = field(default_factory=dict)


CHOIX_NO_PRIOR = (
    "the choix solver cannot fit these counts: their maximum-likelihood ratings are not "
    "finite and need the Gaussian prior N(0, 1/{prior}), which choix's ILSR does not "
    "implement (its alpha regularises the Markov chain, not the strengths, and gives "
    "other ratings); use --solver exact"
)


def _auto_prior(pairs, i, j, w_ij, w_ji, prior):
    """``(prior, reason)``: a given ``prior`` as is; else 0, or :data:`rating.bt.DEFAULT_PRIOR`
    when the maximum is not finite, with the models that never lost or never won."""
    if prior is not None:
        return prior, None
    if graph.mle_exists(i, j, w_ij, w_ji, pairs.n_models):
        return 0.0, None
    lost, won = graph.never(i, j, w_ij, w_ji, pairs.n_models)
    return bt.DEFAULT_PRIOR, {
        "never_lost": [pairs.models[k] for k in lost],
        "never_won": [pairs.models[k] for k in won],
    }


def fit_bt_scope(
    pairs: PairCounts, *, ci: str, rounds: int, seed: int, prior, solver: str, progress
) -> ScopeFit:
    """Bradley-Terry on one scope: point fit (exact Newton or choix) and its intervals."""
    i, j, wi, wj, t = pairs.unordered()
    m = pairs.n_models
    w, n = wi + 0.5 * t, wi + wj + t
    meta = {}
    prior, reason = _auto_prior(pairs, i, j, w, wj + 0.5 * t, prior)
    if reason:
        meta["prior_reason"] = {
            **reason,
            "why": "the maximum-likelihood ratings are not finite (some model or group "
            "never lost or never won against the rest); a Gaussian prior "
            f"N(0, 1/{bt.DEFAULT_PRIOR}) on natural-log strength keeps them finite",
        }
    if solver == "choix":
        if prior:
            raise RatingError(CHOIX_NO_PRIOR.format(prior=prior))
        theta = choix_fit(i, j, w, wj + 0.5 * t, m)
        meta.update(
            solver="choix",
            grad_norm=float(np.linalg.norm(bt.gradient(theta, i, j, w, n, m, prior))),
        )
    else:
        f = bt.fit(i, j, w, n, m, prior=prior)
        theta = f.theta
        meta.update(solver="exact", iterations=f.iterations, grad_norm=f.grad_norm)
    meta["prior"] = prior
    out = ScopeFit(theta, meta=meta)
    if ci == "bootstrap" and rounds > 0:
        if solver == "choix":
            reps = _choix_bootstrap(i, j, wi, wj, t, m, rounds, seed, progress)
            meta["bootstrap_prior_solver"] = "exact"
        else:
            reps = intervals.bootstrap_bt(
                i, j, wi, wj, t, m, theta, rounds=rounds, seed=seed, prior=prior, progress=progress
            )
        out.replicates = reps.params
        meta.update(reps.meta())
    elif ci == "sandwich":
        out.cov = intervals.sandwich_bt(i, j, wi, wj, t, m, theta, prior)
    return out


def _choix_bootstrap(i, j, wi, wj, t, m, rounds, seed, progress) -> intervals.Replicates:
    """Replicates fitted one by one by choix; one that needs the prior is fitted exactly."""
    q = len(i)
    cells = np.concatenate([wi, wj, t])

    def fit_chunk(draw):
        priors = intervals.replicate_priors(i, j, cells, draw, m, 0.0)
        out = np.empty((m, draw.shape[1]))
        for c, (row, prior_r) in enumerate(zip(draw.T, priors)):
            a, b, ties = row[:q], row[q : 2 * q], row[2 * q :]
            if prior_r:  # choix has no Gaussian prior
                out[:, c] = bt.fit(i, j, a + 0.5 * ties, a + b + ties, m, prior=prior_r).theta
            else:
                out[:, c] = choix_fit(i, j, a + 0.5 * ties, b + 0.5 * ties, m)
        gnorm = np.array(
            [
                np.linalg.norm(
                    bt.gradient(out[:, c], i, j, *_win_mass(draw[:, c], q), m, priors[c])
                )
                for c in range(draw.shape[1])
            ]
        )
        return out, gnorm, int(np.count_nonzero(priors))

    return intervals.bootstrap(cells, rounds, seed, fit_chunk, progress)


def _win_mass(row, q):
    a, b, ties = row[:q], row[q : 2 * q], row[2 * q :]
    return a + 0.5 * ties, a + b + ties


def choix_fit(i, j, w_ij, w_ji, m):
    """Plain maximum likelihood by ``choix.ilsr_pairwise_dense`` (no prior: see
    :data:`CHOIX_NO_PRIOR`)."""
    import choix

    comp = np.zeros((m, m))
    np.add.at(comp, (i, j), w_ij)
    np.add.at(comp, (j, i), w_ji)
    theta = choix.ilsr_pairwise_dense(comp, tol=1e-12, max_iter=100000)
    return theta - theta.mean()


# |log nu| or |log left advantage| past this (e^15: over 2,600 rating points) means the
# fit ran off to infinity along a flat ridge rather than finding a maximum.
DIVERGED = 15.0

_DAVIDSON_SINGULAR = (
    "Davidson's model has no finite fit on {what} (too few battles for its "
    "parameters, e.g. a model that never lost, or no ties or no wins from "
    "one position): use method 'bt', --ci sandwich or more battles"
)


def fit_davidson_scope(
    pairs: PairCounts,
    *,
    ci: str,
    rounds: int,
    seed: int,
    confidence: float,
    prior,
    left_advantage: bool,
    progress,
) -> ScopeFit:
    """Davidson's model on one scope: point fit, intervals, and the tie (and left) parameters."""
    cells = _davidson_counts(pairs, left_advantage)
    m = pairs.n_models
    i, j, wi, wj, t = pairs.unordered()
    meta = {}
    prior, reason = _auto_prior(pairs, i, j, wi + 0.5 * t, wj + 0.5 * t, prior)
    if reason:
        meta["prior_reason"] = reason
    f = _davidson_point(cells, bt.fit(i, j, wi + 0.5 * t, wi + wj + t, m, prior=prior).theta, prior)
    meta.update(
        solver="exact",
        iterations=f.iterations,
        grad_norm=f.grad_norm,
        prior=prior,
        left_advantage=left_advantage,
    )
    x_hat = f.params
    reps_x, cov = None, None
    if ci == "bootstrap" and rounds > 0:
        reps = _davidson_bootstrap(cells, x_hat, prior, rounds, seed, progress)
        reps_x = reps.params
        meta.update(reps.meta())
    elif ci == "sandwich":
        _, h = cells.grad_info(x_hat, prior=prior)
        inv = np.linalg.pinv(h, hermitian=True)
        cov = inv @ cells.meat(x_hat) @ inv
    meta["parameters"] = _davidson_parameters(f, m, reps_x, cov, confidence)
    return ScopeFit(
        f.theta,
        None if reps_x is None else reps_x[:, :m],
        None if cov is None else cov[:m, :m],
        meta,
    )


def _davidson_counts(pairs: PairCounts, left_advantage: bool) -> PositionalCounts:
    """The positional counts, refused when the model has nothing finite to fit."""
    if left_advantage and not pairs.positional:
        raise RatingError(
            "this input does not record which model was shown left: "
            "the left advantage cannot be fitted"
        )
    c = pairs.counts
    cells = PositionalCounts(
        pairs.left,
        pairs.right,
        c[:, LEFT_WIN],
        c[:, RIGHT_WIN],
        c[:, TIE] + c[:, BOTH_BAD],
        pairs.n_models,
        left_advantage,
    )
    if cells.k[:, 2].sum() == 0:
        raise RatingError("Davidson's model needs ties, and there are none: use method 'bt'")
    if left_advantage:
        # With no win from one position the likelihood keeps growing as the advantage
        # (and the tie parameter) go to infinity: there is no number to report.
        for col, side in ((0, "left"), (1, "right")):
            if cells.k[:, col].sum() == 0:
                raise RatingError(
                    f"the left advantage has no finite estimate: the answer shown "
                    f"{side} never won a battle in this scope"
                )
    return cells


def _davidson_point(cells: PositionalCounts, start, prior) -> DavidsonFit:
    """Newton from the Bradley-Terry strengths; refused when it runs off to infinity."""
    try:
        f = cells.fit(cells.start(start), prior=prior)
    except np.linalg.LinAlgError:
        raise RatingError(_DAVIDSON_SINGULAR.format(what="these counts")) from None
    if (
        abs(f.log_nu) > DIVERGED
        or (f.eta is not None and abs(f.eta) > DIVERGED)
        or np.ptp(f.theta) > 2 * DIVERGED
    ):
        raise RatingError(
            _DAVIDSON_SINGULAR.format(what="these counts")
            + " (the strengths, tie or left-advantage parameter diverge)"
        )
    return f


def _davidson_bootstrap(cells, x_hat, prior, rounds, seed, progress) -> intervals.Replicates:
    m, rows = cells.m, cells.l.size
    # Cells in blocks (left wins, right wins, ties), so rows read as the pairs (l, r)
    # of intervals.replicate_priors: l won against r with a left win or a tie.
    flat = np.r_[cells.k[:, 0], cells.k[:, 1], cells.k[:, 2]]
    half = cells.k[:, 2] / 2
    trees = graph.widest_trees(cells.l, cells.r, cells.k[:, 0] + half, cells.k[:, 1] + half, m)
    _, h = cells.grad_info(x_hat, prior=prior)
    c = np.zeros(cells.dim)
    c[:m] = 1.0
    h_inv = np.linalg.inv(h + np.outer(c, c))
    base = prior or 0.0
    done = [0]

    def fit_chunk(draw):
        priors = intervals.replicate_priors(cells.l, cells.r, flat, draw, m, base, trees)
        try:
            params, gnorm = cells.refit_many(
                x_hat,
                h_inv,
                draw[:rows],
                draw[rows : 2 * rows],
                draw[2 * rows :],
                priors,
                tol=intervals.REPLICATE_TOL,
            )
        except np.linalg.LinAlgError:
            what = f"a bootstrap round among {done[0] + 1}-{done[0] + draw.shape[1]}"
            raise RatingError(_DAVIDSON_SINGULAR.format(what=what)) from None
        done[0] += draw.shape[1]
        return params, gnorm, int(np.count_nonzero(priors != base))

    return intervals.bootstrap(flat, rounds, seed, fit_chunk, progress)


def _davidson_parameters(f: DavidsonFit, m, reps_x, cov, confidence) -> dict:
    """The tie parameter (and left advantage) with their intervals, for ``meta``."""
    x_hat = f.params
    params = {"tie_log_nu": f.log_nu, "tie_nu": float(np.exp(f.log_nu))}
    extra = {"tie_nu": (m, np.exp)}
    if f.eta is not None:
        extra["left_advantage"] = (m + 1, lambda e: bt.POINTS_PER_LOG_UNIT * e)
        params["left_advantage_log"] = f.eta
        params["left_advantage"] = bt.POINTS_PER_LOG_UNIT * f.eta
        params["left_win_probability_equal"] = float(
            np.exp(f.eta / 2) / (np.exp(f.eta / 2) + np.exp(-f.eta / 2) + np.exp(f.log_nu))
        )
    a = (1.0 - confidence) / 2.0
    for name, (idx, fn) in extra.items():
        if reps_x is not None:
            lo, hi = np.quantile(fn(reps_x[:, idx]), [a, 1 - a])
        elif cov is not None:
            from scipy.special import ndtri  # imported when asked (rating.special)

            z = float(ndtri(0.5 + confidence / 2.0))
            se = np.sqrt(max(cov[idx, idx], 0.0))
            lo, hi = fn(x_hat[idx] - z * se), fn(x_hat[idx] + z * se)
        else:
            continue
        params[f"{name}_ci"] = [float(lo), float(hi)]
    return params
