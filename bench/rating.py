"""Benchmark: our Bradley-Terry fit + bootstrap vs FastChat's published method.

On the 1.67 M-battle Chatbot Arena dump (../shared/data/chatbot-arena-20240814):

* ours: aggregate once (the dump is already per-pair counts), exact Newton
  fit, ``--rounds`` (default 1000) multinomial bootstrap rounds over the count
  cells (exact draws by :mod:`rating.resample`), every replicate fitted to its
  own optimum by batched chord steps warm-started from the point fit;
* baseline, following FastChat's published method (``compute_bt`` /
  ``compute_bootstrap_bt`` in ``fastchat/serve/monitor/rating_systems.py``,
  re-implemented here without pandas): expand to one row per battle, keep
  the unique (model_a, model_b, outcome) rows with their counts, fit the
  count-weighted logistic loss (ties = outcome 1/2) with L-BFGS-B (log10
  strengths from zero, gtol 1e-6, at most 100 iterations), and bootstrap by
  multinomial draws of N battles over the unique rows (weights divided by N)
  (``--baseline-rounds``, default 100), one L-BFGS-B fit per round.

Printed: the times, the ratio per bootstrap round, the largest rating
difference between the two point fits and between ours and an independent
exact optimum (choix's ILSR to 1e-13), and peak memory (tracemalloc for each
side; the process's ru_maxrss). Also, for scale: the same method with
FastChat's loss function as published (its gradient summed with ``np.add.at``
where the baseline above uses ``np.bincount``, so the baseline we compare with
is the faster of the two), and the exact multinomial draw alone, ours against
numpy's ``Generator.multinomial``.

In the same run: (1) the whole ``arena rate --input`` (a new process, as a
user runs it) on the dump written as a 1.67 M-line CSV with ``--rounds``
bootstrap rounds, against the baseline reading the same CSV (polars, in this
process) and running FastChat's method with ``--baseline-rounds`` rounds (``--pairs``
runs of each, alternating; the pair with the median ratio is reported, and every pair), plus
polars against pyarrow reading that CSV; (3) ``--elo-rounds`` (default 100)
Elo bootstrap rounds on the dump's battles in a shuffled order, and the old
per-battle replay's cost per battle and round (measured on a slice). Peak
memory of ``arena rate`` is its process's ru_maxrss (target < 1 GB).

Run: ``.venv/bin/python bench/rating.py [--rounds 1000] [--baseline-rounds 100]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

# This file is bench/rating.py: keep its folder off the path so "rating" is the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import choix  # noqa: E402 (after sys.path names the repository)
import numpy as np  # noqa: E402 (after sys.path names the repository)
from scipy.optimize import minimize  # noqa: E402 (after sys.path names the repository)
from scipy.special import expit  # noqa: E402 (after sys.path names the repository)

from rating import bt, counts, engine, intervals  # noqa: E402 (after sys.path names the repository)
from rating.blas import single_threaded  # noqa: E402 (after sys.path names the repository)

DUMP = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "data"
    / "chatbot-arena-20240814"
    / "chatbotarena_20240814.json"
)
ALPHA = np.log(10.0)  # parameters in log10-strength units, rating = 1000 + 400·r


@single_threaded  # as rating.engine runs it
def ours(rounds: int, seed: int):
    t0 = time.perf_counter()
    data = json.loads(DUMP.read_text())
    x = np.asarray(data["X"])
    pc = counts.pair_counts(
        x[:, 0], x[:, 1], np.asarray(data["Y"], float), data["models"], positional=False
    )
    i, j, wi, wj, t = pc.unordered()
    m = pc.n_models
    t1 = time.perf_counter()
    fit = bt.fit(i, j, wi + 0.5 * t, wi + wj + t, m)
    t2 = time.perf_counter()
    boot = intervals.bootstrap_bt(i, j, wi, wj, t, m, fit.theta, rounds=rounds, seed=seed)
    t3 = time.perf_counter()
    for _ in intervals.multinomial_rounds(np.concatenate([wi, wj, t]), rounds, seed):
        pass  # the sampling alone, to split the round's cost
    t4 = time.perf_counter()
    return {
        "models": pc.models,
        "theta": fit.theta,
        "grad_norm": fit.grad_norm,
        "iterations": fit.iterations,
        "load": t1 - t0,
        "fit": t2 - t1,
        "boot": t3 - t2,
        "sample": t4 - t3,
        "boot_grad": boot.max_grad_norm,
        "reps": boot.params,
        "pairs": (i, j, wi, wj, t),
    }


# --- baseline: FastChat's method on expanded battles ------------------------------------


def expand(data):
    """One row per battle: model_a, model_b, outcome (0 a wins, 1 b wins, 2 tie)."""
    x = np.asarray(data["X"], np.int32)
    y = np.asarray(data["Y"], np.int64)
    reps = np.c_[y[:, 0], y[:, 1], y[:, 2] + y[:, 3]]
    rows = np.repeat(np.arange(len(x)), reps.sum(1))
    outcome = np.concatenate([np.repeat(np.array([0, 1, 2], np.int8), r) for r in reps])
    return x[rows, 0], x[rows, 1], outcome


def baseline_loss(r, a, b, score, w):
    p = expit(ALPHA * (r[a] - r[b]))
    p = np.clip(p, 1e-6, 1 - 1e-6)
    loss = -np.sum(w * (score * np.log(p) + (1 - score) * np.log(1 - p)))
    g = w * (p - score) * ALPHA
    m = r.size
    grad = np.bincount(a, g, m) - np.bincount(b, g, m)
    return loss, grad


def published_loss(r, matchups, score, w):
    """The loss as FastChat's code computes it: no clipping, gradient by ``np.add.at``."""
    rr = r[matchups]
    p = expit(ALPHA * (rr[:, 0] - rr[:, 1]))
    loss = -np.sum((np.log(p) * score + np.log(1.0 - p) * (1.0 - score)) * w)
    g = -ALPHA * (score - p) * w
    grad = np.zeros_like(r)
    np.add.at(grad, matchups, g[:, None] * np.array([1.0, -1.0]))
    return loss, grad


