"""Simulated battles with known strengths and a planted style effect (tests and bench/style.py)."""

from __future__ import annotations

import numpy as np

from rating.style import StyleBattles
from rating.style_features import FEATURES, battle_features


def simulate_style(
    n_battles,
    rng,
    *,
    theta=None,
    m=20,
    gamma_length=0.35,
    verbose_model=None,
    tie_rate=0.1,
):
    """Battles whose outcome depends on strength and on answer length.

    Every model writes answers of a typical length (``verbose_model`` writes
    three times longer ones); counts of headers, lists and bold spans are
    Poisson around model-specific means and have no effect on the vote. The
    standardized length feature moves the log-odds by ``gamma_length`` per
    standard deviation. A tie is drawn with probability ``tie_rate``, else
    the outcome follows the contextual BT probability.

    Returns
    -------
    battles : StyleBattles
    theta : numpy.ndarray
        The true strengths (natural log, centred).
    """
    if theta is None:
        theta = np.linspace(-1.0, 1.0, m)
    theta = np.asarray(theta, float) - np.mean(theta)
    m = theta.size
    a = rng.integers(0, m, n_battles)
    b = (a + rng.integers(1, m, n_battles)) % m
    base_len = np.full(m, 400.0)
    if verbose_model is not None:
        base_len[verbose_model] = 1200.0
    fmt = rng.uniform(0.5, 4.0, (m, 3))
    counts_a = np.column_stack([rng.gamma(4.0, base_len[a] / 4.0), rng.poisson(fmt[a])]).astype(
        float
    )
    counts_b = np.column_stack([rng.gamma(4.0, base_len[b] / 4.0), rng.poisson(fmt[b])]).astype(
        float
    )
    counts_a[:, 0] = np.round(counts_a[:, 0])
    counts_b[:, 0] = np.round(counts_b[:, 0])
    z = battle_features(counts_a, counts_b)
    zl = z[:, 0] / np.sqrt(np.mean(z[:, 0] ** 2))
    d = theta[a] - theta[b] + gamma_length * zl
    y = (rng.random(n_battles) < 1.0 / (1.0 + np.exp(-d))).astype(float)
    y[rng.random(n_battles) < tie_rate] = 0.5
    models = [f"m{k:02d}" for k in range(m)]
    return StyleBattles(a, b, y, z, None, models, FEATURES), theta
