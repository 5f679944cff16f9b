import numpy as np
import pytest

from rating import bt, counts, engine
from tests.rating.simulation import simulate


def _pc(left, right, out, m):
    onehot = np.zeros((len(left), 4))
    onehot[np.arange(len(left)), out] = 1
    return counts.pair_counts(left, right, onehot, [f"m{k}" for k in range(m)])


def test_planted_left_advantage_recovered():
    rng = np.random.default_rng(20)
    theta = np.linspace(-1, 1, 8)
    eta = 0.3
    left, right, out = simulate(theta, 30000, rng, nu=0.8, eta=eta)
    r = engine.rate(_pc(left, right, out, 8), "davidson", left_advantage=True, ci="sandwich")
    params = r.meta["parameters"]
    lo, hi = params["left_advantage_ci"]
    assert lo < bt.SCALE * eta < hi
    assert params["left_advantage"] == pytest.approx(bt.SCALE * eta, abs=12)
    nlo, nhi = params["tie_nu_ci"]
    assert nlo < 0.8 < nhi
    truth = bt.to_rating(theta - theta.mean())
    order = [int(n[1:]) for n in r.models]
    assert np.abs(r.rating - truth[order]).max() < 25


def test_no_left_advantage_when_none_planted():
    rng = np.random.default_rng(21)
    left, right, out = simulate(np.linspace(-1, 1, 6), 20000, rng, nu=0.5)
    r = engine.rate(_pc(left, right, out, 6), "davidson", left_advantage=True, rounds=100)
    lo, hi = r.meta["parameters"]["left_advantage_ci"]
    assert lo < 0 < hi


def test_davidson_gradient_zero_and_needs_ties():
    rng = np.random.default_rng(22)
    left, right, out = simulate(np.linspace(-1, 1, 5), 3000, rng, nu=0.5)
    r = engine.rate(_pc(left, right, out, 5), "davidson", ci="none", left_advantage=True)
    assert r.meta["grad_norm"] < 1e-8
    no_ties = out.copy()
    no_ties[no_ties == 2] = 0
    with pytest.raises(engine.RatingError, match="needs ties"):
        engine.rate(_pc(left, right, no_ties, 5), "davidson", ci="none")


def test_left_advantage_needs_positions():
    pc = counts.pair_counts([0], [1], [[3, 2, 1, 0]], ["a", "b"], positional=False)
    with pytest.raises(engine.RatingError, match="shown left"):
        engine.rate(pc, "davidson", left_advantage=True, ci="none")


def test_davidson_bootstrap_replicates_stay_finite():
    # "c" won once and tied once in 12: replicates often drop both.
    pc = counts.pair_counts([0, 0, 1], [1, 2, 2], [[30, 20, 8, 0], [6, 1, 1, 0], [4, 0, 0, 0]],
                            list("abc"))
    r = engine.rate(pc, "davidson", rounds=200, seed=4)
    assert r.meta["bootstrap_prior_rounds"] > 0
    assert np.all(np.isfinite(r.replicates)) and np.abs(r.replicates).max() < 1e5


def test_davidson_without_a_finite_fit_is_a_clear_error():
    # Five pairs, eleven battles: a bootstrap round drifts to where the
    # information matrix is singular; that is a RatingError, not a LinAlgError.
    pc = counts.pair_counts([0, 1, 2, 0, 1], [1, 2, 3, 3, 2],
                            [[2, 0, 1, 0], [1, 1, 0, 1], [1, 1, 1, 0], [1, 0, 0, 0],
                             [0, 1, 1, 0]], ["a", "b", "c", "d"])
    with pytest.raises(engine.RatingError, match="Davidson's model has no finite fit on "
                                                 "bootstrap round"):
        engine.rate(pc, "davidson", left_advantage=True, rounds=50)
