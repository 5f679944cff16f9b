"""Confidence intervals: multinomial bootstrap of the counts, and the sandwich.

Resampling N battles with replacement and re-aggregating them is the same in
distribution as one multinomial draw of N over the count cells, so each
bootstrap round costs O(cells), not O(battles). Rounds are drawn in fixed
chunks by :class:`rating.resample.MultinomialSampler` from one seeded
``numpy.random.Generator``: the same counts and seed give the same
replicates. :func:`bootstrap` is the driver every count model shares (draw a
chunk, fit it at once, collect); :func:`bootstrap_bt` fits Bradley-Terry
chunks with :meth:`rating.bt.ReplicateSolver.fit_many`, warm-started from the
point fit.

The sandwich estimate ``H⁺ M H⁺`` (bread: observed information; meat: sum of
squared per-battle scores) is the closed-form alternative; it stays valid when
the model is misspecified, e.g. when ties are not really half wins.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from rating import bt, graph
from rating.resample import MultinomialSampler
from rating.special import expit

CHUNK = 50  # rounds per batched fit; fixed so a seed always means the same draws
REPLICATE_TOL = 1e-10  # a bootstrap fit stops when no strength moves more than this


def multinomial_rounds(cells: np.ndarray, rounds: int, seed: int, chunk: int = CHUNK):
    """Yield bootstrap count vectors, ``chunk`` rounds at a time, as columns.

    Parameters
    ----------
    cells : numpy.ndarray, shape (K,)
        Observed counts (weights allowed: then ``round(sum)`` battles are drawn
        with probabilities proportional to the weights).
    rounds : int
    seed : int

    Yields
    ------
    numpy.ndarray of int64, shape (K, <= chunk)
        One column per round.
    """
    rng = np.random.default_rng(seed)
    sampler = MultinomialSampler(cells)
    done = 0
    while done < rounds:
        size = min(chunk, rounds - done)
        yield sampler.draw(rng, size)
        done += size


def drawn_ahead(draws: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """The chunks of ``draws``, each drawn in another thread while the caller fits the one
    before.

    The chunks come from the same generator in the same order, so they are the same
    chunks. numpy releases the GIL in a draw's large array operations, so drawing the
    next chunk overlaps fitting this one when a second core is free. At most one drawn
    chunk waits; an error in the drawing is raised here, and the drawing stops when the
    caller stops reading.
    """
    ready: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand_over(item) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.05)
                return True
            except queue.Full:
                pass
        return False

    def produce():
        try:
            for draw in draws:
                if not hand_over(draw):
                    return
            hand_over(_DONE)
        except BaseException as exc:  # raised in the caller's thread
            hand_over(_Failed(exc))

    worker = threading.Thread(target=produce, name="bootstrap-draws", daemon=True)
    worker.start()
    try:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        worker.join()


_DONE = object()


@dataclass
class _Failed:
    error: BaseException


def replicate_priors(i, j, cells, draw, m, prior=0.0, trees=None) -> np.ndarray:
    """The ridge prior of each bootstrap replicate of unordered Bradley-Terry counts.

    ``prior`` for every replicate, except when ``prior`` is 0: then a
    replicate whose directed graph is not strongly connected (a model that
    happened to never lose) gets :data:`rating.bt.DEFAULT_PRIOR` so its fit
    stays finite.

    Parameters
    ----------
    i, j : numpy.ndarray of int, shape (Q,)
    cells : numpy.ndarray, shape (3Q,)
        Observed wins of ``i``, wins of ``j`` and ties, concatenated.
    draw : numpy.ndarray, shape (3Q, R)
        Replicates of ``cells`` as columns (from :func:`multinomial_rounds`).
    trees : numpy.ndarray of int, optional
        :func:`rating.graph.widest_trees` of the observed counts: a replicate
        that kept every one of these edges is strongly connected, and only the
        others get the full check.

    Returns
    -------
    numpy.ndarray, shape (R,)
    """
    q = len(i)
    priors = np.full(draw.shape[1], float(prior))
    if prior == 0.0:
        if trees is not None:  # kept every tree edge: strongly connected
            pair = trees % q
            won = draw[np.where(trees < q, pair, q + pair)] + draw[2 * q + pair]
            suspect = ~(won > 0).all(axis=0)
        else:  # only a replicate that lost an observed cell can lose strong connectivity
            suspect = (draw[np.flatnonzero(cells > 0)] == 0).any(axis=0)
        for r in np.flatnonzero(suspect):
            wi, wj, t = draw[:q, r], draw[q : 2 * q, r], draw[2 * q :, r]
            if not graph.mle_exists(i, j, wi + 0.5 * t, wj + 0.5 * t, m):
                priors[r] = bt.DEFAULT_PRIOR
    return priors


@dataclass
class Replicates:
    """Bootstrap replicates and how their fits ended.

    Attributes
    ----------
    params : numpy.ndarray, shape (rounds, dim)
    max_grad_norm : float
        Largest gradient norm over the replicates' fits.
    prior_rounds : int
        Replicates that needed :data:`rating.bt.DEFAULT_PRIOR` (a model that
        happened never to lose or never to win in that draw).
    """

    params: np.ndarray
    max_grad_norm: float
    prior_rounds: int

    def meta(self) -> dict:
        return {
            "bootstrap_max_grad_norm": self.max_grad_norm,
            "bootstrap_tolerance": REPLICATE_TOL,
            "bootstrap_prior_rounds": self.prior_rounds,
        }


def bootstrap(
    cells: np.ndarray,
    rounds: int,
    seed: int,
    fit_chunk: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, int]],
    progress: Callable[[int], None] | None = None,
) -> Replicates:
    """The bootstrap driver every count model shares: draw, fit, collect.

    Parameters
    ----------
    cells : numpy.ndarray, shape (K,)
        Observed counts, drawn by :func:`multinomial_rounds`.
    fit_chunk : callable
        ``fit_chunk(draw) -> (params (dim, C), grad_norm (C,), prior_rounds)``
        for a chunk of C replicates given as columns of ``draw`` (K, C).
    progress : callable, optional
        Called with the number of rounds just finished.
    """
    out = None
    done, prior_rounds, max_g = 0, 0, 0.0
    for draw in drawn_ahead(multinomial_rounds(cells, rounds, seed)):
        params, gnorm, priors = fit_chunk(draw)
        if out is None:
            out = np.empty((rounds, params.shape[0]))
        out[done : done + draw.shape[1]] = params.T
        max_g = max(max_g, float(gnorm.max()))
        prior_rounds += priors
        done += draw.shape[1]
        if progress is not None:
            progress(draw.shape[1])
    return Replicates(out, max_g, prior_rounds)


def bootstrap_bt(
    i,
    j,
    wins_i,
    wins_j,
    ties,
    m,
    theta_hat,
    *,
    rounds=1000,
    seed=42,
    prior=0.0,
    progress: Callable[[int], None] | None = None,
) -> Replicates:
    """Bradley-Terry strengths (centred) of ``rounds`` multinomial bootstrap replicates.

    Each replicate is fitted with its :func:`replicate_priors` prior by
    :meth:`rating.bt.ReplicateSolver.fit_many`.
    """
    q = len(i)
    cells = np.concatenate([wins_i, wins_j, ties])
    solver = bt.ReplicateSolver(i, j, m)
    trees = graph.widest_trees(i, j, wins_i + 0.5 * ties, wins_j + 0.5 * ties, m)

    def fit_chunk(draw):
        priors = replicate_priors(i, j, cells, draw, m, prior, trees)
        wi, wj, t = draw[:q], draw[q : 2 * q], draw[2 * q :]
        n = np.add(wi, wj, dtype=float)
        n += t
        w = np.multiply(t, 0.5)
        w += wi  # the win mass of i: wins plus half the ties
        theta, gnorm = solver.fit_many(w, n, theta_hat, prior=priors, tol=REPLICATE_TOL)
        return theta, gnorm, int(np.count_nonzero(priors != prior))

    return bootstrap(cells, rounds, seed, fit_chunk, progress)


def percentile(replicates: np.ndarray, confidence: float = 0.95):
    """Lower and upper percentile bounds of each column."""
    a = (1.0 - confidence) / 2.0
    low, high = np.quantile(replicates, [a, 1.0 - a], axis=0)
    return low, high


def sandwich_bt(i, j, wins_i, wins_j, ties, m, theta, prior=0.0) -> np.ndarray:
    """Sandwich covariance of the centred Bradley-Terry strengths, shape (m, m).

    Per pair, a battle's score on ``d = theta_i - theta_j`` is ``y - p`` with
    ``y`` = 1, 0 or 1/2; the meat sums the squared scores over the battles.
    """
    p = expit(theta[i] - theta[j])
    meat_w = wins_i * (1 - p) ** 2 + wins_j * p**2 + ties * (0.5 - p) ** 2
    n = wins_i + wins_j + ties
    bread = bt.hessian(theta, i, j, n, m, prior)
    meat = bt.hessian(np.zeros(m), i, j, 4.0 * meat_w, m)  # p(1-p)=1/4 at theta=0
    inv = np.linalg.pinv(bread, hermitian=True)
    return inv @ meat @ inv


def normal_bounds(rating, cov_rating, confidence=0.95, anchor: int | None = None):
    """``rating ± z·se`` where se comes from the covariance (of contrasts with the anchor)."""
    from scipy.special import ndtri  # the normal quantile (imported when asked: rating.special)

    z = ndtri(0.5 + confidence / 2.0)
    var = np.diag(cov_rating).copy()
    if anchor is not None:
        var = var + cov_rating[anchor, anchor] - 2.0 * cov_rating[:, anchor]
    se = np.sqrt(np.maximum(var, 0.0))
    return rating - z * se, rating + z * se, se