def baseline_fit(a, b, score, w, m, loss=None):
    args = (a, b, score, w) if loss is None else (np.c_[a, b], score, w)
    res = minimize(
        loss or baseline_loss,
        np.zeros(m),
        args=args,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 100, "gtol": 1e-6},
    )
    r = res.x
    return 400.0 * (r - r.mean())  # rating offsets, centred


@single_threaded  # like ours: on a busy machine OpenBLAS's threads slow L-BFGS-B down by 10x
def baseline(rounds: int, seed: int, m: int, over_battles_rounds: int, published_rounds: int):
    t0 = time.perf_counter()
    data = json.loads(DUMP.read_text())
    a, b, outcome = expand(data)
    n = a.size
    key = (a.astype(np.int64) * m + b) * 3 + outcome
    uniq, inverse = np.unique(key, return_inverse=True)
    ua, ub, uo = uniq // 3 // m, uniq // 3 % m, uniq % 3
    score = np.select([uo == 0, uo == 1], [1.0, 0.0], 0.5)
    weights = np.bincount(inverse, minlength=uniq.size).astype(float)
    t1 = time.perf_counter()
    point = baseline_fit(ua, ub, score, weights, m)
    t2 = time.perf_counter()
    # (a) FastChat's code: multinomial draws of n battles over the unique rows (the same
    # in distribution as resampling the battles), weights divided by n, one fit per round.
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, weights / weights.sum(), size=rounds)
    t3 = time.perf_counter()
    reps = np.empty((rounds, m))
    for r in range(rounds):
        reps[r] = baseline_fit(ua, ub, score, draws[r] / n, m)
    t4 = time.perf_counter()
    # (b) Literally resampling the battles: a multinomial over all n battles per round.
    rng = np.random.default_rng(seed)
    uniform = np.full(n, 1.0 / n)
    for _ in range(over_battles_rounds):
        w = np.bincount(inverse, rng.multinomial(n, uniform), uniq.size)
        baseline_fit(ua, ub, score, w / n, m)
    t5 = time.perf_counter()
    # (c) The same rounds with FastChat's loss function as published (np.add.at).
    for r in range(published_rounds):
        baseline_fit(ua, ub, score, draws[r] / n, m, loss=published_loss)
    t6 = time.perf_counter()
    # How far the baseline's replicates are from the exact optimum of their own draw.
    err = []
    for r in range(min(rounds, 20)):
        wi, wj, tt = (
            np.bincount(ua * m + ub, draws[r] * (uo == k), m * m).reshape(m, m) for k in (0, 1, 2)
        )
        ii, jj = np.nonzero(np.triu(np.ones((m, m)), 1))
        wij = wi[ii, jj] + wj[jj, ii]
        wji = wj[ii, jj] + wi[jj, ii]
        tij = tt[ii, jj] + tt[jj, ii]
        keep = (wij + wji + tij) > 0
        exact = bt.fit(ii[keep], jj[keep], (wij + tij / 2)[keep], (wij + wji + tij)[keep], m)
        err.append(np.abs(bt.to_rating(exact.theta) - 1000.0 - reps[r]).max())
    return {
        "rating": 1000.0 + point,
        "load": t1 - t0,
        "fit": t2 - t1,
        "sample": t3 - t2,
        "boot": t4 - t2,
        "battles_boot": t5 - t4,
        "published_fit": t6 - t5,
        "battles": n,
        "unique_rows": uniq.size,
        "reps": reps,
        "rep_err": np.array(err),
    }


