"""Benchmark: style control (contextual Bradley-Terry) at the 1.67 M-battle scale.

Run: ``.venv/bin/python -m bench.style`` (``--battles``, ``--rounds`` to change the size).

Synthetic battles shaped like the public dump (129 models, 1,670,250 battles,
four style features with continuous values, a planted length effect and 10 %
ties), then, in one run:

1. the plain Bradley-Terry point fit on the same battles' pair counts
   (:func:`rating.bt.fit`, the baseline every ratio is measured against);
2. the style-controlled fit with sandwich intervals (:func:`rating.style.rate_style`,
   which also refits plain BT on the battles for the rank changes); target < 3 s;
3. the same with 100 bootstrap rounds; target < 15 s;
4. peak memory of the process (target < 1 GB).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from rating import bt
from rating.style import rate_style
from tests.rating.style_simulation import simulate_style


def _timed(fn):
    """``(result, wall seconds, CPU seconds of this process)``."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--battles", type=int, default=1_670_250)
    ap.add_argument("--models", type=int, default=129)
    ap.add_argument("--rounds", type=int, default=100)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(2024)
    theta = rng.normal(0.0, 0.6, args.models)
    battles, _ = simulate_style(
        args.battles, rng, theta=theta, verbose_model=0, gamma_length=0.35, tie_rate=0.1
    )
    m = args.models
    i, j = np.minimum(battles.a, battles.b), np.maximum(battles.a, battles.b)
    key, inv = np.unique(i * m + j, return_inverse=True)
    a_won = np.where(battles.a < battles.b, battles.outcome, 1.0 - battles.outcome)
    w = np.bincount(inv, a_won)
    n = np.bincount(inv).astype(float)
    _, t_plain, c_plain = _timed(lambda: bt.fit(key // m, key % m, w, n, m))
    res, t_sand, c_sand = _timed(lambda: rate_style(battles, ci="sandwich"))
    gamma = res.meta["style"]["coefficients"]["tokens"]
    res_b, t_boot, c_boot = _timed(lambda: rate_style(battles, ci="bootstrap", rounds=args.rounds))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = os.getloadavg()[0]
    print(
        f"battles {args.battles:,}, models {m}, features 4; load average {load:.1f} on "
        f"{os.cpu_count()} CPUs (wall times include waiting for a CPU; CPU times do not)"
    )
    print(
        f"plain BT point fit on pair counts (baseline): wall {t_plain:.2f} s, CPU {c_plain:.2f} s"
    )
    print(
        f"style control, sandwich intervals: wall {t_sand:.2f} s, CPU {c_sand:.2f} s "
        f"({c_sand / c_plain:.0f}x the baseline's CPU; target < 3 s)"
    )
    print(
        f"style control, {args.rounds} bootstrap rounds: wall {t_boot:.2f} s, CPU {c_boot:.2f} s "
        f"({c_boot / c_plain:.0f}x the baseline's CPU; target < 15 s)"
    )
    print(
        f"gamma(tokens) {gamma['gamma']:.4f} [{gamma['ci_low']:.4f}, {gamma['ci_high']:.4f}] "
        f"(sandwich); bootstrap "
        f"[{res_b.meta['style']['coefficients']['tokens']['ci_low']:.4f}, "
        f"{res_b.meta['style']['coefficients']['tokens']['ci_high']:.4f}]"
    )
    print(f"peak memory (max RSS): {peak_mb:.0f} MB (target < 1024 MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
