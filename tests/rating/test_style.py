"""Style control (contextual Bradley-Terry): features, the fit, its intervals, planted effects."""

from __future__ import annotations

import numpy as np
import pytest

from rating.errors import RatingError
from rating.style import StyleBattles, fit_style, rate_style
from rating.style_features import (
    FEATURES,
    answer_features,
    battle_features,
    conversation_features,
    count_tokens,
)
from tests.rating.style_simulation import simulate_style

Z95 = 1.959963984540054


def test_token_rule_counts_word_runs_and_marks():
    assert count_tokens("Hello, world!") == 4
    assert count_tokens("") == 0
    assert count_tokens("naïve café 3.14") == 5  # naïve, café, 3, ., 14


def test_answer_features_counts_headers_lists_bold_outside_code():
    text = (
        "# Title\n"
        "Some **bold** and __also bold__ and `**not bold**`.\n"
        "## Part\n"
        "- one\n"
        "* two\n"
        "  + nested\n"
        "1. first\n"
        "2) second\n"
        "####### not a header\n"
        "#nospace is not a header\n"
        "```\n"
        "# a comment in code\n"
        "- not a list\n"
        "**not bold**\n"
        "```\n"
        "-not a list either\n"
    )
    f = answer_features(text)
    assert f["headers"] == 2
    assert f["lists"] == 5
    assert f["bold"] == 2
    assert f["tokens"] == count_tokens(text)
    assert answer_features(None) == dict.fromkeys(FEATURES, 0)


def test_conversation_features_sum_assistant_turns_only():
    conv = [
        {"role": "user", "content": "# ask\n- x"},
        {"role": "assistant", "content": "# one"},
        {"role": "user", "content": "more"},
        {"role": "assistant", "content": "- a\n- b **c**"},
    ]
    f = conversation_features(conv)
    assert f == {
        "tokens": count_tokens("# one") + count_tokens("- a\n- b **c**"),
        "headers": 1,
        "lists": 2,
        "bold": 1,
    }


def test_battle_features_relative_difference_zero_when_both_zero():
    z = battle_features([[10, 0, 3, 0]], [[30, 0, 1, 0]])
    assert z.tolist() == [[-0.5, 0.0, 0.5, 0.0]]
    with pytest.raises(ValueError):
        battle_features([[-1, 0, 0, 0]], [[1, 0, 0, 0]])


def _small(rng, n=3000, m=6):
    b, _ = simulate_style(n, rng, m=m, verbose_model=1, tie_rate=0.2)
    return b


def test_weights_equal_duplicated_battles():
    rng = np.random.default_rng(1)
    b = _small(rng)
    twice = b.subset(np.r_[np.arange(b.a.size), np.arange(500)])
    w = np.ones(b.a.size)
    w[:500] = 2.0
    weighted = StyleBattles(b.a, b.b, b.outcome, b.z, w, b.models)
    # without a penalty the feature scale is only a reparametrization
    f1 = fit_style(twice, ci="none", penalty=0.0)
    f2 = fit_style(weighted, ci="none", penalty=0.0)
    assert f1.grad_norm < 1e-8 and f2.grad_norm < 1e-8
    np.testing.assert_allclose(f1.theta, f2.theta, atol=1e-9)
    np.testing.assert_allclose(f1.gamma / f1.sd, f2.gamma / f2.sd, rtol=1e-7)


def test_swapping_the_sides_of_a_battle_changes_nothing():
    rng = np.random.default_rng(11)
    b = _small(rng)
    flip = rng.random(b.a.size) < 0.5
    swapped = StyleBattles(
        np.where(flip, b.b, b.a),
        np.where(flip, b.a, b.b),
        np.where(flip, 1.0 - b.outcome, b.outcome),
        np.where(flip[:, None], -b.z, b.z),
        None,
        b.models,
    )
    f1, f2 = fit_style(b), fit_style(swapped)
    np.testing.assert_allclose(f1.theta, f2.theta, atol=1e-9)
    np.testing.assert_allclose(f1.gamma, f2.gamma, atol=1e-9)
    np.testing.assert_allclose(f1.cov, f2.cov, atol=1e-12)


