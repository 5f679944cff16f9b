"""Composite rank on real data: does a benchmark score track the arena, and how fast is it?

On the Open LLM Leaderboard v2 and Chatbot Arena data of 2025-03-15
(``../shared/data/open-llm-leaderboard-2025-03-15``), print:

1. Pearson r with the arena score, with a 95% bootstrap interval over models
   (2,000 resamples), of the v2 average, of MMLU-Pro alone and of goodness
   (the shipped recipe), and the paired differences, on two joins: the
   upstream ``merged.csv`` join (52 arena models, one wrong row) and our
   organization-checked join of ``lmsys.csv`` with ``merged.csv``;
2. the leave-one-out choice of the goodness recipe (six candidates) and the
   r of the leave-one-out predictions, next to the same procedure for the v2
   average and MMLU-Pro alone;
3. how much the full composite's ranking moves (Kendall tau) when each
   weight changes by -20% and +20%;
4. time of ``arena rank`` on the full v2 file (4,576 rows) + the arena with
   200 replicates, against the same command with ``--replicates 0`` (the
   baseline, measured in the same run), and where the 200-replicate run's CPU
   time goes (reading, ranking, JSON, imports).

Run: ``.venv/bin/python bench/composite.py``.
"""

from __future__ import annotations

import csv
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

# bench/rating.py would shadow the rating package when run as a script
_HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != _HERE]
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402 (after sys.path names the repository)
from scipy.stats import kendalltau  # noqa: E402 (after sys.path names the repository)

from arena.composite_files import load_file_inputs  # noqa: E402 (after sys.path names the repository)
from arena.config import Settings  # noqa: E402 (after sys.path names the repository)
from arena.rank_options import settings_options  # noqa: E402 (after sys.path names the repository)
from rating.composite import rank_models  # noqa: E402 (after sys.path names the repository)
from rating.composite.goodness import (  # noqa: E402 (after sys.path names the repository)
    GOODNESS_TRANSFORM,
    GOODNESS_WEIGHTING,
    SUBDOMAINS,
)
from rating.composite.goodness_fit import (  # noqa: E402 (after sys.path names the repository)
    correlation_interval,
    leave_one_out,
    recipe_scores,
)
from rating.composite.openllm import V2_TASKS  # noqa: E402 (after sys.path names the repository)

DATA = ROOT.parent / "shared" / "data" / "open-llm-leaderboard-2025-03-15"
AS_OF = date(2025, 3, 15)
ALL = dict(weights={"arena": 1.0}, replicates=0, as_of=AS_OF)


def options(**overrides):
    """The default settings' options (no config file), with overrides."""
    return settings_options(Settings(), **overrides)


