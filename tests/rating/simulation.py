"""Helpers for the rating tests: simulated battles with known strengths."""

from __future__ import annotations

import numpy as np


def simulate(theta, n_battles, rng, *, nu=0.0, eta=0.0):
    """Battles from Davidson's model (nu=0: Bradley-Terry), random pairs and sides.

    Returns left, right, outcome (0 left wins, 1 right wins, 2 tie).
    """
    m = len(theta)
    a = rng.integers(0, m, n_battles)
    b = (a + rng.integers(1, m, n_battles)) % m
    d = theta[a] - theta[b] + eta
    pl, pr, pt = np.exp(d / 2), np.exp(-d / 2), np.full(n_battles, float(nu))
    z = pl + pr + pt
    u = rng.random(n_battles) * z
    outcome = np.where(u < pl, 0, np.where(u < pl + pr, 1, 2))
    return a, b, outcome
