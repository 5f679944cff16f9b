"""The composite end to end on in-memory inputs (pure part)."""

from datetime import date

import numpy as np
import pytest

from rating.composite import (
    ArenaRatings,
    BenchmarkResult,
    ModelFacts,
    PopularityCounts,
    RankInputs,
    Speed,
    WeightError,
    rank_models,
)
from rating.composite.explain import explain, explain_text
from tests.composite.options import options


def arena(models, ratings, half_width=10.0, replicates=None, tier=None):
    r = np.asarray(ratings, dtype=float)
    return ArenaRatings(models, r, r - half_width, r + half_width, tier, replicates)


def opts(**kw):
    kw.setdefault("weights", {"arena": 1.0})
    kw.setdefault("as_of", date(2025, 3, 15))
    kw.setdefault("replicates", 100)
    kw.setdefault("min_coverage", 0.0)
    return options(**kw)


def by_model(result):
    return {r["model"]: r for r in result.rows}


def test_arena_only_keeps_the_rating_order_and_interval_comes_from_replicates():
    rng = np.random.default_rng(0)
    base = np.array([1200.0, 1100.0, 1000.0])
    reps = base + rng.normal(0, [5, 60, 5], size=(400, 3))
    res = rank_models(RankInputs(arena=arena(["a", "b", "c"], base, replicates=reps)), opts())
    assert [r["model"] for r in res.rows] == ["a", "b", "c"]
    rows = by_model(res)
    width = {m: rows[m]["ci_high"] - rows[m]["ci_low"] for m in rows}
    assert width["b"] > 5 * width["a"]  # b's wide bootstrap shows in the composite
    assert res.meta["arena_replicates"] == "bootstrap (400 rows in the input, 100 used)"
    assert rows["a"]["rank_ub"] == 1 and rows["a"]["tier"] == 1


def test_without_bootstrap_normal_draws_are_used_and_said():
    res = rank_models(
        RankInputs(arena=arena(["a", "b", "c"], [1000, 1010, 1300], 30)), opts(seed=7)
    )
    assert res.meta["arena_replicates"].startswith("normal draws from the intervals")
    rows = by_model(res)
    assert rows["a"]["ci_low"] < rows["a"]["ci_high"]
    # a and b overlap: same tier, rank UB 2 for both; c alone on top
    assert rows["c"]["tier"] == 1 and rows["a"]["tier"] == rows["b"]["tier"] == 2
    again = rank_models(
        RankInputs(arena=arena(["a", "b", "c"], [1000, 1010, 1300], 30)), opts(seed=7)
    )
    assert again.rows == res.rows  # seeded


def test_tier_mode_gives_every_model_in_a_tier_the_same_arena_value():
    inputs = RankInputs(
        arena=arena(["a", "b", "c", "d"], [1300, 1280, 1000, 990], 30, tier=np.array([1, 1, 2, 2])),
        benchmarks=[
            BenchmarkResult(m, "gpqa", "", s, None, False)
            for m, s in [("a", 0.3), ("b", 0.6), ("c", 0.4), ("d", 0.5)]
        ],
    )
    w = {"arena": 0.95, "benchmarks": 0.05}
    tiered = by_model(rank_models(inputs, opts(weights=w, arena_mode="tier")))
    assert (
        tiered["a"]["signals"]["arena"]["normalized"]
        == tiered["b"]["signals"]["arena"]["normalized"]
    )
    assert tiered["a"]["signals"]["arena"]["raw"] == {"rating": 1300.0, "tier": 1}
    # within a tier the benchmark decides: b above a, d above c
    assert tiered["b"]["rank"] < tiered["a"]["rank"] and tiered["d"]["rank"] < tiered["c"]["rank"]
    plain = by_model(rank_models(inputs, opts(weights=w)))
    assert plain["a"]["rank"] < plain["b"]["rank"]


def test_models_in_one_input_but_not_another_are_reported_not_dropped():
    inputs = RankInputs(
        arena=arena(["A", "B"], [1100, 1000]),
        benchmarks=[
            BenchmarkResult("org/b", "math", "", 0.5, 100),
            BenchmarkResult("C", "math", "", 0.2, 100),
        ],
        popularity={"D": PopularityCounts(10, 1)},
        models={"B": ModelFacts(organization="Org")},
    )
    res = rank_models(inputs, opts(weights={"arena": 0.5, "benchmarks": 0.4, "popularity": 0.1}))
    assert sorted(r["model"] for r in res.rows) == ["A", "B", "C", "D"]
    assert res.meta["missing"]["arena"] == ["C", "D"]
    assert res.meta["missing"]["benchmarks"] == ["A", "D"]
    assert res.meta["missing"]["popularity"] == ["A", "B", "C"]
    rows = by_model(res)
    assert rows["B"]["coverage"] == pytest.approx(0.9)
    assert rows["D"]["coverage"] == pytest.approx(0.1)
    assert rows["A"]["signals"]["benchmarks"] == {
        "raw": None,
        "normalized": None,
        "weight": 0.4,
        "contribution": None,
    }


