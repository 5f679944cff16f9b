"""Chord iterations for many fits at once: the bootstrap's replicates.

A replicate's counts differ from the observed ones by a few percent, so its
optimum is close to the point fit ``x̂`` and the point fit's information
``H0`` is close to its own. The chord method steps ``δ = S H0⁻¹ S g`` from
``x̂`` with one fixed matrix (no Hessian per replicate, no solve): each step
shrinks the error by a roughly constant factor (15-30 on the arena dump).
``S`` is an optional per-column diagonal rescaling (Bradley-Terry uses it to
follow each replicate's own battle counts). Replicates are columns, so one
step is a few matrix products for all of them.

Used by :meth:`rating.bt.ReplicateSolver.fit_many` and
:meth:`rating.davidson.PositionalCounts.refit_many`; what the model supplies
is its gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MAX_STEP = 1.0  # no parameter moves more than this (natural-log units) in one step


@dataclass
class ChordResult:
    """Where the columns ended.

    Attributes
    ----------
    x : numpy.ndarray, shape (dim, R)
    grad_norm : numpy.ndarray, shape (R,)
        Gradient norm at the last evaluation (before the last step).
    moving : numpy.ndarray of int
        Columns still moving after ``max_iter`` steps (the caller finishes them).
    iterations : int
    """

    x: np.ndarray
    grad_norm: np.ndarray
    moving: np.ndarray
    iterations: int


def solve(
    x0: np.ndarray,
    h_inv: np.ndarray,
    gradient: Callable[..., np.ndarray],
    columns: tuple,
    *,
    scale: np.ndarray | None = None,
    tol: float,
    max_iter: int = 60,
) -> ChordResult:
    """Chord steps for every column of ``x0`` until each one's largest step is below ``tol``.

    Parameters
    ----------
    x0 : numpy.ndarray, shape (dim, R)
        Starts (each column usually the point fit); updated in place.
    h_inv : numpy.ndarray, shape (dim, dim)
        The inverse of the fixed matrix (information at the point fit, plus
        whatever pins the directions the likelihood does not see).
    gradient : callable
        ``gradient(x, *columns) -> g``: the gradient, shape (dim, C), of the
        C columns still moving, given their ``x`` and their slices of
        ``columns``.
    columns : tuple of numpy.ndarray
        Per-column data whose last axis is the column (counts, priors):
        sliced here as columns stop, so the gradient only sees live ones.
    scale : numpy.ndarray, shape (dim, R), optional
        The diagonal ``S`` of each column.
    tol : float
        A column stops when no parameter moves more than this.

    Returns
    -------
    ChordResult
    """
    x = x0
    r = x.shape[1]
    gnorm = np.full(r, np.inf)
    cols = np.arange(r)
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        g = gradient(x[:, cols], *columns)
        gnorm[cols] = np.sqrt(np.einsum("ij,ij->j", g, g))
        if scale is not None:
            g *= scale
        step = h_inv @ g
        if scale is not None:
            step *= scale
        big = np.abs(step).max(axis=0)
        moving = big > tol
        if not moving.all():
            cols, step, big = cols[moving], step[:, moving], big[moving]
            if not cols.size:
                break
            columns = tuple(c[..., moving] for c in columns)
            if scale is not None:
                scale = scale[:, moving]
        step /= np.maximum(1.0, big / MAX_STEP)
        x[:, cols] += step
    return ChordResult(x, gnorm, cols, iterations)
