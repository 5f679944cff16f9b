"""Turning raw facts into signal values (higher is better).

* popularity: ``log1p`` of downloads and of likes, each min-max scaled over
  the pool, then averaged over the counts a model has;
* recency: a boost ``0.5 ** (age_days / half_life_days)`` (1 on release day);
* efficiency ("fastness"): ``log`` tokens per second (higher is better),
  ``-log`` latency and ``-log`` price per million tokens, each min-max scaled
  over the pool and averaged over what is known;
* size: estimated VRAM from parameters and precision.
"""

from __future__ import annotations

import re
from datetime import date

import numpy as np

from rating.composite.normalize import against, minmax

#: Bytes per parameter for precision names (lower-cased).
PRECISION_BYTES = {
    "float32": 4.0,
    "fp32": 4.0,
    "f32": 4.0,
    "bfloat16": 2.0,
    "bf16": 2.0,
    "float16": 2.0,
    "fp16": 2.0,
    "f16": 2.0,
    "half": 2.0,
    "int8": 1.0,
    "8bit": 1.0,
    "fp8": 1.0,
    "q8": 1.0,
    "q8_0": 1.0,
    "int4": 0.5,
    "4bit": 0.5,
    "nf4": 0.5,
    "fp4": 0.5,
    "gptq": 0.5,
    "awq": 0.5,
    "q4": 0.5,
    "q4_0": 0.5,
    "q4_k_m": 0.5,
    "int3": 0.375,
    "int2": 0.25,
}
#: Memory beyond the weights (KV cache, activations, runtime): a 20% margin.
VRAM_OVERHEAD = 1.2
DEFAULT_BYTES = 2.0


def _mean_present(columns: list[np.ndarray]) -> np.ndarray:
    stack = np.vstack(columns)
    present = ~np.isnan(stack)
    total = np.where(present, stack, 0.0).sum(axis=0)
    count = present.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def popularity(downloads, likes) -> np.ndarray:
    """Popularity value per model from download and like counts (``NaN`` = unknown).

    Examples
    --------
    >>> popularity([0, 99, np.nan], [np.nan, np.nan, 5]).round(3).tolist()
    [0.0, 1.0, 0.5]
    """
    cols = []
    for counts in (downloads, likes):
        x = np.asarray(counts, dtype=float)
        cols.append(minmax(np.log1p(np.where(x >= 0, x, np.nan))))
    return _mean_present(cols)


def recency(release_dates: list[date | None], as_of: date, half_life_days: float) -> np.ndarray:
    """Recency boost ``0.5 ** (age / half_life)``; future dates count as age 0.

    Examples
    --------
    >>> recency([date(2025, 1, 1), None], date(2025, 7, 1), 181).round(3).tolist()
    [0.5, nan]
    """
    if half_life_days <= 0:
        raise ValueError(f"recency half-life must be > 0 days, got {half_life_days}")
    ages = np.array(
        [np.nan if d is None else max((as_of - d).days, 0) for d in release_dates], dtype=float
    )
    return 0.5 ** (ages / float(half_life_days))


def efficiency(
    tokens_per_second=None, latency_ms=None, price_per_mtok=None, n: int | None = None
) -> np.ndarray:
    """Fastness per model from whichever efficiency facts are known.

    Examples
    --------
    >>> efficiency(tokens_per_second=[10, 100], latency_ms=[2000, 1000]).tolist()
    [0.0, 1.0]
    """
    cols = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for values, sign in ((tokens_per_second, 1.0), (latency_ms, -1.0), (price_per_mtok, -1.0)):
            if values is not None:
                x = np.asarray(values, dtype=float)
                cols.append(minmax(sign * np.log(np.where(x > 0, x, np.nan))))
    if not cols:
        return np.full(n or 0, np.nan)
    return _mean_present(cols)


def efficiency_draws(point: dict, draws: dict) -> np.ndarray:
    """Replicates of fastness: each fact's draws on the scale of its point values.

    ``point`` and ``draws`` map ``tokens_per_second``, ``latency_ms`` and
    ``price_per_mtok`` to ``(n,)`` point values and ``(R, n)`` draws (a fact with
    no draws repeats its point value); log and sign as in :func:`efficiency`.
    """
    cols = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for key, sign in (
            ("tokens_per_second", 1.0),
            ("latency_ms", -1.0),
            ("price_per_mtok", -1.0),
        ):
            ref = sign * np.log(np.where(point[key] > 0, point[key], np.nan))
            d = draws.get(key)
            d = (
                np.broadcast_to(point[key], (next(iter(draws.values())).shape[0], ref.size))
                if d is None
                else d
            )
            cols.append(against(sign * np.log(np.where(d > 0, d, np.nan)), ref, "minmax"))
    stack = np.stack(cols)
    present = ~np.isnan(stack)
    total = np.where(present, stack, 0.0).sum(axis=0)
    count = present.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def bootstrap_medians(samples: list, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """``replicates`` medians of resamples (with replacement) of one model's measurements."""
    x = np.asarray(samples, dtype=float)
    idx = rng.integers(0, x.size, size=(replicates, x.size))
    return np.median(x[idx], axis=1)


def bytes_per_parameter(precision: str | None) -> tuple[float, bool]:
    """Bytes per weight for a precision name, and whether it was known.

    Examples
    --------
    >>> bytes_per_parameter("bfloat16")
    (2.0, True)
    >>> bytes_per_parameter("Q5_K_M")
    (0.625, True)
    """
    if not precision:
        return DEFAULT_BYTES, False
    key = precision.strip().lower()
    if key in PRECISION_BYTES:
        return PRECISION_BYTES[key], True
    match = re.fullmatch(r"(?:q|int)(\d)(?:_.*)?", key)
    if match:
        return int(match.group(1)) / 8.0, True
    return DEFAULT_BYTES, False


def vram_gb(parameters_b, precisions) -> np.ndarray:
    """Estimated VRAM in GB: billions of parameters x bytes per weight x 1.2.

    Unknown parameter counts give ``NaN``; unknown precisions count as 16-bit.

    Examples
    --------
    >>> vram_gb([7.0, 7.0, None], ["bfloat16", "int4", "bf16"]).tolist()
    [16.8, 4.2, nan]
    """
    params = np.array([np.nan if p is None else float(p) for p in parameters_b], dtype=float)
    per = np.array([bytes_per_parameter(p)[0] for p in precisions], dtype=float)
    return np.round(params * per * VRAM_OVERHEAD, 3)