# --- (1) the whole `arena rate --input` on the dump as a CSV; (3) Elo's bootstrap -------------


def write_csv(data, path: Path, seed: int) -> int:
    """The dump expanded to one CSV line per battle (shuffled, with a tstamp), as a user has it."""
    import polars as pl

    a, b, outcome = expand(data)
    order = np.random.default_rng(seed).permutation(a.size)
    names = pl.Series(data["models"])
    winners = pl.Series(["model_a", "model_b", "tie"])
    pl.DataFrame(
        {
            "model_a": names.gather(a[order]),
            "model_b": names.gather(b[order]),
            "winner": winners.gather(outcome[order]),
            "tstamp": 1.7e9 + np.arange(a.size, dtype=float),
        }
    ).write_csv(path)
    return a.size


def readers(path: Path) -> dict:
    """Seconds to read the CSV's three battle columns and code the names: polars vs pyarrow."""
    out = {}
    t0 = time.perf_counter()
    import polars as pl

    frame = pl.read_csv(path, columns=["model_a", "model_b", "winner"], infer_schema=False)
    for name in frame.columns:
        col = frame[name]
        col.cast(pl.Enum(col.unique().to_list())).to_physical().to_numpy()
    out["polars"] = time.perf_counter() - t0
    try:
        import pyarrow.csv as pacsv
    except ImportError:
        return out
    t0 = time.perf_counter()
    table = pacsv.read_csv(
        path, convert_options=pacsv.ConvertOptions(include_columns=["model_a", "model_b", "winner"])
    )
    for name in table.column_names:
        table[name].dictionary_encode().combine_chunks().indices.to_numpy()
    out["pyarrow"] = time.perf_counter() - t0
    return out


