"""Normalization, weights and aggregators: golden values."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rating.composite.aggregate import borda_points, combine, coverage, signal_scale
from rating.composite.blend import Signal, blend
from rating.composite.normalize import minmax, normalize, percentile, zscore
from rating.composite.weights import WeightError, normalize_weights, parse_weight

NAN = np.nan


def test_minmax_golden_and_missing():
    out = minmax(np.array([2.0, 4.0, NAN, 3.0]))
    assert out[[0, 1, 3]].tolist() == [0.0, 1.0, 0.5]
    assert np.isnan(out[2])


def test_minmax_constant_and_single_value_are_neutral():
    assert minmax(np.array([5.0, 5.0])).tolist() == [0.5, 0.5]
    out = minmax(np.array([NAN, 7.0]))
    assert np.isnan(out[0]) and out[1] == 0.5


def test_percentile_average_ties():
    out = percentile(np.array([1.0, 2.0, 2.0, 3.0, NAN]))
    assert out[:4].tolist() == [0.0, 0.5, 0.5, 1.0]
    assert np.isnan(out[4])


def test_zscore_population_sd():
    out = zscore(np.array([1.0, 2.0, 3.0, NAN]))
    sd = np.sqrt(2 / 3)
    np.testing.assert_allclose(out[:3], [-1 / sd, 0, 1 / sd])
    assert zscore(np.array([4.0, 4.0])).tolist() == [0.0, 0.0]


def test_normalize_along_last_axis_per_replicate():
    draws = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    np.testing.assert_allclose(normalize(draws, "minmax"), [[0, 0.5, 1], [1, 0.5, 0]])
    np.testing.assert_allclose(normalize(draws, "percentile"), [[0, 0.5, 1], [1, 0.5, 0]])


def test_unknown_normalization():
    with pytest.raises(ValueError, match="unknown normalization 'rank'"):
        normalize(np.ones(2), "rank")


def test_weights_not_summing_to_one_are_rescaled():
    assert normalize_weights({"arena": 3, "benchmarks": 1}) == {"arena": 0.75, "benchmarks": 0.25}
    w = normalize_weights(
        {
            "arena": 0.5,
            "benchmarks": 0.3,
            "popularity": 0.1,
            "recency": 0.05,
            "efficiency": 0.05,
            "benchmarks.bbh": 0.5,
        }
    )
    assert sum(w.values()) == pytest.approx(1.0)
    assert w["benchmarks.bbh"] == pytest.approx(0.5 / 1.5)


def test_zero_weights_drop_out():
    assert normalize_weights({"arena": 1, "popularity": 0}) == {"arena": 1.0}


@pytest.mark.parametrize(
    "weights, message",
    [
        ({"arena": 1, "vibes": 1}, "unknown signal 'vibes'"),
        ({"benchmarks.": 1}, "unknown signal 'benchmarks.'"),
        ({"arena": -1}, "must be a finite number >= 0"),
        ({"arena": 0}, "every weight is zero"),
        ({"arena": "lots"}, "is not a number"),
    ],
)
def test_bad_weights_name_the_problem(weights, message):
    with pytest.raises(WeightError, match=message):
        normalize_weights(weights)


def test_parse_weight():
    assert parse_weight("benchmarks.mmlu_pro=0.25") == ("benchmarks.mmlu_pro", 0.25)
    with pytest.raises(WeightError, match="not SIGNAL=W"):
        parse_weight("arena")
    with pytest.raises(WeightError, match="unknown signal 'speed'"):
        parse_weight("speed=1")


def test_missing_signal_is_scored_over_the_others_with_coverage():
    weights = {"a": 0.5, "b": 0.3, "c": 0.2}
    scaled = {
        "a": np.array([1.0, 0.0, NAN]),
        "b": np.array([0.0, 1.0, 1.0]),
        "c": np.array([NAN, 0.5, NAN]),
    }
    score = combine(scaled, weights)
    np.testing.assert_allclose(score, [0.5 / 0.8, (0.3 + 0.1) / 1.0, 1.0])
    cov = coverage({k: ~np.isnan(v) for k, v in scaled.items()}, weights)
    np.testing.assert_allclose(cov, [0.8, 1.0, 0.3])


def test_winrate_is_share_of_models_beaten_and_borda_penalizes_sparse_signals():
    x = np.array([3.0, 1.0, 2.0, NAN])
    np.testing.assert_allclose(signal_scale(x, "zscore", "winrate")[:3], [1.0, 0.0, 0.5])
    # Borda: points over the pool size minus one (4 models): a signal only 3 have gives less
    np.testing.assert_allclose(borda_points(x)[:3], [2 / 3, 0.0, 1 / 3])
    full = np.array([3.0, 1.0, 2.0, 0.0])
    np.testing.assert_allclose(signal_scale(full, "minmax", "winrate"), borda_points(full))


_values = st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), min_size=2, max_size=12)


@settings(max_examples=60, deadline=None)
@given(
    a=_values,
    b=_values,
    wa=st.floats(0.01, 10),
    wb=st.floats(0.01, 10),
    method=st.sampled_from(["minmax", "percentile"]),
    aggregate=st.sampled_from(["mean", "winrate", "borda"]),
)
def test_blend_invariants(a, b, wa, wb, method, aggregate):
    n = min(len(a), len(b))
    va = np.array([np.nan if x is None else x for x in a[:n]])
    vb = np.array([np.nan if x is None else x for x in b[:n]])
    w = normalize_weights({"arena": wa, "benchmarks": wb})
    rng = np.random.default_rng(0)
    sigs = {
        "arena": Signal("arena", va, va + rng.normal(0, 1, (20, n))),
        "benchmarks": Signal("benchmarks", vb),
    }
    res = blend(sigs, w, n, normalize=method, aggregate=aggregate, replicates=20)
    ok = res.eligible
    assert np.all(ok == (~np.isnan(va) | ~np.isnan(vb)))
    assert np.all((res.score[ok] >= -1e-12) & (res.score[ok] <= 1 + 1e-12))
    assert np.all(res.ci_low[ok] <= res.score[ok] + 1e-12)
    assert np.all(res.score[ok] <= res.ci_high[ok] + 1e-12)
    assert np.all((res.coverage >= 0) & (res.coverage <= 1 + 1e-12))
    if ok.any():
        assert res.rank[ok].min() == 1 and res.tier[ok].min() == 1
        assert np.all(res.rank_ub[ok] <= res.rank[ok])
