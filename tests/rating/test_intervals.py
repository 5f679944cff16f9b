"""Simulation: intervals cover the true ratings at close to the nominal rate."""

import numpy as np
import pytest

from rating import bt, counts, engine
from tests.rating.simulation import simulate


def _coverage(ci, sims, rounds, rng):
    theta = np.linspace(-1.0, 1.0, 6)
    truth = bt.to_rating(theta - theta.mean())
    hits = total = 0
    for s in range(sims):
        left, right, out = simulate(theta, 1500, rng)  # Bradley-Terry truth, no ties
        onehot = np.zeros((len(left), 4))
        onehot[np.arange(len(left)), out] = 1
        pc = counts.pair_counts(left, right, onehot, [f"m{k}" for k in range(6)])
        r = engine.rate(pc, ci=ci, rounds=rounds, seed=s)
        order = [int(name[1:]) for name in r.models]
        hits += int(np.sum((r.ci_low <= truth[order]) & (truth[order] <= r.ci_high)))
        total += len(order)
    return hits / total


@pytest.mark.slow
def test_bootstrap_coverage_near_nominal():
    cov = _coverage("bootstrap", 100, 200, np.random.default_rng(10))
    assert 0.88 <= cov <= 0.99, cov


def test_sandwich_coverage_near_nominal():
    cov = _coverage("sandwich", 150, 0, np.random.default_rng(11))
    assert 0.90 <= cov <= 0.98, cov


def test_bootstrap_and_sandwich_agree_on_real_size():
    rng = np.random.default_rng(12)
    left, right, out = simulate(np.linspace(-1, 1, 10), 20000, rng, nu=0.5)
    onehot = np.zeros((len(left), 4))
    onehot[np.arange(len(left)), out] = 1
    pc = counts.pair_counts(left, right, onehot, [f"m{k}" for k in range(10)])
    boot = engine.rate(pc, rounds=400)
    sand = engine.rate(pc, ci="sandwich")
    width_b = boot.ci_high - boot.ci_low
    width_s = sand.ci_high - sand.ci_low
    assert np.allclose(width_b, width_s, rtol=0.2)


def test_significance_and_win_probability():
    rng = np.random.default_rng(13)
    left, right, out = simulate(np.array([0.0, 0.02, 2.0]), 3000, rng)
    onehot = np.zeros((len(left), 4))
    onehot[np.arange(len(left)), out] = 1
    r = engine.rate(counts.pair_counts(left, right, onehot, ["a", "b", "c"]), rounds=200)
    assert r.models[0] == "c"
    sig = r.significantly_above()
    assert sig[0, 1] and sig[0, 2] and not sig[1, 2] and not sig[2, 1]
    p = r.win_probability()
    assert np.allclose(p + p.T, 1.0) and p[0, 1] > 0.8
    assert list(r.rank_ub) == [1, 2, 2] and list(r.tier) == [1, 2, 2]