def test_min_coverage_leaves_models_out_and_says_why():
    inputs = RankInputs(
        arena=arena(["A", "B"], [1100, 1000]),
        benchmarks=[
            BenchmarkResult("B", "math", "", 0.5, None),
            BenchmarkResult("C", "math", "", 0.2, None),
        ],
    )
    res = rank_models(inputs, opts(weights={"arena": 0.6, "benchmarks": 0.4}, min_coverage=0.5))
    assert sorted(r["model"] for r in res.rows) == ["A", "B"]
    assert res.meta["excluded"] == [
        {"model": "C", "reason": "coverage 0.400 below the minimum 0.5"}
    ]


def test_weights_not_summing_to_one_give_the_same_ranking():
    inputs = RankInputs(
        arena=arena(["A", "B", "C"], [1100, 1000, 1050]),
        benchmarks=[
            BenchmarkResult(m, "math", "", s) for m, s in [("A", 0.1), ("B", 0.9), ("C", 0.5)]
        ],
    )
    one = rank_models(inputs, opts(weights={"arena": 0.6, "benchmarks": 0.4}))
    ten = rank_models(inputs, opts(weights={"arena": 6, "benchmarks": 4}))
    assert one.rows == ten.rows
    assert ten.meta["weights"] == {"arena": 0.6, "benchmarks": 0.4}


def test_unknown_signal_is_a_clear_error():
    with pytest.raises(WeightError, match="unknown signal 'speed'"):
        rank_models(RankInputs(arena=arena(["A"], [1])), opts(weights={"speed": 1}))


def test_signal_with_no_data_is_reported():
    res = rank_models(
        RankInputs(arena=arena(["A", "B"], [1, 2])), opts(weights={"arena": 0.5, "popularity": 0.5})
    )
    assert res.meta["signals_without_data"] == ["popularity"]
    # a signal no model has does not count against coverage (an arena-only install ranks)
    assert all(r["coverage"] == 1.0 for r in res.rows)
    assert all(r["missing_signals"] == ["popularity"] for r in res.rows)
    strict = rank_models(
        RankInputs(arena=arena(["A", "B"], [1, 2])),
        opts(weights={"arena": 0.5, "popularity": 0.5}, min_coverage=0.75),
    )
    assert len(strict.rows) == 2


def test_vram_filter_variants_and_inheritance():
    facts = {
        "big": ModelFacts(parameters_b=70, precision="bfloat16"),
        "big-int4": ModelFacts(parameters_b=70, precision="int4", base_model="big"),
        "small": ModelFacts(parameters_b=7, precision="bf16"),
    }
    inputs = RankInputs(arena=arena(["big", "small", "closed"], [1200, 1000, 1300]), models=facts)
    res = rank_models(inputs, opts(max_vram_gb=48, inherit_base=True))
    rows = by_model(res)
    assert set(rows) == {"big-int4", "small"}
    assert rows["big-int4"]["inherited_from"] == "big"
    assert rows["big-int4"]["vram_gb"] == pytest.approx(42.0)
    assert rows["big-int4"]["base_model"] == "big"
    reasons = {e["model"]: e["reason"] for e in res.meta["excluded"]}
    assert reasons["big"] == "estimated VRAM 168.0 GB > 48 GB"
    assert reasons["closed"] == "VRAM unknown (no parameter count)"
    assert res.meta["variants"] == {
        "big": [
            {
                "model": "big",
                "precision": "bfloat16",
                "vram_gb": 168.0,
                "benchmarks": None,
                "score": None,
                "rank": None,
                "inherited": False,
            },
            {
                "model": "big-int4",
                "precision": "int4",
                "vram_gb": 42.0,
                "benchmarks": None,
                "score": rows["big-int4"]["score"],
                "rank": rows["big-int4"]["rank"],
                "inherited": True,
                "penalty": {
                    "value": 0.0,
                    "kind": "assumed",
                    "rule": "no variant of this precision measured: assumed equal to its base",
                },
            },
        ]
    }
    # without the flag the variant has no arena signal
    plain = rank_models(inputs, opts(max_vram_gb=48))
    assert "big-int4" not in by_model(plain)


