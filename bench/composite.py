"""Composite rank on real data: does a benchmark composite track the arena?

On the models that ``open-llm-leaderboard-2025-03-15/merged.csv`` joins with
the arena leaderboard of the same week (52 arena models), print:

1. Pearson and Spearman correlation with the arena score of the
   benchmark-only composite (the v2 average from raw scores with our
   normalization, under each normalization/aggregator), of the file's own
   ``model_average_score`` (the baseline), and of each single benchmark;
2. how much the full composite's ranking moves (Kendall tau against the
   unperturbed ranking) when each weight changes by -20% and +20%;
3. time of a full run (4,497 v2 models + the arena, 200 replicates) against
   the same run with no replicates, measured here.

Run: ``.venv/bin/python bench/composite.py``.
"""

from __future__ import annotations

import csv
import sys
import time
from datetime import date
from pathlib import Path

# bench/rating.py would shadow the rating package when run as a script
_HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != _HERE]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from scipy.stats import kendalltau, pearsonr, spearmanr  # noqa: E402

from arena.composite_files import load_file_inputs  # noqa: E402
from rating.composite import RankOptions, rank_models  # noqa: E402
from rating.composite.openllm import V2_TASKS  # noqa: E402

DATA = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "data"
    / "open-llm-leaderboard-2025-03-15"
)
AS_OF = date(2025, 3, 15)


def joined(result, inputs) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Arena models that have benchmark scores: names, arena score, composite score."""
    arena = dict(zip(inputs.arena.models, inputs.arena.rating))
    names, a, s = [], [], []
    for row in result.rows:
        if row["model"] in arena and row["score"] is not None:
            names.append(row["model"])
            a.append(arena[row["model"]])
            s.append(row["score"])
    return names, np.array(a), np.array(s)


def corr(x, y) -> str:
    return f"Pearson r = {pearsonr(x, y)[0]:+.3f}   Spearman rho = {spearmanr(x, y)[0]:+.3f}"


def main() -> None:
    inputs, _ = load_file_inputs(
        ratings=DATA / "lmsys.csv",
        benchmarks=DATA / "merged.csv",
        popularity=DATA / "merged.csv",
        models=DATA / "merged.csv",
    )
    print("1. Benchmark composite vs arena score (merged.csv's arena models)")
    base = rank_models(inputs, RankOptions(weights={"benchmarks": 1}, replicates=0, as_of=AS_OF))
    names, arena, score = joined(base, inputs)
    print(f"   models joined: {len(names)}")
    # baseline: the file's own average for the same rows our matching chose
    chosen = {}
    with open(DATA / "merged.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for m in base.meta["matched_names"]:
        if m["input"] == "benchmarks":
            chosen[m["model"]] = m["name"]
    file_avg = {}
    for r in rows:
        file_avg.setdefault(r["model_name"], float(r["model_average_score"]))
    fa = np.array([file_avg[chosen.get(n, n)] for n in names])
    print(f"   file's model_average_score (baseline)    {corr(fa, arena)}")
    for norm in ("minmax", "percentile", "zscore"):
        res = rank_models(
            inputs,
            RankOptions(weights={"benchmarks": 1}, normalize=norm, replicates=0, as_of=AS_OF),
        )
        n2, a2, s2 = joined(res, inputs)
        assert n2 == names or sorted(n2) == sorted(names)
        print(f"   v2 average from raw, {norm:<10}          {corr(s2, a2)}")
    six = {f"benchmarks.{t}": 1.0 for t in V2_TASKS}
    for agg in ("mean", "winrate", "borda"):
        res = rank_models(
            inputs, RankOptions(weights=six, aggregate=agg, replicates=0, as_of=AS_OF)
        )
        n2, a2, s2 = joined(res, inputs)
        print(f"   six benchmarks as signals, {agg:<8}      {corr(s2, a2)}")
    print("   single benchmarks (v2-normalized from raw):")
    for t in V2_TASKS:
        res = rank_models(
            inputs, RankOptions(weights={f"benchmarks.{t}": 1}, replicates=0, as_of=AS_OF)
        )
        n2, a2, s2 = joined(res, inputs)
        print(f"     {t:<10} {corr(s2, a2)}")
    gap = np.abs(score - (fa - fa.min()) / (fa.max() - fa.min()))
    print(
        f"   our normalized average vs the file's (both min-max): mean |diff| "
        f"{gap.mean():.4f}, max {gap.max():.4f}"
    )

    print("\n2. Weight sensitivity: Kendall tau of the full ranking, each weight x0.8 and x1.2")
    weights = {
        "arena": 0.5,
        "benchmarks": 0.3,
        "popularity": 0.1,
        "recency": 0.05,
        "efficiency": 0.05,
    }
    full = rank_models(
        inputs, RankOptions(weights=weights, replicates=0, as_of=AS_OF, min_coverage=0.8)
    )
    order = {r["model"]: r["score"] for r in full.rows}
    print(
        f"   models ranked (coverage >= 0.8): {len(order)}; "
        f"no data for: {', '.join(full.meta['signals_without_data']) or '-'}"
    )
    for name in weights:
        taus = []
        for factor in (0.8, 1.2):
            w = dict(weights)
            w[name] *= factor
            res = rank_models(
                inputs, RankOptions(weights=w, replicates=0, as_of=AS_OF, min_coverage=0.8)
            )
            other = {r["model"]: r["score"] for r in res.rows}
            common = [m for m in order if m in other]
            taus.append(kendalltau([order[m] for m in common], [other[m] for m in common])[0])
        print(f"   {name:<11} -20%: tau = {taus[0]:.4f}   +20%: tau = {taus[1]:.4f}")

    print("\n3. Time: every v2 model (huggingface_v2.csv) + the arena, default weights")
    big, _ = load_file_inputs(
        ratings=DATA / "lmsys.csv",
        benchmarks=DATA / "huggingface_v2.csv",
        popularity=DATA / "huggingface_v2.csv",
        models=DATA / "huggingface_v2.csv",
    )
    times = {}
    for reps in (0, 200):
        t0 = time.perf_counter()
        res = rank_models(big, RankOptions(weights=weights, replicates=reps, as_of=AS_OF))
        times[reps] = time.perf_counter() - t0
    print(f"   pool {res.meta['pool']} models, ranked {res.meta['ranked']}")
    print(
        f"   point only (baseline): {times[0]:.2f} s; with 200 replicates: {times[200]:.2f} s; "
        f"ratio {times[200] / times[0]:.1f}x"
    )


if __name__ == "__main__":
    main()
