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

Run: ``.venv/bin/python bench/rating.py [--rounds 1000] [--baseline-rounds 100]``
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import tracemalloc
from pathlib import Path

# This file is bench/rating.py: keep its folder off the path so "rating" is the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import choix  # noqa: E402
import numpy as np  # noqa: E402
from scipy.optimize import minimize  # noqa: E402
from scipy.special import expit  # noqa: E402

from rating import bt, counts, intervals  # noqa: E402
from rating.blas import single_threaded  # noqa: E402

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


def main():
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
    args = parser.parse_args()

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
        f"ru_maxrss after ours (target < 500 MB); baseline {base_peak / 2**20:.0f} MB "
        f"(tracemalloc, point fit + 3 rounds), process {rss:.0f} MB ru_maxrss at the end"
    )


if __name__ == "__main__":
    main()
