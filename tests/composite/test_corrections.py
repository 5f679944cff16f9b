"""The composite's corrections (issue 15) on the shared 2025-03-15 data and in a database.

Each test failed before its correction: the cross-organization join, BBH/MuSR
from a mean subtask baseline, bounds pinned by min-max inside each replicate,
rank (UB) and tiers from marginal intervals, the arena signal from every vote.
"""

import csv
import json
from datetime import date

import numpy as np
import pytest
from sqlmodel import Session

from arena import db
from arena.composite_files import load_file_inputs
from arena.importers.benchmarks import parse_benchmarks
from arena.models import RatingSnapshot
from rating.composite import (
    ArenaRatings,
    BenchmarkResult,
    ModelFacts,
    RankInputs,
    rank_models,
)
from rating.composite.goodness import GOODNESS_TRANSFORM, GOODNESS_WEIGHTING, SUBDOMAINS
from rating.composite.goodness_fit import leave_one_out
from rating.composite.openllm import V2_TASKS
from tests.composite.options import options
from tests.composite.test_cli import _snapshot_payload, config_for, run
from tests.conftest import shared_data

LB = "open-llm-leaderboard-2025-03-15"
AS_OF = date(2025, 3, 15)


def merged_inputs(**files):
    merged = shared_data(LB, "merged.csv")
    return load_file_inputs(
        ratings=shared_data(LB, "lmsys.csv"),
        benchmarks=merged,
        popularity=merged,
        models=merged,
        **files,
    )[0]


def test_llama_3_8b_instruct_is_not_joined_to_ai_sweden_unless_an_alias_says_so(tmp_path):
    inputs = merged_inputs()
    opts = options(weights={"arena": 1, "benchmarks": 1}, replicates=0, as_of=AS_OF)
    res = rank_models(inputs, opts)
    assert "AI-Sweden-Models/Llama-3-8B-instruct" in res.names  # its own model
    assert "Llama-3-8B-Instruct" not in {r["model"] for r in res.rows}  # no benchmarks: left out
    refused = {(r["name"], r["candidate"]) for r in res.meta["refused_matches"]}
    assert ("Llama-3-8B-Instruct", "AI-Sweden-Models/Llama-3-8B-instruct") in refused
    # the official ids still join, with the organization named as the reason
    why = {(j["input"], j["name"]): j["why"] for j in res.meta["matched_names"]}
    assert why["benchmarks", "meta-llama/Llama-3.3-70B-Instruct"].endswith("Meta ~ meta-llama")
    assert why["benchmarks", "Qwen/Qwen2.5-72B-Instruct"].endswith("alias Alibaba ~ Qwen")
    # a maintainer who decides otherwise says so with an alias
    alias = tmp_path / "aliases.csv"
    alias.write_text("alias,model\nAI-Sweden-Models/Llama-3-8B-instruct,Llama-3-8B-Instruct\n")
    res = rank_models(merged_inputs(aliases=alias), opts)
    assert "Llama-3-8B-Instruct" in {r["model"] for r in res.rows}


def test_bbh_and_musr_are_the_export_normalized_columns():
    path = shared_data(LB, "huggingface_v2.csv")
    inputs = RankInputs(benchmarks=parse_benchmarks(path).rows)
    weights = {f"benchmarks.{t}": 1 for t in V2_TASKS}
    res = rank_models(inputs, options(weights=weights, replicates=0, min_coverage=0))
    got = {r["model"]: r["signals"] for r in res.rows}
    expected: dict[str, dict] = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            official = row["features_is_official_provider"] == "True"
            if row["model_name"] not in expected or official:
                expected.setdefault(row["model_name"], {})
                if official or not expected[row["model_name"]]:
                    expected[row["model_name"]] = row
    assert len(got) > 4000
    for name, signals in got.items():
        for task in V2_TASKS:
            want = float(expected[name][f"evaluations_{task}_normalized_score"])
            assert signals[f"benchmarks.{task}"]["raw"] == pytest.approx(want, abs=1e-6)


def test_no_model_is_pinned_to_its_point_score():
    res = rank_models(merged_inputs(), options(weights={"arena": 1, "benchmarks": 1}, as_of=AS_OF))
    rows = {r["model"]: r for r in res.rows}
    top = rows["Qwen2.5-72B-Instruct"]  # best on the benchmarks signal
    assert top["signals"]["benchmarks"]["normalized"] == 1.0
    assert top["ci_low"] < top["score"] < top["ci_high"]
    assert all(r["ci_low"] < r["score"] < r["ci_high"] for r in res.rows)