def arena_rate(path: Path, rounds: int, seed: int) -> dict:
    """``arena rate --input`` as a user runs it: a new process, imports and all."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu0 = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    exe = Path(sys.executable).with_name("arena")
    args = [str(exe), "rate", "--input", str(path), "--bootstrap", str(rounds)]
    args += ["--seed", str(seed), "--format", "json", "--output", str(path.with_suffix(".json"))]
    t0 = time.perf_counter()
    subprocess.run(args, check=True, env={**os.environ, "ARENA_CONFIG": ""})
    seconds = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime - cpu0
    result = json.loads(path.with_suffix(".json").read_text())
    rss_mb = max(usage.ru_maxrss, before) / 1024
    return {"seconds": seconds, "cpu": cpu, "rss_mb": rss_mb, "result": result}


@single_threaded
def baseline_end_to_end(path: Path, rounds: int, seed: int) -> dict:
    """The baseline from the same CSV: read (polars, the fastest reader we measured, in this
    process: no start-up counted), then FastChat's method with ``rounds`` rounds."""
    import polars as pl

    t0, cpu0 = time.perf_counter(), time.process_time()
    frame = pl.read_csv(path, columns=["model_a", "model_b", "winner"], infer_schema=False)
    models = sorted(set(frame["model_a"].unique().to_list()) | set(frame["model_b"].unique()))
    enum = pl.Enum(models)
    a = frame["model_a"].cast(enum).to_physical().to_numpy().astype(np.int64)
    b = frame["model_b"].cast(enum).to_physical().to_numpy().astype(np.int64)
    outcome = frame["winner"].replace_strict({"model_a": 0, "model_b": 1, "tie": 2}).to_numpy()
    m = len(models)
    key = (a * m + b) * 3 + outcome
    uniq, inverse = np.unique(key, return_inverse=True)
    ua, ub, uo = uniq // 3 // m, uniq // 3 % m, uniq % 3
    score = np.select([uo == 0, uo == 1], [1.0, 0.0], 0.5)
    weights = np.bincount(inverse, minlength=uniq.size).astype(float)
    baseline_fit(ua, ub, score, weights, m)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(a.size, weights / weights.sum(), size=rounds)
    for r in range(rounds):
        baseline_fit(ua, ub, score, draws[r] / a.size, m)
    return {"seconds": time.perf_counter() - t0, "cpu": time.process_time() - cpu0}


def old_elo_replay(left, right, outcome, m, k, repeat):
    """The per-battle replay the compiled one replaced (vectorised over rounds only)."""
    score = np.select([outcome == 0, outcome == 1], [1.0, 0.0], 0.5)
    rating = np.full((repeat.shape[0], m), 1000.0)
    rows = np.arange(repeat.shape[0])
    for t in range(left.size):
        times = repeat[:, t]
        for c in range(1, int(times.max()) + 1):
            sel = rows[times >= c]
            ra, rb = rating[sel, left[t]], rating[sel, right[t]]
            delta = k * (score[t] - 1.0 / (1.0 + 10.0 ** ((rb - ra) / 400.0)))
            rating[sel, left[t]] = ra + delta
            rating[sel, right[t]] = rb - delta
    return rating


def elo_bench(data, rounds: int, seed: int) -> dict:
    """``rounds`` Elo bootstrap rounds on the dump's battles (shuffled: the dump has no order),
    and the old replay's cost per battle and round, measured on a slice."""
    a, b, outcome = expand(data)
    order = np.random.default_rng(seed).permutation(a.size)
    a, b, outcome = (x[order].astype(np.int64) for x in (a, b, outcome))
    m = len(data["models"])
    engine.rate_elo(a[:100], b[:100], outcome[:100], data["models"], rounds=2)  # compile once
    t0 = time.perf_counter()
    res = engine.rate_elo(a, b, outcome, data["models"], rounds=rounds, seed=seed)
    seconds = time.perf_counter() - t0
    n_old, r_old = 20_000, 10
    times = np.random.default_rng(seed).multinomial(n_old, np.full(n_old, 1 / n_old), r_old)
    t0 = time.perf_counter()
    old_elo_replay(a[:n_old], b[:n_old], outcome[:n_old], m, 4.0, times)
    per = (time.perf_counter() - t0) / (n_old * r_old)
    return {"seconds": seconds, "old_per": per, "battles": a.size, "top": res.models[0]}


