"""Cross-check against LMArena's own package ``arena-rank`` (skipped when it is not installed).

Same battles, same options -> the same ratings and sandwich intervals within 0.05
rating points, and the same style coefficients. ``arena-rank`` is a reference
for tests only (``pip install arena-rank`` pulls in JAX), never a dependency.

How the options map (docs/ratings.md, "Style control and LMArena's method"):

* arena-rank's ``reg`` penalises the *mean* log-likelihood; our ``penalty`` the
  sum: ``penalty = reg * n``;
* arena-rank centres and scales the features by their sd; we scale by the root
  mean square and do not centre. To compare the fits themselves, arena-rank is
  given our scaled features with ``normalize_features=False``;
* its reweighted contextual weights are ``1/max(pair count, 50)`` scaled to mean 1,
  as ours.
"""

from __future__ import annotations

import numpy as np
import pytest

from rating.reweight import inverse_pair_weights
from rating.style import StyleBattles, rate_style, standardize
from tests.rating.style_simulation import simulate_style

ar = pytest.importorskip("arena_rank", reason="arena-rank is not installed")
jnp = pytest.importorskip("jax.numpy")

from arena_rank.models.bradley_terry import BradleyTerry  # noqa: E402 (after importorskip)
from arena_rank.models.contextual_bradley_terry import ContextualBradleyTerry  # noqa: E402 (after importorskip)
from arena_rank.utils.data_utils import ContextualPairDataset, PairDataset  # noqa: E402 (after importorskip)

TOL = 0.05  # rating points


def _data(seed=0, n=30000, m=8):
    rng = np.random.default_rng(seed)
    b, _ = simulate_style(n, rng, m=m, verbose_model=2, tie_rate=0.15)
    # make some pairs much more frequent, so reweighting matters
    extra, _ = simulate_style(n // 2, rng, m=m, verbose_model=2, tie_rate=0.15)
    keep = (extra.a < 3) & (extra.b < 3)
    a = np.r_[b.a, extra.a[keep]]
    bb = np.r_[b.b, extra.b[keep]]
    y = np.r_[b.outcome, extra.outcome[keep]]
    z = np.r_[b.z, extra.z[keep]]
    return a, bb, y, z, b.models


def _by_model(result, models):
    idx = [result.models.index(name) for name in models]
    return result.rating[idx], result.ci_low[idx], result.ci_high[idx]


@pytest.mark.parametrize("reweighted", [False, True])
def test_style_control_matches_arena_rank(reweighted):
    a, b, y, z, models = _data()
    n, m = a.size, len(models)
    w = inverse_pair_weights(a, b, m) if reweighted else np.ones(n)
    zs, _, _ = standardize(z)
    reg = 1e-3  # on arena-rank's mean loss
    ours = rate_style(StyleBattles(a, b, y, z, w, models), ci="sandwich", penalty=reg * n)
    data = ContextualPairDataset(
        competitors=models,
        pairs=jnp.asarray(np.column_stack([a, b]), dtype=jnp.int32),
        outcomes=jnp.asarray(y),
        features=jnp.asarray(zs),
        weights=jnp.asarray(w),
    )
    model = ContextualBradleyTerry(m, zs.shape[1], reg=reg)
    theirs = model.compute_ratings_and_cis(data, ci_method="sandwich")
    r, lo, hi = _by_model(ours, models)
    their_r = np.asarray(theirs["ratings"])
    their_r = their_r - their_r.mean() + 1000.0  # both centre at 1000; remove round-off
    np.testing.assert_allclose(r, their_r, atol=TOL)
    np.testing.assert_allclose(
        hi - r, np.asarray(theirs["rating_upper"] - theirs["ratings"]), atol=TOL
    )
    np.testing.assert_allclose(
        r - lo, np.asarray(theirs["ratings"] - theirs["rating_lower"]), atol=TOL
    )
    gamma = np.array([c["gamma"] for c in ours.meta["style"]["coefficients"].values()])
    np.testing.assert_allclose(gamma, np.asarray(theirs["coeffs"]), atol=1e-4)


def test_reweighted_plain_bt_matches_arena_rank():
    a, b, y, _, models = _data(seed=1)
    n, m = a.size, len(models)
    w = inverse_pair_weights(a, b, m)
    ours = rate_style(
        StyleBattles(a, b, y, np.zeros((n, 0)), w, models, ()), ci="sandwich", penalty=0.0
    )
    # arena-rank's PairDataset aggregates identical (a, b, outcome) rows with their counts
    rows = np.column_stack([a, b, y])
    uniq, counts = np.unique(rows, axis=0, return_counts=True)
    pair = np.sort(uniq[:, :2].astype(int), axis=1)
    _, pinv = np.unique(pair, axis=0, return_inverse=True)
    pair_n = np.bincount(pinv.ravel(), counts)[pinv.ravel()]
    weights = 1.0 / np.maximum(pair_n, 50)
    data = PairDataset(
        competitors=models,
        pairs=jnp.asarray(uniq[:, :2].astype(np.int32)),
        outcomes=jnp.asarray(uniq[:, 2]),
        counts=jnp.asarray(counts.astype(float)),
        weights=jnp.asarray(weights),
        opt_weights=jnp.asarray(weights * counts),
    )
    theirs = BradleyTerry(m).compute_ratings_and_cis(data, ci_method="sandwich")
    r, lo, hi = _by_model(ours, models)
    assert np.all(lo < r)
    their_r = np.asarray(theirs["ratings"])
    their_r = their_r - their_r.mean() + 1000.0
    np.testing.assert_allclose(r, their_r, atol=TOL)
    np.testing.assert_allclose(
        hi - r, np.asarray(theirs["rating_upper"] - theirs["ratings"]), atol=TOL
    )
