"""LMArena's options: inverse pair-frequency weights, prompt de-duplication, a daily cap."""

from __future__ import annotations

import numpy as np
import pytest

from rating.errors import RatingError
from rating.reweight import inverse_pair_weights
from rating.style import StyleBattles, rate_style
from rating.vote_filters import anonymous_votes, cap_per_rater_day, dedup_prompts
from tests.rating.style_simulation import simulate_style


def test_inverse_pair_weights_follow_the_rule_and_have_mean_one():
    a = np.r_[np.zeros(100), np.zeros(10), np.ones(70)].astype(int)
    b = np.r_[np.ones(100), np.full(10, 2), np.full(70, 2)].astype(int)
    w = inverse_pair_weights(a[::-1], b[::-1], 3)  # order does not matter
    raw = np.r_[np.full(100, 1 / 100), np.full(10, 1 / 50), np.full(70, 1 / 70)][::-1]
    np.testing.assert_allclose(w, raw / raw.mean())
    assert w.mean() == pytest.approx(1.0)
    # pair (1, 0) and (0, 1) are one pair
    np.testing.assert_allclose(inverse_pair_weights([0, 1], [1, 0], 2, 1), [1.0, 1.0])
    with pytest.raises(RatingError):
        inverse_pair_weights([0], [1], 2, 0)


def test_reweighting_widens_intervals_of_models_seen_in_one_frequent_pair():
    rng = np.random.default_rng(2)
    b, _ = simulate_style(20000, rng, m=6, tie_rate=0.1)
    # make pair (0, 1) ten times as frequent
    extra, _ = simulate_style(40000, rng, m=6, tie_rate=0.1)
    sel = ((extra.a == 0) & (extra.b == 1)) | ((extra.a == 1) & (extra.b == 0))
    both = b.subset(np.arange(b.a.size))
    more = extra.subset(sel)
    a = np.r_[both.a, more.a]
    bb = np.r_[both.b, more.b]
    y = np.r_[both.outcome, more.outcome]
    z = np.r_[both.z, more.z]
    plain = rate_style(StyleBattles(a, bb, y, z, None, b.models))
    w = inverse_pair_weights(a, bb, 6)
    rew = rate_style(StyleBattles(a, bb, y, z, w, b.models))
    width = lambda r, name: r.ci_high[r.models.index(name)] - r.ci_low[r.models.index(name)]  # noqa: E731 (a one-line local helper)
    # the frequent pair's information is down-weighted: m00 and m01 lose precision
    grow = {n: width(rew, n) / width(plain, n) for n in b.models}
    assert grow["m00"] > 1.03 and grow["m01"] > 1.03
    assert min(grow["m00"], grow["m01"]) > max(grow[n] for n in ("m02", "m03", "m04", "m05"))


def test_dedup_caps_prompts_above_the_quantile_and_is_seeded():
    keys = ["hello"] * 300 + ["hi"] * 40 + [f"p{k}" for k in range(3000)] + [None, ""]
    keep, info = dedup_prompts(keys)
    counts = np.quantile(np.r_[300, 40, np.ones(3000)], 0.999)
    cap = int(np.ceil(counts))
    kept = np.array(keys, dtype=object)[keep]
    assert (kept == "hello").sum() == cap
    assert (kept == "hi").sum() == min(40, cap)
    assert keep[-2:].all()  # unknown prompts are kept
    assert info["votes_dropped"] == (~keep).sum()
    keep2, _ = dedup_prompts(keys)
    assert (keep == keep2).all()
    keep3, _ = dedup_prompts(keys, seed=7)
    assert (keep3 != keep).any() and keep3.sum() == keep.sum()


def test_daily_cap_keeps_the_first_votes_of_each_rater_and_day():
    rater = ["r1"] * 5 + ["r1"] * 2 + ["r2"] * 4 + [None] * 6
    day = ["d1"] * 5 + ["d2"] * 2 + ["d1"] * 4 + ["d1"] * 6
    t = [5, 4, 3, 2, 1, 6, 7, 1, 2, 3, 4] + list(range(6))
    keep, info = cap_per_rater_day(rater, day, t, 2)
    assert (
        keep.tolist()
        == [False, False, False, True, True, True, True]
        + [
            True,
            True,
            False,
            False,
        ]
        + [True] * 6
    )
    assert info == {"cap": 2, "rater_days_capped": 2, "votes_dropped": 5}
    with pytest.raises(RatingError):
        cap_per_rater_day(rater, day, t, 0)
    with pytest.raises(RatingError, match="time"):
        cap_per_rater_day(rater, [None] * len(rater), t, 2)
    keep, info = cap_per_rater_day(["r"] * 4, ["d", "d", "d", None], [1, 2, 3, 4], 2)
    assert keep.tolist() == [True, True, False, True]


def test_anonymous_votes_leave_out_leaks_and_votes_after_a_reveal():
    assert anonymous_votes() is None
    keep = anonymous_votes([False, True, False, False], [1, 2, 3, 4], [None, None, 3, 5])
    assert keep.tolist() == [True, False, False, True]