def test_tie_is_half_a_win_each_way():
    rng = np.random.default_rng(2)
    b = _small(rng)
    tie = b.outcome == 0.5
    # a tie as two half-weight battles, one won by each side
    rows = np.r_[np.arange(b.a.size), np.flatnonzero(tie)]
    y = np.r_[np.where(tie, 1.0, b.outcome), np.zeros(tie.sum())]
    w = np.r_[np.where(tie, 0.5, 1.0), np.full(tie.sum(), 0.5)]
    split = StyleBattles(b.a[rows], b.b[rows], y, b.z[rows], w, b.models)
    f1 = fit_style(b, ci="none", penalty=0.0)
    f2 = fit_style(split, ci="none", penalty=0.0)
    np.testing.assert_allclose(f1.theta, f2.theta, atol=1e-9)
    np.testing.assert_allclose(f1.gamma / f1.sd, f2.gamma / f2.sd, rtol=1e-7)


def test_merging_identical_rows_changes_nothing():
    rng = np.random.default_rng(3)
    b = _small(rng, n=2000)
    z = np.round(b.z, 1)  # coarse features: many identical rows merge
    coarse = StyleBattles(b.a, b.b, b.outcome, z, None, b.models)
    f = fit_style(coarse, ci="sandwich")
    # the same battles with jittered-apart features of size 1e-13 do not merge
    jitter = StyleBattles(
        b.a, b.b, b.outcome, z + 1e-13 * rng.standard_normal(z.shape), None, b.models
    )
    g = fit_style(jitter, ci="sandwich")
    np.testing.assert_allclose(f.theta, g.theta, atol=1e-8)
    np.testing.assert_allclose(f.gamma, g.gamma, atol=1e-8)
    np.testing.assert_allclose(f.cov, g.cov, atol=1e-9)


def test_penalty_shrinks_only_gamma_and_default_barely_does():
    rng = np.random.default_rng(4)
    b, _ = simulate_style(20000, rng, m=8, verbose_model=1, tie_rate=0.0)
    free = fit_style(b, penalty=0.0, ci="none")
    default = fit_style(b, ci="none")
    heavy = fit_style(b, penalty=1.0 * b.a.size, ci="none")  # arena-rank's reg=1 on a mean
    assert abs(default.gamma[0] - free.gamma[0]) < 1e-3
    assert heavy.gamma[0] < 0.25 * free.gamma[0]


def test_planted_length_effect_plain_bt_is_fooled_style_control_is_not():
    rng = np.random.default_rng(5)
    theta = np.linspace(-1.0, 1.0, 10)
    verbose = 2  # a weak model that writes three times longer answers
    b, truth = simulate_style(40000, rng, theta=theta, verbose_model=verbose, tie_rate=0.0)
    res = rate_style(b)
    true_rating = 1000 + 400 / np.log(10) * truth
    plain = res.meta["style"]["plain_bt"]["m02"]
    row = next(r for r in res.rows() if r["model"] == "m02")
    # plain BT rates it far above its true strength and above stronger models
    assert plain["rating"] - true_rating[verbose] > 40
    assert plain["position"] < 10 - verbose
    # style control puts it back: the truth is inside its interval (up to the common shift)
    shift = np.mean([r["rating"] for r in res.rows()]) - np.mean(true_rating)
    assert row["ci_low"] - shift <= true_rating[verbose] <= row["ci_high"] - shift
    assert row["rank_ub"] >= 10 - verbose - 1
    assert plain["rank_change"] < 0  # it moved down the table
    tokens = res.meta["style"]["coefficients"]["tokens"]
    assert tokens["ci_low"] > 0.2  # a real, sizeable length effect is found
    for name in ("headers", "lists", "bold"):
        c = res.meta["style"]["coefficients"][name]
        assert abs(c["gamma"]) < 0.06  # no effect planted


