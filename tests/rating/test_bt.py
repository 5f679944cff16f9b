import choix
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rating import bt, counts, engine, graph
from rating.errors import RatingError


def _pairs(left, right, outcome, m):
    names = [f"m{k}" for k in range(m)]
    onehot = np.zeros((len(left), 4))
    onehot[np.arange(len(left)), outcome] = 1
    return counts.pair_counts(left, right, onehot, names)


def test_golden_two_models():
    # 3 wins to 1: strength ratio 3, rating gap 400*log10(3).
    pc = counts.pair_counts([0, 1], [1, 0], [[3, 0, 0, 0], [1, 0, 0, 0]], ["a", "b"])
    r = engine.rate(pc, ci="none")
    assert r.models == ["a", "b"]
    assert r.rating[0] - r.rating[1] == pytest.approx(400 * np.log10(3), abs=1e-9)
    assert (r.rating[0] + r.rating[1]) / 2 == pytest.approx(1000, abs=1e-9)
    assert list(r.wins) == [3, 1] and list(r.losses) == [1, 3]


def test_ties_count_half():
    # 2 wins, 0 losses, 2 ties == 3 : 1 win mass.
    pc = counts.pair_counts([0], [1], [[2, 0, 1, 1]], ["a", "b"])
    r = engine.rate(pc, ci="none")
    assert r.rating[0] - r.rating[1] == pytest.approx(400 * np.log10(3), abs=1e-9)
    assert r.ties[0] == 2


def test_golden_three_models():
    # A cycle-free case solved by hand: a beats b 2:1, b beats c 2:1, a beats c 4:1.
    pc = counts.pair_counts(
        [0, 1, 0], [1, 2, 2], [[2, 1, 0, 0], [2, 1, 0, 0], [4, 1, 0, 0]], list("abc")
    )
    r = engine.rate(pc, ci="none")
    theta = (np.array(r.rating) - 1000) / bt.POINTS_PER_LOG_UNIT
    # Stationarity: every model's observed wins equal its expected wins.
    by = dict(zip(r.models, theta))
    p = lambda x, y: 1 / (1 + np.exp(by[y] - by[x]))  # noqa: E731 (a one-line local helper)
    assert pytest.approx(3 * p("a", "b") + 5 * p("a", "c"), abs=1e-9) == 2 + 4
    assert pytest.approx(3 * p("b", "a") + 3 * p("b", "c"), abs=1e-9) == 1 + 2
    assert r.meta["grad_norm"] < 1e-10


def test_matches_choix_and_gradient_zero():
    rng = np.random.default_rng(1)
    theta = rng.normal(0, 1, 15)
    from tests.rating.simulation import simulate

    left, right, out = simulate(theta, 5000, rng, nu=0.5)
    pc = _pairs(left, right, out, 15)
    i, j, wi, wj, t = pc.unordered()
    w, n = wi + t / 2, wi + wj + t
    f = bt.fit(i, j, w, n, 15)
    assert np.linalg.norm(bt.gradient(f.theta, i, j, w, n, 15)) < 1e-10
    comp = np.zeros((15, 15))
    np.add.at(comp, (i, j), w)
    np.add.at(comp, (j, i), wj + t / 2)
    ref = choix.ilsr_pairwise_dense(comp, tol=1e-13, max_iter=100000)
    assert np.abs(bt.POINTS_PER_LOG_UNIT * (f.theta - (ref - ref.mean()))).max() < 1e-6
    r_choix = engine.rate(pc, ci="none", solver="choix")
    r_exact = engine.rate(pc, ci="none")
    assert r_choix.models == r_exact.models
    assert np.abs(r_choix.rating - r_exact.rating).max() < 1e-6


def test_choix_bootstrap_survives_replicates_without_a_finite_maximum():
    # Few battles: many replicates lose a model's only loss. Each such replicate
    # gets the tiny prior (as the exact solver does) instead of crashing choix.
    pc = counts.pair_counts(
        [0, 1, 2, 0, 1],
        [1, 2, 3, 3, 3],
        [[2, 1, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0]],
        ["a", "b", "c", "d"],
    )
    exact = engine.rate(pc, rounds=200, seed=1)
    assert exact.meta["bootstrap_prior_rounds"] > 0
    r = engine.rate(pc, rounds=200, seed=1, solver="choix")
    assert np.all(np.isfinite(r.replicates))
    assert np.all(r.ci_low < r.rating) and np.all(r.rating < r.ci_high)
    assert np.abs(r.rating - exact.rating).max() < 1e-6


def test_batched_fit_equals_single_fits():
    rng = np.random.default_rng(2)
    from tests.rating.simulation import simulate

    left, right, out = simulate(rng.normal(0, 1, 8), 2000, rng)
    i, j, wi, wj, t = _pairs(left, right, out, 8).unordered()
    draws = rng.poisson(np.r_[wi, wj, t], size=(5, 3 * len(i))).astype(float).T
    q = len(i)
    w = draws[:q] + draws[2 * q :] / 2  # one column per replicate
    n = draws[:q] + draws[q : 2 * q] + draws[2 * q :]
    batch, gnorm = bt.ReplicateSolver(i, j, 8).fit_many(w, n, np.zeros(8), tol=1e-12)
    assert gnorm.max() < 1e-9
    for r in range(5):
        assert np.abs(batch[:, r] - bt.fit(i, j, w[:, r], n[:, r], 8).theta).max() < 1e-10


