"""The engine on the real data in ../shared/data."""

import csv
import json

import choix
import numpy as np
import pytest

from rating import bt, counts, engine, intervals
from tests.conftest import shared_data

ARENA_FILE = ("chatbot-arena-20240814", "chatbotarena_20240814.json")


def _llmfao_table():
    a, b, out, left, raters = [], [], [], [], []
    with open(shared_data("llmfao", "crowd-comparisons.csv"), newline="") as fh:
        for row in csv.DictReader(fh):
            a.append(row["left"])
            b.append(row["right"])
            out.append({"left": 0, "right": 1, "tie": 2}[row["winner"]])
            left.append(True)
            raters.append(row["worker"])
    return counts.aggregate(a, b, out, left=left), len(a)


def test_llmfao_human_votes_match_choix():
    table, n = _llmfao_table()
    pc = table.select()
    assert n == 8931 and pc.total == n and pc.n_models == 59
    r = engine.rate(pc, rounds=200)
    assert r.meta["grad_norm"] < 1e-10 and r.meta["prior"] == 0.0
    i, j, wi, wj, t = pc.unordered()
    comp = np.zeros((59, 59))
    np.add.at(comp, (i, j), wi + t / 2)
    np.add.at(comp, (j, i), wj + t / 2)
    ref = choix.ilsr_pairwise_dense(comp, tol=1e-13, max_iter=100000)
    ref = bt.to_rating(ref - ref.mean())
    ours = dict(zip(r.models, r.rating))
    assert max(abs(ours[name] - ref[k]) for k, name in enumerate(pc.models)) < 1e-6
    assert np.all(r.ci_low <= r.rating) and np.all(r.rating <= r.ci_high)
    assert r.rank_ub[0] == 1 and r.tier[0] == 1


def test_llmfao_human_left_advantage_measured():
    table, _ = _llmfao_table()
    r = engine.rate(table.select(), "davidson", left_advantage=True, ci="sandwich")
    params = r.meta["parameters"]
    lo, hi = params["left_advantage_ci"]
    assert lo < params["left_advantage"] < hi
    assert params["tie_nu"] > 0 and r.meta["grad_norm"] < 1e-8


def _arena_pairs():
    with open(shared_data(*ARENA_FILE)) as fh:
        data = json.load(fh)
    x = np.asarray(data["X"])
    return counts.pair_counts(
        x[:, 0], x[:, 1], np.asarray(data["Y"], float), data["models"], positional=False
    )


def test_arena_dump_exact_fit_and_choix():
    pc = _arena_pairs()
    assert pc.total == 1_670_250 and pc.n_models == 129
    r = engine.rate(pc, ci="none", anchor=("mixtral-8x7b-instruct-v0.1", 1114.0))
    assert r.meta["grad_norm"] < 1e-9
    assert r.models[0] == "chatgpt-4o-latest"
    assert r.rating[0] == pytest.approx(1315.16, abs=0.01)
    c = engine.rate(pc, ci="none", anchor=("mixtral-8x7b-instruct-v0.1", 1114.0), solver="choix")
    assert c.models == r.models
    assert np.abs(c.rating - r.rating).max() < 1e-6


@pytest.mark.slow
def test_arena_dump_bootstrap_1000_rounds():
    pc = _arena_pairs()
    r = engine.rate(pc, rounds=1000, seed=42)
    assert r.replicates.shape == (1000, 129)
    # Gradients are on the scale of the counts (1.67 M battles): 1e-6 is 1e-12 relative.
    assert r.meta["bootstrap_max_grad_norm"] < 1e-6
    width = r.ci_high - r.ci_low
    assert width.min() > 0 and width.max() < 200
    assert np.all(r.ci_low <= r.rating) and np.all(r.rating <= r.ci_high)


def test_arena_dump_replicates_are_their_own_exact_optimum():
    # The batched chord fit of each bootstrap draw against an independent damped
    # Newton fit of the same draw.
    pc = _arena_pairs()
    i, j, wi, wj, t = pc.unordered()
    m, q = pc.n_models, len(i)
    point = bt.fit(i, j, wi + t / 2, wi + wj + t, m)
    draw = next(intervals.multinomial_rounds(np.r_[wi, wj, t], 4, seed=3))
    w, n = draw[:q] + draw[2 * q :] / 2, draw[:q] + draw[q : 2 * q] + draw[2 * q :]
    theta, _gnorm = bt.ReplicateSolver(i, j, m).fit_many(
        w, n, point.theta, tol=intervals.REPLICATE_TOL
    )
    for r in range(4):
        exact = bt.fit(i, j, w[:, r], n[:, r], m, theta0=point.theta)
        assert exact.grad_norm < 1e-9
        assert np.abs(bt.to_rating(theta[:, r]) - bt.to_rating(exact.theta)).max() < 1e-6