def test_rank_ub_and_tiers_come_from_the_joint_replicates():
    # b is 5 below a in every replicate; the shared shift makes both marginals wide
    rng = np.random.default_rng(0)
    shift = rng.normal(0, 30, size=(400, 1))
    reps = np.array([1005.0, 1000.0, 900.0]) + shift + rng.normal(0, 0.5, size=(400, 3))
    arena = ArenaRatings(
        ["a", "b", "c"], [1005.0, 1000.0, 900.0], [945, 940, 840], [1065, 1060, 960], None, reps
    )
    res = rank_models(RankInputs(arena=arena), options(weights={"arena": 1}, replicates=400))
    rows = {r["model"]: r for r in res.rows}
    # the marginal intervals of a and b overlap, but b is below a in every replicate
    assert rows["b"]["ci_high"] > rows["a"]["ci_low"]
    assert (rows["a"]["rank_ub"], rows["b"]["rank_ub"], rows["c"]["rank_ub"]) == (1, 2, 3)
    assert (rows["a"]["tier"], rows["b"]["tier"], rows["c"]["tier"]) == (1, 2, 3)
    assert rows["b"]["rank_low"] == 2


def test_goodness_recipe_is_the_leave_one_out_choice_on_the_upstream_join():
    chosen: dict[str, dict] = {}
    with open(shared_data(LB, "merged.csv"), newline="") as fh:
        for row in csv.DictReader(fh):
            if row["model"] not in chosen or row["features_is_official_provider"] == "True":
                chosen[row["model"]] = row
    names = sorted(chosen)
    tasks = np.array(
        [[float(chosen[m][f"evaluations_{t}_normalized_score"]) for t in V2_TASKS] for m in names]
    )
    arena = np.array([float(chosen[m]["arena_score"]) for m in names])
    loo = leave_one_out(tasks, list(V2_TASKS), arena, SUBDOMAINS)
    assert len(names) == 52
    assert loo.chosen.most_common(1)[0][0] == (GOODNESS_TRANSFORM, GOODNESS_WEIGHTING)
    base = leave_one_out(tasks, list(V2_TASKS), arena, SUBDOMAINS, [("identity", "benchmark")])
    assert loo.r > base.r  # on these 52 models, never scored by a recipe fitted on them


def test_by_goodness_and_by_subdomain_rank_with_intervals():
    inputs = merged_inputs()
    res = rank_models(inputs, options(weights={"arena": 1}, by="goodness", as_of=AS_OF))
    assert res.meta["weights"] == {"goodness": 1.0}
    values = [r["goodness"]["value"] for r in res.rows]
    assert values == sorted(values, reverse=True) and len(values) > 50  # benchmark-only too
    first = res.rows[0]["goodness"]
    assert first["ci_low"] < first["value"] < first["ci_high"]
    assert set(first["subdomains"]) == {"instruction_following", "knowledge", "math", "reasoning"}
    math = rank_models(inputs, options(weights={"arena": 1}, by="goodness.math", as_of=AS_OF))
    top = math.rows[0]["goodness"]["subdomains"]["math"]["value"]
    assert top == max(r["goodness"]["subdomains"]["math"]["value"] for r in math.rows)
    with pytest.raises(ValueError, match="unknown --by"):
        rank_models(inputs, options(weights={"arena": 1}, by="speed"))