def test_never_lost_model_gets_documented_prior():
    # "a" beat everyone and never lost: the maximum-likelihood rating is infinite.
    left = [0, 0, 1, 2, 1]
    right = [1, 2, 2, 1, 2]
    out = [0, 0, 0, 0, 1]
    pc = _pairs(left, right, out, 3)
    i, j, wi, wj, t = pc.unordered()
    assert not graph.mle_exists(i, j, wi + t / 2, wj + t / 2, 3)
    r = engine.rate(pc, rounds=50)
    assert r.meta["prior"] == bt.DEFAULT_PRIOR
    assert r.meta["prior_reason"]["never_lost"] == ["m0"]
    assert np.all(np.isfinite(r.rating)) and r.models[0] == "m0"
    assert r.rating[0] - r.rating[1] > 300


def test_anchor_applies_to_point_and_replicates():
    rng = np.random.default_rng(3)
    from tests.rating.simulation import simulate

    left, right, out = simulate(rng.normal(0, 1, 5), 3000, rng)
    pc = _pairs(left, right, out, 5)
    plain = engine.rate(pc, rounds=100)
    anchored = engine.rate(pc, rounds=100, anchor=("m2", 1500.0))
    k = anchored.models.index("m2")
    assert anchored.rating[k] == pytest.approx(1500.0)
    assert np.allclose(anchored.replicates[:, k], 1500.0)
    assert anchored.ci_low[k] == pytest.approx(1500.0) and anchored.ci_high[k] == pytest.approx(
        1500.0
    )
    shift = 1500.0 - plain.rating[plain.models.index("m2")]
    assert np.allclose(anchored.rating, plain.rating + shift)
    with pytest.raises(engine.RatingError, match="anchor model 'nope'"):
        engine.rate(pc, ci="none", anchor=("nope", 1000.0))


def test_bootstrap_replicate_without_finite_maximum_gets_prior():
    # "c" won once in 10: many replicates drop that win, so "c" never won there.
    rows = [(0, 1, [30, 20, 5, 0]), (0, 2, [5, 1, 0, 0]), (1, 2, [4, 0, 0, 0])]
    left, right, c = zip(*rows)
    pc = counts.pair_counts(left, right, c, list("abc"))
    r = engine.rate(pc, rounds=200, seed=3)
    assert r.meta["prior"] == 0.0
    assert 20 < r.meta["bootstrap_prior_rounds"] < 150
    assert np.all(np.isfinite(r.replicates))
    assert r.meta["bootstrap_max_grad_norm"] < 1e-8


@settings(max_examples=40, deadline=None)
@given(
    st.integers(3, 7).flatmap(
        lambda m: st.tuples(
            st.just(m),
            st.lists(
                st.tuples(st.integers(1, 30), st.integers(1, 30), st.integers(0, 10)),
                min_size=m * (m - 1) // 2,
                max_size=m * (m - 1) // 2,
            ),
        )
    )
)
def test_property_optimum_matches_choix_on_complete_graphs(case):
    # Every pair played and each side won at least once: the maximum is finite.
    m, cells = case
    i, j = np.triu_indices(m, 1)
    wi, wj, t = (np.array(c, float) for c in zip(*cells))
    f = bt.fit(i, j, wi + t / 2, wi + wj + t, m)
    assert np.linalg.norm(bt.gradient(f.theta, i, j, wi + t / 2, wi + wj + t, m)) < 1e-9
    comp = np.zeros((m, m))
    comp[i, j] = wi + t / 2
    comp[j, i] = wj + t / 2
    ref = choix.ilsr_pairwise_dense(comp, tol=1e-13, max_iter=100000)
    assert np.abs(bt.POINTS_PER_LOG_UNIT * (f.theta - (ref - ref.mean()))).max() < 1e-5
    # Relabelling the models permutes the answer.
    perm = np.random.default_rng(m).permutation(m)
    g = bt.fit(perm[i], perm[j], wi + t / 2, wi + wj + t, m)
    assert np.allclose(g.theta[perm], f.theta, atol=1e-9)


def test_choix_refuses_counts_that_need_the_prior():
    # "a" never lost: the maximum is infinite and the exact solver uses the Gaussian prior.
    # choix's ILSR alpha is not that prior (it gave 1418.8 where the prior gives 1496.7),
    # so the choix solver refuses rather than report other ratings under meta.prior.
    pc = counts.pair_counts(
        [0, 0, 1],
        [1, 2, 2],
        [[3, 0, 0, 0], [2, 0, 0, 0], [2, 1, 1, 0]],
        ["a", "b", "c"],
    )
    exact = engine.rate(pc, ci="none")
    assert exact.meta["prior"] == bt.DEFAULT_PRIOR
    with pytest.raises(RatingError, match=r"choix.*prior"):
        engine.rate(pc, ci="none", solver="choix")
    with pytest.raises(RatingError, match=r"choix.*prior"):
        engine.rate(pc, ci="none", solver="choix", prior=0.5)