def test_popularity_recency_efficiency_signals():
    inputs = RankInputs(
        arena=arena(["A", "B"], [1000, 1000]),
        popularity={"A": PopularityCounts(1000000, 50), "B": PopularityCounts(10, 1)},
        efficiency={"A": Speed(10.0, 4000.0), "B": Speed(100.0, 500.0)},
        models={
            "A": ModelFacts(release_date=date(2025, 3, 15)),
            "B": ModelFacts(release_date=date(2024, 3, 15)),
        },
    )
    res = rank_models(
        inputs,
        opts(weights={"popularity": 1, "recency": 1, "efficiency": 1}, recency_half_life_days=365),
    )
    rows = by_model(res)
    assert rows["A"]["signals"]["popularity"]["normalized"] == 1.0
    assert rows["A"]["signals"]["recency"]["raw"] == {"date": "2025-03-15", "from": "release"}
    assert rows["B"]["fastness"]["value"] == 1.0 and rows["A"]["fastness"]["value"] == 0.0
    assert rows["A"]["rank"] == 1  # popular and recent beat fast


def test_category_uses_the_category_benchmarks():
    inputs = RankInputs(
        benchmarks=[
            BenchmarkResult("A", "math", "", 0.9),
            BenchmarkResult("A", "ifeval", "", 0.1),
            BenchmarkResult("B", "math", "", 0.2),
            BenchmarkResult("B", "ifeval", "", 0.9),
        ]
    )
    overall = by_model(rank_models(inputs, opts(weights={"benchmarks": 1})))
    math = by_model(rank_models(inputs, opts(weights={"benchmarks": 1}, category="math")))
    assert overall["B"]["rank"] == 1 and math["A"]["rank"] == 1
    one = by_model(rank_models(inputs, opts(weights={"benchmarks.ifeval": 1})))
    assert one["B"]["rank"] == 1


def test_benchmark_items_give_the_composite_an_interval():
    inputs = RankInputs(
        benchmarks=[
            BenchmarkResult("A", "gpqa", "", 0.50, 200),
            BenchmarkResult("B", "gpqa", "", 0.52, 200),
            BenchmarkResult("C", "gpqa", "", 0.90, 200),
        ]
    )
    rows = by_model(rank_models(inputs, opts(weights={"benchmarks": 1})))
    assert rows["A"]["ci_low"] < rows["A"]["ci_high"]
    assert rows["A"]["tier"] == rows["B"]["tier"] != rows["C"]["tier"]
    assert (
        rows["A"]["goodness"]["ci_low"]
        < rows["A"]["goodness"]["value"]
        < rows["A"]["goodness"]["ci_high"]
    )


@pytest.mark.parametrize("aggregate", ["mean", "winrate", "borda"])
def test_aggregators_agree_on_a_dominant_model(aggregate):
    inputs = RankInputs(
        arena=arena(["A", "B", "C"], [1300, 1000, 1100]),
        benchmarks=[
            BenchmarkResult(m, "math", "", s) for m, s in [("A", 0.9), ("B", 0.1), ("C", 0.5)]
        ],
    )
    res = rank_models(inputs, opts(weights={"arena": 1, "benchmarks": 1}, aggregate=aggregate))
    assert [r["model"] for r in res.rows] == ["A", "C", "B"]
    assert res.rows[0]["score"] == pytest.approx(1.0)


def test_explain_says_how_each_signal_moved_the_model():
    inputs = RankInputs(
        arena=arena(["A", "B", "C"], [1300, 1000, 1100]),
        benchmarks=[
            BenchmarkResult(m, "math", "", s) for m, s in [("A", 0.1), ("B", 0.9), ("C", 0.5)]
        ],
    )
    res = rank_models(inputs, opts(weights={"arena": 0.7, "benchmarks": 0.2, "popularity": 0.1}))
    info = explain(res, "a")
    sig = {s["signal"]: s for s in info["signals"]}
    assert sig["arena"]["moved"] > 0 > sig["benchmarks"]["moved"]
    assert sig["popularity"]["normalized"] is None
    assert sum(s["contribution"] for s in info["signals"]) == pytest.approx(info["score"])
    assert sig["arena"]["rank_without"] == 3
    text = explain_text(info)
    assert "arena" in text and "moved it up" in text and "popularity       missing" in text
    with pytest.raises(KeyError, match="not in the pool"):
        explain(res, "Z")