def upstream_join() -> tuple[list[str], np.ndarray, np.ndarray]:
    """merged.csv's own join: one row per arena model (official provider's, else first)."""
    chosen: dict[str, tuple[dict, bool]] = {}
    with open(DATA / "merged.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            official = row["features_is_official_provider"] == "True"
            if row["model"] not in chosen or (official and not chosen[row["model"]][1]):
                chosen[row["model"]] = (row, official)
    names = sorted(chosen)
    tasks = np.array(
        [
            [float(chosen[m][0][f"evaluations_{t}_normalized_score"]) for t in V2_TASKS]
            for m in names
        ]
    )
    arena = np.array([float(chosen[m][0]["arena_score"]) for m in names])
    return names, tasks, arena


def checked_join(inputs) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Our join (organization checked): arena models with all six v2 scores."""
    weights = {"arena": 1.0, **{f"benchmarks.{t}": 1.0 for t in V2_TASKS}}
    res = rank_models(inputs, options(**{**ALL, "weights": weights}, min_coverage=1.0))
    names = [r["model"] for r in res.rows]
    tasks = np.array([[r["signals"][f"benchmarks.{t}"]["raw"] for t in V2_TASKS] for r in res.rows])
    arena = np.array([r["signals"]["arena"]["raw"]["rating"] for r in res.rows])
    return names, tasks, arena


def fmt(ci) -> str:
    return f"[{ci[0]:.2f}, {ci[1]:.2f}]"


def correlations(label: str, tasks: np.ndarray, arena: np.ndarray) -> None:
    names = list(V2_TASKS)
    avg = tasks.mean(axis=1)
    mmlu = tasks[:, names.index("mmlu_pro")]
    good = recipe_scores(tasks, names, SUBDOMAINS, GOODNESS_TRANSFORM, GOODNESS_WEIGHTING)
    print(f"   {label}: {len(arena)} models")
    a = correlation_interval(avg, arena, mmlu)
    print(f"     v2 average       r = {a['r']:.3f} {fmt(a['ci'])}")
    print(f"     MMLU-Pro alone   r = {a['other_r']:.3f} {fmt(a['other_ci'])}")
    print(f"     average - MMLU-Pro  = {a['difference']:+.3f} {fmt(a['difference_ci'])}")
    g = correlation_interval(good, arena, avg)
    print(f"     goodness         r = {g['r']:.3f} {fmt(g['ci'])}")
    print(f"     goodness - average  = {g['difference']:+.3f} {fmt(g['difference_ci'])}")
    m = correlation_interval(good, arena, mmlu)
    print(f"     goodness - MMLU-Pro = {m['difference']:+.3f} {fmt(m['difference_ci'])}")
    loo = leave_one_out(tasks, names, arena, SUBDOMAINS)
    picks = ", ".join(f"{h}/{w} {k}" for (h, w), k in loo.chosen.most_common())
    print(f"     leave-one-out recipe choice (folds): {picks}")
    base = leave_one_out(tasks, names, arena, SUBDOMAINS, recipes=[("identity", "benchmark")])
    one = leave_one_out(
        tasks[:, [names.index("mmlu_pro")]],
        ["mmlu_pro"],
        arena,
        SUBDOMAINS,
        [("identity", "benchmark")],
    )
    print(
        f"     r of leave-one-out predictions: goodness {loo.r:.3f}, v2 average {base.r:.3f}, "
        f"MMLU-Pro {one.r:.3f}"
    )


def sensitivity(inputs) -> None:
    weights = {"arena": 0.5, "benchmarks": 0.3, "popularity": 0.1, "recency": 0.05}
    full = rank_models(inputs, options(weights=weights, replicates=0, as_of=AS_OF))
    order = {r["model"]: r["score"] for r in full.rows}
    print(f"   models ranked (coverage >= 0.75): {len(order)}")
    for name in weights:
        taus = []
        for factor in (0.8, 1.2):
            w = {**weights, name: weights[name] * factor}
            res = rank_models(inputs, options(weights=w, replicates=0, as_of=AS_OF))
            other = {r["model"]: r["score"] for r in res.rows}
            common = [m for m in order if m in other]
            taus.append(kendalltau([order[m] for m in common], [other[m] for m in common])[0])
        print(f"   {name:<11} -20%: tau = {taus[0]:.4f}   +20%: tau = {taus[1]:.4f}")


def joint_vs_marginal(inputs) -> None:
    """How many models the joint replicates give a tighter rank (UB) and tier than the
    overlap of marginal intervals would (the rule before)."""
    from rating.tiers import assign_tiers, rank_upper_bound

    res = rank_models(inputs, options(as_of=AS_OF))
    rows = res.rows
    lo, hi = np.array([r["ci_low"] for r in rows]), np.array([r["ci_high"] for r in rows])
    marginal = rank_upper_bound(lo, hi)
    joint = np.array([r["rank_ub"] for r in rows])
    tiers_m = assign_tiers(np.array([r["score"] for r in rows]), lo, hi)
    print(
        f"   default composite, {len(rows)} models, 200 replicates: rank (UB) tighter from the "
        f"joint replicates for {int((joint > marginal).sum())}, looser for "
        f"{int((joint < marginal).sum())}; tiers {int(max(r['tier'] for r in rows))} "
        f"(marginal overlap: {int(tiers_m.max())})"
    )


def timing() -> None:
    v2 = str(DATA / "huggingface_v2.csv")
    cmd = [
        str(ROOT / ".venv" / "bin" / "arena"),
        "rank",
        "--ratings",
        str(DATA / "lmsys.csv"),
        "--benchmarks",
        v2,
        "--popularity",
        v2,
        "--models",
        v2,
        "--min-coverage",
        "0",
        "--as-of",
        "2025-03-15",
        "--format",
        "json",
        "--output",
        "/dev/null",
    ]
    wall, cpu = {}, {}
    for reps in ("0", "200"):
        walls, cpus = [], []
        for _ in range(2):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run([*cmd, "--replicates", reps], check=True, capture_output=True)
            walls.append(time.perf_counter() - t0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        wall[reps], cpu[reps] = min(walls), min(cpus)
    print(
        f"   arena rank, full v2 file, --replicates 0 (baseline): {wall['0']:.2f} s wall, "
        f"{cpu['0']:.2f} s CPU; 200 replicates: {wall['200']:.2f} s wall, {cpu['200']:.2f} s CPU; "
        f"ratio {wall['200'] / wall['0']:.2f}x wall, {cpu['200'] / cpu['0']:.2f}x CPU "
        "(best of 2, process start and JSON output included)"
    )
    stages()


def stages() -> None:
    """Where the 200-replicate run's time goes, in this process (CPU seconds, best of 2):
    reading the files, ranking, writing the JSON; and the command's imports (a new process
    importing ``arena.cli.rank``, less one importing nothing)."""
    from arena.cli.rank import render

    v2 = DATA / "huggingface_v2.csv"
    best: dict[str, float] = {}
    for _ in range(2):
        t0 = time.process_time()
        inputs, _ = load_file_inputs(
            ratings=DATA / "lmsys.csv", benchmarks=v2, popularity=v2, models=v2
        )
        t1 = time.process_time()
        result = rank_models(inputs, options(replicates=200, min_coverage=0.0, as_of=AS_OF))
        t2 = time.process_time()
        render(result, "json", False, None)
        t3 = time.process_time()
        for key, value in (("read", t1 - t0), ("rank", t2 - t1), ("json", t3 - t2)):
            best[key] = min(best.get(key, value), value)
    starts = {}
    for code in ("pass", "import arena.cli.rank"):
        times = []
        for _ in range(3):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([sys.executable, "-c", code], check=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            times.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        starts[code] = min(times)
    print(
        f"   in one process, 200 replicates, CPU: read the files {best['read']:.2f} s, rank "
        f"{best['rank']:.2f} s, JSON {best['json']:.2f} s; the command's imports "
        f"{starts['import arena.cli.rank'] - starts['pass']:.2f} s (best of 2-3)"
    )


def main() -> None:
    inputs, _ = load_file_inputs(
        ratings=DATA / "lmsys.csv",
        benchmarks=DATA / "merged.csv",
        popularity=DATA / "merged.csv",
        models=DATA / "merged.csv",
    )
    print("1-2. Benchmark scores vs arena score (Pearson r, 95% bootstrap interval over models)")
    correlations("upstream merged.csv join", *upstream_join()[1:])
    correlations("organization-checked join", *checked_join(inputs)[1:])
    print("\n3. Weight sensitivity: Kendall tau of the full ranking, each weight x0.8 and x1.2")
    sensitivity(inputs)
    joint_vs_marginal(inputs)
    print("\n4. Time")
    timing()


if __name__ == "__main__":
    main()
