"""Votes each adjacent rank rests on: first-order estimates checked against exact refits."""

from __future__ import annotations

import numpy as np
import pytest

from rating import style
from rating.errors import RatingError
from rating.robustness import _drop_mask, _rows_with_outcome, gap_effects, votes_to_swap
from tests.rating.style_simulation import simulate_style

THETA = np.array([0.0, 0.05, 0.3, 0.35, 0.6, 0.9, 0.92, 1.2])


@pytest.mark.parametrize("style_control", [False, True])
def test_estimates_swap_the_pair_in_an_exact_refit_and_half_of_them_do_not(style_control):
    rng = np.random.default_rng(1)
    b, _ = simulate_style(5000, rng, theta=THETA, tie_rate=0.1)
    order = [f"m{k:02d}" for k in range(7, -1, -1)]
    penalty = 1.0 if style_control else 0.0
    out = votes_to_swap(b, order, style_control=style_control, penalty=penalty, verify_top=4)
    assert [e["upper"] for e in out] == order[:-1]
    assert all("verified" in e for e in out[:4]) and all("verified" not in e for e in out[4:])
    for e in out[:4]:
        assert e["gap"] > 0 and e["estimate"] > 0
        v = e["verified"]
        assert v["swapped"] and v["gap_after"] < 0
        # the estimate is close to the verified count, which is minimal in its order
        assert 0.6 * e["estimate"] <= v["votes"] <= 1.25 * e["estimate"]
    # replay the removal for the closest pair with half the estimate: no swap yet
    e = min(out[:4], key=lambda e: e["gap"])
    u, l = int(e["upper"][1:]), int(e["lower"][1:])
    z_raw = b.z if style_control else np.zeros((b.a.size, 0))
    feats = b.features if style_control else ()
    sb = style.StyleBattles(b.a, b.b, b.outcome, z_raw, None, b.models, feats)
    rows, effect = gap_effects(sb, u, l, penalty=penalty)
    v = e["verified"]["votes"]
    assert e["verified"]["minimal"]
    for votes, swapped in ((e["estimate"] // 2, False), (v - 1, False), (v, True)):
        keep = _drop_mask(sb, rows, effect, votes)
        assert (~keep).sum() == votes
        fit = style.fit_style(sb.subset(keep), penalty=penalty, ci="none")
        assert (fit.theta[u] < fit.theta[l]) == swapped


def test_a_lead_resting_on_a_handful_of_votes_says_so():
    # two models that met 40 times, 21-19, plus a common opponent they both beat equally
    a = np.r_[np.zeros(21), np.ones(19), np.zeros(50), np.ones(50)].astype(int)
    b = np.r_[np.ones(21), np.zeros(19), np.full(50, 2), np.full(50, 2)].astype(int)
    y = np.r_[np.ones(40), np.r_[np.ones(35), np.zeros(15)], np.r_[np.ones(35), np.zeros(15)]]
    battles = style.StyleBattles(a, b, y, np.zeros((a.size, 4)), None, ["x", "y", "z"])
    out = votes_to_swap(battles, ["x", "y", "z"])
    top = out[0]
    assert top["estimate"] <= 3
    assert top["verified"]["swapped"] and top["verified"]["votes"] <= 3


def test_removal_order_removes_exactly_the_requested_number_of_votes():
    rng = np.random.default_rng(3)
    b, _ = simulate_style(2000, rng, m=5, tie_rate=0.2)
    z, _, _ = style.standardize(b.z)
    rows = _rows_with_outcome(b, z)
    effect = rng.standard_normal(rows.count.size)
    keep = _drop_mask(b, rows, effect, 37)
    assert (~keep).sum() == 37


def test_unknown_model_is_refused():
    rng = np.random.default_rng(4)
    b, _ = simulate_style(500, rng, m=3)
    with pytest.raises(RatingError, match="nope"):
        votes_to_swap(b, ["m00", "nope"])