def test_quantized_variant_penalty_measured_or_assumed():
    bench = [
        BenchmarkResult("base", "gpqa", "", 0.60, 1192),
        BenchmarkResult("base-awq", "gpqa", "", 0.55, 1192),
    ]
    facts = {
        "base": ModelFacts(parameters_b=8, precision="bfloat16"),
        "base-awq": ModelFacts(parameters_b=8, precision="awq", base_model="base"),
        "base-gptq": ModelFacts(parameters_b=8, precision="gptq", base_model="base"),
        "base-int8": ModelFacts(parameters_b=8, precision="int8", base_model="base"),
    }
    res = rank_models(
        RankInputs(benchmarks=bench, models=facts),
        options(weights={"benchmarks": 1}, replicates=0, min_coverage=0),
    )
    group = {v["model"]: v for v in res.meta["variants"]["base"]}
    measured = (0.60 - 0.25) / 0.75 * 100 - (0.55 - 0.25) / 0.75 * 100
    assert group["base-awq"]["penalty"] == {"value": pytest.approx(measured), "kind": "measured"}
    assert group["base-gptq"]["penalty"]["kind"] == "assumed"  # 4-bit like AWQ: its median
    assert group["base-gptq"]["penalty"]["value"] == pytest.approx(measured)
    assert group["base-int8"]["penalty"]["value"] == 0.0  # no 8-bit variant measured
    assert group["base-int8"]["vram_gb"] == pytest.approx(9.6)


def test_database_arena_signal_is_the_human_scope_unless_asked(tmp_path, sqlite_url):
    cfg = config_for(tmp_path, sqlite_url)
    rng = np.random.default_rng(3)
    with Session(db.get_engine(sqlite_url)) as s:
        for source, ratings in (("human", [1100, 1000]), ("judge:gpt4", [900, 1200])):
            payload = _snapshot_payload(["A", "B"], ratings, rng)
            s.add(
                RatingSnapshot(
                    method="bt", source=source, digest=source, votes=9, payload=json.dumps(payload)
                )
            )
        s.commit()
    common = ["rank", "--config", cfg, "--format", "json", "--min-coverage", "0"]
    human = json.loads(run(*common).output)
    assert [r["model"] for r in human["models"]] == ["A", "B"]
    scope = next(i for i in human["meta"]["inputs"] if i["kind"] == "ratings")["scope"]
    assert scope["source"] == "human"
    judge = json.loads(run(*common, "--source", "judge:gpt4").output)
    assert [r["model"] for r in judge["models"]] == ["B", "A"]


def test_metadata_import_and_vram_filter_in_database_mode(tmp_path, sqlite_url):
    cfg = config_for(tmp_path, sqlite_url)
    merged = shared_data(LB, "merged.csv")
    res = run("import", "metadata", "--config", cfg, merged)
    assert res.exit_code == 0 and "metadata (open-llm-leaderboard-v2): 57 inserted" in res.output
    assert run("import", "benchmarks", "--config", cfg, merged).exit_code == 0
    res = run(
        "rank", "--config", cfg, "--by", "goodness", "--max-vram-gb", "20", "--format", "json"
    )
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)["models"]
    assert rows and all(r["vram_gb"] <= 20 for r in rows)
    phi = next(r for r in rows if r["model"] == "microsoft/Phi-3-mini-4k-instruct")
    assert phi["architecture"] == "Phi3ForCausalLM" and phi["parameters_b"] == pytest.approx(3.821)
    assert phi["signals"]["goodness"]["raw"] == phi["goodness"]["value"]


def test_show_matches_lists_joins_refusals_and_the_unmatched(tmp_path):
    cfg = config_for(tmp_path, "sqlite:////nonexistent-dir/never.db")
    merged = shared_data(LB, "merged.csv")
    out = run(
        "rank",
        "--config",
        cfg,
        "--ratings",
        shared_data(LB, "lmsys.csv"),
        "--benchmarks",
        merged,
        "--models",
        merged,
        "--show-matches",
    ).output
    assert (
        "Llama-3-8B-Instruct  x  AI-Sweden-Models/Llama-3-8B-instruct   "
        "[organization Meta is not AI-Sweden-Models: add an alias to join]"
    ) in out
    assert "benchmarks  google/gemma-2-27b-it  ->  Gemma-2-27B-it" in out
    assert "not in benchmarks (128 of 185):" in out


def test_by_fastness_ranks_with_bootstrap_intervals_from_the_measurements():
    inputs = load_file_inputs(efficiency=shared_data("llmfao", "results.jsonl"))[0]
    res = rank_models(inputs, options(weights={"arena": 1}, by="fastness", replicates=200))
    assert res.meta["weights"] == {"efficiency": 1.0}
    values = [r["fastness"]["value"] for r in res.rows]
    assert values == sorted(values, reverse=True) and len(values) >= 50
    widths = [r["fastness"]["ci_high"] - r["fastness"]["ci_low"] for r in res.rows]
    assert all(w >= 0 for w in widths) and np.median(widths) > 0
    assert any(r["rank_ub"] < r["rank"] for r in res.rows)  # close speeds share ranks


