"""One scope's fit and its intervals, in natural-log strengths (see :mod:`rating.engine`).

Each function returns ``(theta, replicates or None, covariance or None, meta)``
for the models of ``pairs``: ``theta`` centred, replicates of shape
(rounds, m), the covariance of ``theta`` for the sandwich.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri  # the standard normal quantile (scipy.stats is slow to import)

from rating import bt, graph, intervals
from rating.counts import BOTH_BAD, LEFT_WIN, RIGHT_WIN, TIE
from rating.davidson import Cells
from rating.errors import RatingError


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


def fit_bt_scope(pairs, *, ci, rounds, seed, confidence, prior, solver, progress):
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
    reps, cov = None, None
    if ci == "bootstrap" and rounds > 0:
        if solver == "choix":
            reps = np.empty((rounds, m))
            q = len(i)
            cells = np.concatenate([wi, wj, t])
            done = exact_rounds = 0
            for draw in intervals.multinomial_rounds(cells, rounds, seed):
                priors = intervals.replicate_priors(i, j, cells, draw, m, prior)
                for row, prior_r in zip(draw.T, priors):
                    a, b, c = row[:q], row[q : 2 * q], row[2 * q :]
                    if prior_r:  # choix has no Gaussian prior: such a replicate is fitted exactly
                        reps[done] = bt.fit(i, j, a + 0.5 * c, a + b + c, m, prior=prior_r).theta
                        exact_rounds += 1
                    else:
                        reps[done] = choix_fit(i, j, a + 0.5 * c, b + 0.5 * c, m)
                    done += 1
                if progress:
                    progress(draw.shape[1])
            meta["bootstrap_prior_rounds"] = exact_rounds
            meta["bootstrap_prior_solver"] = "exact"
        else:
            reps, info = intervals.bootstrap_bt(
                i, j, wi, wj, t, m, theta, rounds=rounds, seed=seed, prior=prior, progress=progress
            )
            meta["bootstrap_max_grad_norm"] = info["max_grad_norm"]
            meta["bootstrap_tolerance"] = intervals.REPLICATE_TOL
            meta["bootstrap_prior_rounds"] = info["prior_rounds"]
    elif ci == "sandwich":
        cov = intervals.sandwich_bt(i, j, wi, wj, t, m, theta, prior)
    return theta, reps, cov, meta


CHOIX_NO_PRIOR = (
    "the choix solver cannot fit these counts: their maximum-likelihood ratings are not "
    "finite and need the Gaussian prior N(0, 1/{prior}), which choix's ILSR does not "
    "implement (its alpha regularises the Markov chain, not the strengths, and gives "
    "other ratings); use --solver exact"
)


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


def fit_davidson_scope(pairs, *, ci, rounds, seed, confidence, prior, left_advantage, progress):
    if left_advantage and not pairs.positional:
        raise RatingError(
            "this input does not record which model was shown left: "
            "the left advantage cannot be fitted"
        )
    c = pairs.counts
    m = pairs.n_models
    cells = Cells(
        pairs.left,
        pairs.right,
        c[:, LEFT_WIN],
        c[:, RIGHT_WIN],
        c[:, TIE] + c[:, BOTH_BAD],
        m,
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
    i, j, wi, wj, t = pairs.unordered()
    meta = {}
    prior, reason = _auto_prior(pairs, i, j, wi + 0.5 * t, wj + 0.5 * t, prior)
    if reason:
        meta["prior_reason"] = reason
    start = bt.fit(i, j, wi + 0.5 * t, wi + wj + t, m, prior=prior).theta
    try:
        f = cells.fit(cells.start(start), prior=prior)
    except np.linalg.LinAlgError:
        raise RatingError(_DAVIDSON_SINGULAR.format(what="these counts")) from None
    theta = f.params[:m]
    if (
        abs(f.log_nu) > DIVERGED
        or (left_advantage and abs(f.eta) > DIVERGED)
        or np.ptp(theta) > 2 * DIVERGED
    ):
        raise RatingError(
            _DAVIDSON_SINGULAR.format(what="these counts")
            + " (the strengths, tie or left-advantage parameter diverge)"
        )
    meta.update(solver="exact", iterations=f.iterations, grad_norm=f.grad_norm, prior=prior)
    x_hat = f.params
    reps_x, cov = None, None
    if ci == "bootstrap" and rounds > 0:
        reps_x = np.empty((rounds, cells.dim))
        rows = cells.l.size
        # Cells in blocks (left wins, right wins, ties), so rows read as the pairs (l, r)
        # of intervals.replicate_priors: l won against r with a left win or a tie.
        flat = np.r_[cells.k[:, 0], cells.k[:, 1], cells.k[:, 2]]
        trees = graph.widest_trees(
            cells.l,
            cells.r,
            cells.k[:, 0] + cells.k[:, 2] / 2,
            cells.k[:, 1] + cells.k[:, 2] / 2,
            m,
        )
        _, h = cells.grad_info(x_hat, prior=prior)
        c = np.zeros(cells.dim)
        c[:m] = 1.0
        h_inv = np.linalg.inv(h + np.outer(c, c))
        done, max_g, prior_rounds = 0, 0.0, 0
        for draw in intervals.multinomial_rounds(flat, rounds, seed):
            priors = intervals.replicate_priors(
                cells.l, cells.r, flat, draw, m, prior or 0.0, trees
            )
            prior_rounds += int(np.count_nonzero(priors != (prior or 0.0)))
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
                raise RatingError(
                    _DAVIDSON_SINGULAR.format(
                        what=f"a bootstrap round among {done + 1}-{done + draw.shape[1]}"
                    )
                ) from None
            reps_x[done : done + draw.shape[1]] = params.T
            max_g = max(max_g, float(gnorm.max()))
            done += draw.shape[1]
            if progress:
                progress(draw.shape[1])
        meta["bootstrap_max_grad_norm"] = max_g
        meta["bootstrap_tolerance"] = intervals.REPLICATE_TOL
        meta["bootstrap_prior_rounds"] = prior_rounds
    elif ci == "sandwich":
        _, h = cells.grad_info(x_hat, prior=prior)
        inv = np.linalg.pinv(h, hermitian=True)
        cov = inv @ cells.meat(x_hat) @ inv
    params = {"tie_log_nu": f.log_nu, "tie_nu": float(np.exp(f.log_nu))}
    extra = {"tie_nu": (m, np.exp)}
    if left_advantage:
        extra["left_advantage"] = (m + 1, lambda e: bt.SCALE * e)
        params["left_advantage_log"] = f.eta
        params["left_advantage"] = bt.SCALE * f.eta
        params["left_win_probability_equal"] = float(
            np.exp(f.eta / 2) / (np.exp(f.eta / 2) + np.exp(-f.eta / 2) + np.exp(f.log_nu))
        )
    a = (1.0 - confidence) / 2.0
    for name, (idx, fn) in extra.items():
        if reps_x is not None:
            lo, hi = np.quantile(fn(reps_x[:, idx]), [a, 1 - a])
        elif cov is not None:
            z = float(ndtri(0.5 + confidence / 2.0))
            se = np.sqrt(max(cov[idx, idx], 0.0))
            lo, hi = fn(x_hat[idx] - z * se), fn(x_hat[idx] + z * se)
        else:
            continue
        params[f"{name}_ci"] = [float(lo), float(hi)]
    meta["parameters"] = params
    reps = None if reps_x is None else reps_x[:, :m]
    return f.theta, reps, None if cov is None else cov[:m, :m], meta
