"""Rank correlation between two rankings, with its bootstrap interval (rating.rank_agreement)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from rating.rank_agreement import rank_correlation


def test_same_and_reversed_order():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    same = rank_correlation(x, x * 10 + 3)
    assert same["spearman"]["value"] == pytest.approx(1.0)
    assert same["kendall"]["value"] == pytest.approx(1.0)
    assert same["rounds"] == 0 and same["spearman"]["low"] is None
    back = rank_correlation(x, -x)
    assert back["spearman"]["value"] == pytest.approx(-1.0)
    assert back["kendall"]["value"] == pytest.approx(-1.0)


def test_too_few_models_and_bad_shapes():
    two = rank_correlation(np.array([1.0, 2.0]), np.array([2.0, 1.0]))
    assert two["spearman"]["value"] is None and two["models"] == 2
    with pytest.raises(ValueError):
        rank_correlation(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError):
        rank_correlation(np.zeros(3), np.zeros(3), np.zeros((5, 3)), np.zeros((5, 4)))


def test_interval_covers_the_true_correlation():
    """Two noisy rankings of related true strengths: the basic bootstrap interval from
    paired replicates covers the true strengths' correlation at close to 95%."""
    rng = np.random.default_rng(1)
    n = 30
    s = np.linspace(0, 3, n)
    t = s + rng.normal(0, 0.5, n)  # the judge's true strengths: related, not equal
    truth = stats.spearmanr(s, t).statistic
    covered, runs = 0, 60
    for _ in range(runs):
        x, y = s + rng.normal(0, 0.3, n), t + rng.normal(0, 0.3, n)
        xr, yr = x + rng.normal(0, 0.3, (100, n)), y + rng.normal(0, 0.3, (100, n))
        r = rank_correlation(x, y, xr, yr)
        assert r["rounds"] == 100 and r["interval"] == "basic bootstrap"
        assert -1 <= r["spearman"]["low"] <= r["spearman"]["high"] <= 1
        covered += r["spearman"]["low"] <= truth <= r["spearman"]["high"]
    assert covered >= 51, covered  # 0.85 of the runs; the percentile interval: 1 in 200


def test_kendall_matches_scipy_with_ties():
    from rating.rank_agreement import _kendall_rows

    rng = np.random.default_rng(5)
    x = rng.integers(0, 6, (40, 25)).astype(float)  # many ties
    y = x + rng.integers(0, 3, (40, 25))
    want = [stats.kendalltau(x[r], y[r]).statistic for r in range(40)]
    assert _kendall_rows(x, y, chunk_cells=1000) == pytest.approx(want)