def test_bad_options_and_a_bad_metadata_file_are_clear_errors(tmp_path, sqlite_url):
    cfg = config_for(tmp_path, sqlite_url)
    res = run("rank", "--config", cfg, "--subdomain", "math")
    assert res.exit_code == 2 and "--subdomain goes with --by goodness" in res.output
    bad = tmp_path / "meta.jsonl"
    bad.write_text('{"name": "a", "parameters_b": 7}\n{"name": "b", "parameters_b": "big"}\n')
    res = run("import", "metadata", "--config", cfg, bad)
    assert res.exit_code == 1 and "line 2: 'parameters_b' must be a number >= 0" in res.output
    res = run("rank", "--config", cfg, "--format", "json", "--max-vram-gb", "1")
    assert json.loads(res.output)["meta"]["metadata_only"] == 0  # nothing was stored


def test_rank_api_ranks_by_goodness(tmp_path, sqlite_url, redis_url):
    from arena.app import create_app
    from arena.importers.benchmarks import import_benchmarks
    from tests.conftest import make_settings

    app = create_app(make_settings(tmp_path, sqlite_url, redis_url))
    import_benchmarks(db.get_engine(sqlite_url), shared_data(LB, "merged.csv"))
    res = app.test_client().get("/api/v1/rank?by=goodness&replicates=20")
    assert res.status_code == 200, res.get_json()
    data = res.get_json()
    assert data["meta"]["by"] == "goodness" and len(data["models"]) == 57
    assert app.test_client().get("/api/v1/rank?by=speed").status_code == 400


def test_an_unknown_subdomain_names_the_ones_there_are():
    with pytest.raises(ValueError, match=r"subdomain .coding.*instruction_following, knowledge"):
        rank_models(merged_inputs(), options(weights={"arena": 1}, by="goodness.coding"))


def test_ifeval_is_drawn_as_the_mean_of_its_two_accuracies():
    """IFEval's v2 score averages prompt-level (541 prompts) and instruction-level (834
    instructions) accuracy: its draws are 0.903 as wide as one 541-item accuracy's, and
    the other tasks' are unchanged; the points are the export's."""
    from rating.composite.goodness import Leaves, normalized_draws, normalized_points
    from rating.composite.openllm import V2_ITEMS

    path = shared_data(LB, "huggingface_v2.csv")
    rows = [r for r in parse_benchmarks(path).rows if r.benchmark in ("ifeval", "gpqa")][:400]
    leaves = Leaves(
        model=np.arange(len(rows)),
        benchmark=[r.benchmark for r in rows],
        subtask=["" for _ in rows],
        score=[r.score for r in rows],
        n_items=[r.n_items for r in rows],
        normalized=[r.normalized for r in rows],
    )
    # the same leaves as plain accuracies over 541 items (IFEval as it was drawn before)
    plain = Leaves(
        leaves.model,
        ["ifeval_as_one_accuracy" if b == "ifeval" else b for b in leaves.benchmark],
        leaves.subtask,
        leaves.score,
        leaves.n_items,
        leaves.normalized,
    )
    draws = normalized_draws(leaves, 4000, np.random.default_rng(1))
    before = normalized_draws(plain, 4000, np.random.default_rng(1))
    ifeval = np.array([b == "ifeval" for b in leaves.benchmark])
    assert ifeval.sum() > 100 and (~ifeval).sum() > 100
    assert set(leaves.n_items[ifeval]) == {V2_ITEMS["ifeval"]}
    np.testing.assert_allclose(normalized_points(leaves), normalized_points(plain))
    inner = ifeval & (normalized_points(leaves) > 5) & (normalized_points(leaves) < 95)
    ratio = draws[:, inner].std(axis=0) / before[:, inner].std(axis=0)
    np.testing.assert_allclose(ratio, (1 + np.sqrt(541 / 834)) / 2, rtol=1e-9)
    np.testing.assert_array_equal(draws[:, ~ifeval], before[:, ~ifeval])
    # the centre stays the export's score (posterior mean within Monte Carlo error)
    np.testing.assert_allclose(
        draws[:, inner].mean(axis=0), normalized_points(leaves)[inner], atol=0.25
    )