def median_pair(pairs: list[tuple[dict, dict]]) -> tuple[dict, dict]:
    """The pair with the median wall-time ratio (the lower middle one for an even count),
    each side's dict given ``"pairs"``: every pair's seconds, for the report."""
    ranked = sorted(pairs, key=lambda p: p[1]["seconds"] / p[0]["seconds"])
    ours_, base = ranked[(len(ranked) - 1) // 2]
    ours_ = {**ours_, "pairs": [(o["seconds"], b["seconds"]) for o, b in pairs]}
    return ours_, base


def print_end_to_end(args, n, read_times, e2e, base_e2e, elo):
    print(
        f"(1) arena rate --input on the dump as a CSV ({n:,} lines): ours {args.rounds} rounds "
        f"{e2e['seconds']:.2f} s end to end (new process, peak RSS {e2e['rss_mb']:.0f} MB); "
        f"baseline (FastChat's method, CSV read by polars in-process) {args.baseline_rounds} "
        f"rounds {base_e2e['seconds']:.2f} s: {base_e2e['seconds'] / e2e['seconds']:.2f}x "
        f"(target >= 2x; the median of {len(e2e['pairs'])} alternating pairs: "
        + ", ".join(f"{o:.2f}/{b:.2f} s {b / o:.2f}x" for o, b in e2e["pairs"])
        + ")"
    )
    print(
        f"    the same in CPU time (user + system, all threads; steadier on a shared machine): "
        f"ours {e2e['cpu']:.2f} s, baseline {base_e2e['cpu']:.2f} s: "
        f"{base_e2e['cpu'] / e2e['cpu']:.2f}x"
    )
    print(
        "    reading the CSV's three battle columns into codes: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in read_times.items())
    )
    old_total = elo["old_per"] * elo["battles"] * args.elo_rounds
    print(
        f"(3) Elo: {args.elo_rounds} bootstrap rounds on {elo['battles']:,} battles "
        f"{elo['seconds']:.2f} s (compiled replay; point fit and draws included); the old "
        f"per-battle replay costs {elo['old_per'] * 1e6:.2f} us per battle and round "
        f"(measured on 20,000 battles x 10 rounds): about {old_total:.0f} s for the same work"
    )


def main():
    """Run every measurement, then print one line per figure (long: it is the report)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--baseline-rounds", type=int, default=100)
    parser.add_argument(
        "--over-battles-rounds",
        type=int,
        default=20,
        help="rounds of the baseline that draws over all battles",
    )
    parser.add_argument(
        "--published-rounds",
        type=int,
        default=20,
        help="rounds fitted with FastChat's loss function as published",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--elo-rounds", type=int, default=100)
    parser.add_argument(
        "--pairs",
        type=int,
        default=3,
        help="end-to-end runs of ours and the baseline, alternating (the median ratio counts)",
    )
    args = parser.parse_args()

    data = json.loads(DUMP.read_text())
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "battles.csv"
        n = write_csv(data, csv_path, args.seed)
        read_times = readers(csv_path)
        # Alternating pairs: this machine's speed drifts by half from one minute to the next
        # (seen with nothing else running), so one run of each would compare two machines.
        pairs = [
            (
                arena_rate(csv_path, args.rounds, args.seed),
                baseline_end_to_end(csv_path, args.baseline_rounds, args.seed),
            )
            for _ in range(max(1, args.pairs))
        ]
        e2e, base_e2e = median_pair(pairs)
    elo = elo_bench(data, args.elo_rounds, args.seed)
    del data

    # Timed runs first (tracemalloc slows allocation down), then memory runs.
    o = ours(args.rounds, args.seed)
    rss_after_ours = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    m = len(o["models"])
    base = baseline(
        args.baseline_rounds, args.seed, m, args.over_battles_rounds, args.published_rounds
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    ours(args.rounds, args.seed)
    ours_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    baseline(min(3, args.baseline_rounds), args.seed, m, 0, 0)
    base_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    i, j, wi, wj, t = o["pairs"]
    comp = np.zeros((m, m))
    np.add.at(comp, (i, j), wi + 0.5 * t)
    np.add.at(comp, (j, i), wj + 0.5 * t)
    ref = choix.ilsr_pairwise_dense(comp, tol=1e-13, max_iter=100000)
    exact = bt.to_rating(ref - ref.mean())
    mine = bt.to_rating(o["theta"])
    base_grad = np.linalg.norm(
        bt.gradient(
            (base["rating"] - 1000) / bt.POINTS_PER_LOG_UNIT, i, j, wi + 0.5 * t, wi + wj + t, m
        )
    )

    per_ours = o["boot"] / args.rounds
    per_base = base["boot"] / args.baseline_rounds
    per_battles = base["battles_boot"] / max(args.over_battles_rounds, 1)
    fit_ours = (o["boot"] - o["sample"]) / args.rounds
    fit_base = (base["boot"] - base["sample"]) / args.baseline_rounds
    print(
        f"data: {DUMP.name}: {base['battles']:,} battles, {m} models, {len(i):,} pairs, "
        f"{base['unique_rows']:,} unique (a, b, outcome) rows"
    )
    print(
        f"ours:     load+aggregate {o['load'] * 1000:.0f} ms, point fit {o['fit'] * 1000:.1f} ms "
        f"({o['iterations']} Newton steps, |grad| {o['grad_norm']:.1e}), {args.rounds} bootstrap "
        f"rounds {o['boot']:.2f} s = {per_ours * 1000:.2f} ms/round (drawing "
        f"{o['sample'] / args.rounds * 1000:.2f} + fitting {fit_ours * 1000:.2f}; every "
        f"replicate stopped with its last step below {intervals.REPLICATE_TOL:.0e} "
        f"natural-log units, |grad| <= {o['boot_grad']:.1e})"
    )
    print(
        f"baseline: load+expand {base['load'] * 1000:.0f} ms, "
        f"point fit {base['fit'] * 1000:.1f} ms "
        f"(L-BFGS-B, |grad| at its answer {base_grad:.1e})"
    )
    print(
        f"  (a) FastChat's code path, multinomial over the unique rows: {args.baseline_rounds} "
        f"rounds {base['boot']:.2f} s = {per_base * 1000:.2f} ms/round (drawing "
        f"{base['sample'] / args.baseline_rounds * 1000:.2f} + fitting {fit_base * 1000:.2f}); "
        f"its replicates differ from their own exact optimum by up to "
        f"{base['rep_err'].max():.2f} rating points (median {np.median(base['rep_err']):.3f})"
    )
    print(
        f"  (b) multinomial over all battles: {per_battles * 1000:.1f} ms/round "
        f"({args.over_battles_rounds} rounds)"
    )
    if args.published_rounds:
        per_published = base["published_fit"] / args.published_rounds
        print(
            f"  (c) (a) with FastChat's loss function as published (np.add.at): fitting "
            f"{per_published * 1000:.2f} ms/round ({args.published_rounds} rounds), "
            f"{per_published / (fit_base or 1):.1f}x the fitting time of (a)"
        )
    print(
        f"exact multinomial draw alone: ours {o['sample'] / args.rounds * 1000:.2f} ms/round "
        f"(rating.resample), numpy's Generator.multinomial "
        f"{base['sample'] / args.baseline_rounds * 1000:.2f} ms/round"
    )
    print(
        f"speed per bootstrap round (target >= 30x): {per_base / per_ours:.1f}x vs (a), "
        f"{per_battles / per_ours:.0f}x vs (b); fitting alone {fit_base / fit_ours:.0f}x vs (a)"
    )
    print(
        f"point fit + bootstrap total: ours {o['fit'] + o['boot']:.2f} s for {args.rounds} "
        f"rounds; baseline (a) {base['fit'] + base['boot']:.2f} s for {args.baseline_rounds} rounds"
    )
    print(
        f"largest rating difference: ours vs baseline {np.abs(mine - base['rating']).max():.4f}; "
        f"ours vs exact optimum (choix ILSR, tol 1e-13) {np.abs(mine - exact).max():.2e} "
        f"(target <= 0.01); baseline vs exact {np.abs(base['rating'] - exact).max():.4f}"
    )
    ci_o = np.quantile(bt.to_rating(o["reps"]), [0.025, 0.975], axis=0)
    ci_b = np.quantile(1000.0 + base["reps"], [0.025, 0.975], axis=0)
    print(
        f"95% interval widths: ours median {np.median(ci_o[1] - ci_o[0]):.2f}, baseline "
        f"median {np.median(ci_b[1] - ci_b[0]):.2f} (baseline from {args.baseline_rounds} rounds)"
    )
    print(
        f"peak memory: ours {ours_peak / 2**20:.0f} MB (tracemalloc), "
        f"process {rss_after_ours:.0f} MB "
        f"ru_maxrss after ours (this process also wrote the CSV; target < 1 GB); baseline "
        f"{base_peak / 2**20:.0f} MB "
        f"(tracemalloc, point fit + 3 rounds), process {rss:.0f} MB ru_maxrss at the end"
    )
    print_end_to_end(args, n, read_times, e2e, base_e2e, elo)


if __name__ == "__main__":
    main()
