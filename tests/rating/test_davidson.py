import numpy as np
import pytest

from rating import bt, counts, engine
from rating.davidson import PositionalCounts
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
    assert lo < bt.POINTS_PER_LOG_UNIT * eta < hi
    assert params["left_advantage"] == pytest.approx(bt.POINTS_PER_LOG_UNIT * eta, abs=12)
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
    pc = counts.pair_counts(
        [0, 0, 1], [1, 2, 2], [[30, 20, 8, 0], [6, 1, 1, 0], [4, 0, 0, 0]], list("abc")
    )
    r = engine.rate(pc, "davidson", rounds=200, seed=4)
    assert r.meta["bootstrap_prior_rounds"] > 0
    assert np.all(np.isfinite(r.replicates)) and np.abs(r.replicates).max() < 1e5


def test_davidson_without_a_finite_fit_is_a_clear_error():
    # Five pairs, eleven battles: with a left advantage the point fit runs off along a
    # flat ridge (it used to report ratings of 7310 and -5066 and an advantage of -4003
    # with a tiny gradient, and a bootstrap round then hit a singular matrix). It is a
    # RatingError on the point fit now, never a LinAlgError or a silent number.
    pc = counts.pair_counts(
        [0, 1, 2, 0, 1],
        [1, 2, 3, 3, 2],
        [[2, 0, 1, 0], [1, 1, 0, 1], [1, 1, 1, 0], [1, 0, 0, 0], [0, 1, 1, 0]],
        ["a", "b", "c", "d"],
    )
    with pytest.raises(
        engine.RatingError, match=r"Davidson's model has no finite fit on these counts.*diverge"
    ):
        engine.rate(pc, "davidson", left_advantage=True, rounds=50)
    with pytest.raises(engine.RatingError, match="diverge"):
        engine.rate(pc, "davidson", left_advantage=True, ci="none")


def test_left_advantage_without_wins_from_one_side_is_refused():
    # The left answer always wins or ties: the advantage would run off to infinity
    # (the fit used to report +4,540 rating points). A clear error instead.
    pc = counts.pair_counts(
        [0, 1, 2, 1],
        [1, 2, 0, 0],
        [[5, 0, 3, 0], [4, 0, 2, 0], [3, 0, 3, 0], [2, 0, 2, 0]],
        list("abc"),
    )
    with pytest.raises(engine.RatingError, match="shown right never won"):
        engine.rate(pc, "davidson", left_advantage=True, ci="none")
    flipped = counts.pair_counts(
        [1, 2, 0, 0],
        [0, 1, 2, 1],
        [[0, 5, 3, 0], [0, 4, 2, 0], [0, 3, 3, 0], [0, 2, 2, 0]],
        list("abc"),
    )
    with pytest.raises(engine.RatingError, match="shown left never won"):
        engine.rate(flipped, "davidson", left_advantage=True, ci="none")
    # Without the advantage parameter the same counts are fine.
    assert engine.rate(pc, "davidson", ci="none").meta["grad_norm"] < 1e-8


def test_batched_refit_equals_newton_on_each_replicate():
    rng = np.random.default_rng(31)
    left, right, out = simulate(np.linspace(-1, 1, 6), 4000, rng, nu=0.6, eta=0.3)
    pc = _pc(left, right, out, 6)
    c = pc.counts
    cells = PositionalCounts(pc.left, pc.right, c[:, 0], c[:, 1], c[:, 2] + c[:, 3], 6, True)
    point = cells.fit(cells.start())
    _, h = cells.grad_info(point.params)
    cc = np.zeros(cells.dim)
    cc[:6] = 1.0
    h_inv = np.linalg.inv(h + np.outer(cc, cc))
    k = rng.poisson(np.r_[cells.k[:, 0], cells.k[:, 1], cells.k[:, 2]], size=(4, 3 * len(c))).T
    rows = len(c)
    prior = np.array([0.0, 0.0, 0.01, 0.0])
    params, gnorm = cells.refit_many(
        point.params, h_inv, k[:rows], k[rows : 2 * rows], k[2 * rows :], prior, tol=1e-12
    )
    for r in range(4):
        exact = cells.fit(
            point.params,
            k=np.c_[k[:rows, r], k[rows : 2 * rows, r], k[2 * rows :, r]].astype(float),
            prior=prior[r],
        )
        assert np.abs(params[:, r] - exact.params).max() < 1e-9
        assert gnorm[r] < 1e-6