def test_gamma_and_strength_intervals_cover_at_about_the_nominal_rate():
    rng = np.random.default_rng(6)
    hits_g, hits_t, reps = 0, 0, 60
    for _ in range(reps):
        b, truth = simulate_style(8000, rng, m=8, verbose_model=1, tie_rate=0.0)
        f = fit_style(b, ci="sandwich")
        se = np.sqrt(np.diag(f.cov))
        hits_g += abs(f.gamma[0] - 0.35) <= Z95 * se[8]
        hits_t += abs((f.theta[1] - f.theta[0]) - (truth[1] - truth[0])) <= Z95 * np.sqrt(
            f.cov[1, 1] + f.cov[0, 0] - 2 * f.cov[0, 1]
        )
    assert 0.85 <= hits_g / reps <= 1.0
    assert 0.85 <= hits_t / reps <= 1.0


def test_bootstrap_covers_and_agrees_with_the_sandwich():
    rng = np.random.default_rng(7)
    hits, reps = 0, 20
    ratio = []
    for _ in range(reps):
        b, _ = simulate_style(4000, rng, m=6, verbose_model=1, tie_rate=0.0)
        f = fit_style(b, ci="bootstrap", rounds=60, seed=int(rng.integers(1 << 30)))
        lo, hi = np.quantile(f.replicates[:, 6], [0.025, 0.975])
        hits += lo <= 0.35 <= hi
        s = fit_style(b, ci="sandwich")
        ratio.append(f.replicates[:, 6].std() / np.sqrt(s.cov[6, 6]))
    assert hits / reps >= 0.8
    assert 0.75 < np.median(ratio) < 1.3


def test_rate_style_meta_and_anchor():
    rng = np.random.default_rng(8)
    b, _ = simulate_style(5000, rng, m=5, verbose_model=0)
    res = rate_style(b, anchor=("m04", 1200.0), ci="sandwich")
    row = next(r for r in res.rows() if r["model"] == "m04")
    assert row["rating"] == pytest.approx(1200.0)
    assert row["ci_low"] == pytest.approx(1200.0) and row["ci_high"] == pytest.approx(1200.0)
    assert res.meta["style_control"] is True and res.meta["method"] == "bt"
    assert set(res.meta["style"]["coefficients"]) == set(FEATURES)
    assert set(res.meta["style"]["plain_bt"]) == set(res.models)
    boot = rate_style(b, ci="bootstrap", rounds=30)
    assert boot.replicates.shape == (30, 5)
    assert np.all(boot.ci_low <= boot.rating) and np.all(boot.rating <= boot.ci_high)


def test_bad_input_is_refused():
    with pytest.raises(RatingError, match="outcome"):
        StyleBattles([0], [1], [2.0], [[0, 0, 0, 0]], None, ["a", "b"])
    with pytest.raises(RatingError, match="itself"):
        StyleBattles([0], [0], [1.0], [[0, 0, 0, 0]], None, ["a", "b"])
    disconnected = StyleBattles(
        [0, 1, 2, 3], [1, 0, 3, 2], [1, 1, 1, 1], np.zeros((4, 4)), None, ["a", "b", "c", "d"]
    )
    with pytest.raises(RatingError, match="not connected"):
        rate_style(disconnected)


def test_bootstrap_replicates_are_exact_refits_of_their_draws():
    from rating import style_fit, style_rows

    rng = np.random.default_rng(9)
    b, _ = simulate_style(6000, rng, m=6, verbose_model=1, tie_rate=0.1)
    z, _, _ = style_rows.standardize(b.z)
    rows = style_rows.merge_rows(b.a, b.b, b.outcome, z, b.weight, 6)
    x_hat, _, _ = style_fit.fit_rows(rows, 1.0)
    reps = style_fit.bootstrap(rows, x_hat, 1.0, 0.0, rounds=3, seed=5)
    # replay the same draws and refit each exactly by Newton
    g = np.random.default_rng(5)
    n = int(rows.count.sum())
    battle_row = np.repeat(np.arange(rows.count.size), rows.count.astype(int))
    for r in range(3):
        times = np.bincount(battle_row[g.integers(0, n, n)], minlength=rows.count.size)
        unit_win = rows.win / rows.count
        exact, _, gn = style_fit.fit_rows(
            rows, 1.0, win=unit_win * times, mass=times.astype(float), tol=1e-11
        )
        assert gn < 1e-8
        np.testing.assert_allclose(reps[r], exact, atol=2e-5)
