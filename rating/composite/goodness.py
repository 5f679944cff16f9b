"""Benchmark aggregates: the v2-style average, one benchmark, and goodness.

Benchmark results are leaves ``(model, benchmark, subtask)`` holding a
normalized score on 0-100 (see :mod:`rating.composite.openllm`). Aggregates
are nested means:

* a benchmark's score is the mean of its subtasks;
* the ``benchmarks`` signal is the mean of the benchmarks a model has (for v2
  data: the six tasks with equal weight);
* goodness, in the spirit of the MPG paper, is a benchmark-only quality
  score: each benchmark's score is put on the log-odds scale
  (:data:`GOODNESS_TRANSFORM`), then averaged with the weighting
  :data:`GOODNESS_WEIGHTING` (``benchmark``: every benchmark alike;
  ``subdomain``: subtask -> benchmark -> subdomain -> model, each level an
  equal-weight mean). The recipe was chosen by leave-one-out among six
  candidates (see :mod:`rating.composite.goodness_fit` and
  ``bench/composite.py``); per subdomain (reasoning, knowledge, math,
  instruction following, coding) goodness is the mean over the subdomain's
  benchmarks. With item counts, leaves are Beta posteriors and goodness
  carries a credible interval.

All aggregates work on a point vector ``(L,)`` or on draws ``(R, L)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rating.composite.openllm import (
    baseline,
    canonical_task,
    mean_of_two_scale,
    normalize_score,
)
from rating.composite.uncertainty import beta_draws

#: Default subdomain of each benchmark (goodness level 3); others are their own domain.
SUBDOMAINS = {
    "ifeval": "instruction_following",
    "bbh": "reasoning",
    "musr": "reasoning",
    "math": "math",
    "gsm8k": "math",
    "gpqa": "knowledge",
    "mmlu_pro": "knowledge",
    "mmlu": "knowledge",
    "humaneval": "coding",
    "mbpp": "coding",
    "livecodebench": "coding",
}


#: Goodness recipe, chosen by leave-one-out on the 52 arena models of the
#: 2025-03-15 Open LLM Leaderboard v2 data (bench/composite.py, docs/composite.md).
GOODNESS_TRANSFORM = "logit"
GOODNESS_WEIGHTING = "benchmark"
#: Normalized scores are clipped to [LOGIT_FLOOR, 100 - LOGIT_FLOOR] before log-odds
#: (a 0 normalized score, common on MATH, would be minus infinity).
LOGIT_FLOOR = 0.5


def transform(values, how: str) -> np.ndarray:
    """A 0-100 normalized score on the goodness scale: ``identity``, ``sqrt`` or
    ``logit`` (log-odds of the score / 100, clipped to half a point from the ends).

    Examples
    --------
    >>> float(transform(50.0, "logit"))
    0.0
    """
    x = np.asarray(values, dtype=float)
    if how == "identity":
        return x
    if how == "sqrt":
        return np.sqrt(np.clip(x, 0.0, None))
    if how == "logit":
        p = np.clip(x, LOGIT_FLOOR, 100.0 - LOGIT_FLOOR) / 100.0
        return np.log(p / (1.0 - p))
    raise ValueError(f"unknown goodness transform {how!r}")


@dataclass
class Leaves:
    """Benchmark results aligned as parallel arrays (one entry per leaf).

    ``score`` is a raw accuracy in [0, 1] unless ``normalized`` (already 0-100).
    ``model`` holds indices into the candidate pool.
    """

    model: np.ndarray
    benchmark: list[str]
    subtask: list[str]
    score: np.ndarray
    n_items: np.ndarray
    normalized: np.ndarray

    def __post_init__(self) -> None:
        self.model = np.asarray(self.model, dtype=int)
        self.benchmark = [canonical_task(b) for b in self.benchmark]
        self.subtask = [s.strip().lower() for s in self.subtask]
        self.score = np.asarray(self.score, dtype=float)
        self.n_items = np.asarray(self.n_items, dtype=float)
        self.normalized = np.asarray(self.normalized, dtype=bool)

    def __len__(self) -> int:
        return int(self.model.size)

    @property
    def baselines(self) -> np.ndarray:
        return np.array([baseline(b, s) for b, s in zip(self.benchmark, self.subtask)])

    def select(self, keep: np.ndarray) -> Leaves:
        keep = np.asarray(keep, dtype=bool)
        return Leaves(
            self.model[keep],
            [b for b, k in zip(self.benchmark, keep) if k],
            [s for s, k in zip(self.subtask, keep) if k],
            self.score[keep],
            self.n_items[keep],
            self.normalized[keep],
        )


def raw_accuracy(leaves: Leaves) -> np.ndarray:
    """Raw accuracies; normalized leaves are mapped back through their baseline."""
    base = leaves.baselines
    return np.where(leaves.normalized, base + (1 - base) * leaves.score / 100.0, leaves.score)


def normalized_points(leaves: Leaves) -> np.ndarray:
    """Each leaf on the 0-100 v2 scale (baseline removed, clipped at 0)."""
    return np.where(
        leaves.normalized, leaves.score, normalize_score(leaves.score, leaves.baselines)
    )


def normalized_draws(leaves: Leaves, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """Beta-posterior draws of every leaf on the 0-100 scale, ``(replicates, L)``.

    A score that is the mean of two accuracies (IFEval, task level) is drawn as that
    mean: its Beta draw over the first count is scaled about the point by
    :func:`rating.composite.openllm.mean_of_two_scale`.
    """
    point = raw_accuracy(leaves)
    acc = beta_draws(point, leaves.n_items, replicates, rng)
    scale = np.array([mean_of_two_scale(b, s) for b, s in zip(leaves.benchmark, leaves.subtask)])
    if (scale != 1.0).any():
        two = np.flatnonzero(scale != 1.0)
        acc[:, two] = np.clip(point[two] + (acc[:, two] - point[two]) * scale[two], 0.0, 1.0)
    out = normalize_score(acc, leaves.baselines[None, :])
    fixed = ~(np.isfinite(leaves.n_items) & (leaves.n_items > 0))
    out[:, fixed] = normalized_points(leaves)[fixed]
    return out


def _group_mean(values: np.ndarray, keys: list) -> tuple[np.ndarray, list]:
    """Mean of ``values[..., L]`` over leaves sharing a key; returns (means[..., G], keys).

    Keys all distinct (one leaf per benchmark, as in v2 data): the values as they
    are. Else the leaves are put in group order once and each group's block of rows
    summed by ``np.add.reduceat`` over all replicates at once (no sparse matrix).
    """
    uniq = list(dict.fromkeys(keys))
    values = np.asarray(values, dtype=float)
    if len(uniq) == len(keys):
        return values, uniq
    index = {k: i for i, k in enumerate(uniq)}
    cols = np.array([index[k] for k in keys], dtype=int)
    order = np.argsort(cols, kind="stable")
    starts = np.flatnonzero(np.r_[True, cols[order][1:] != cols[order][:-1]])
    counts = np.diff(np.r_[starts, cols.size]).astype(float)
    flat = values.reshape(-1, values.shape[-1])
    sums = np.add.reduceat(np.ascontiguousarray(flat.T[order]), starts, axis=0).T
    return (sums / counts).reshape(values.shape[:-1] + (len(uniq),)), uniq


def _to_pool(values: np.ndarray, model_of_group: np.ndarray, n_models: int) -> np.ndarray:
    out = np.full(values.shape[:-1] + (n_models,), np.nan)
    out[..., model_of_group] = values
    return out


def benchmark_scores(
    leaves: Leaves, values: np.ndarray, n_models: int, only: str | None = None
) -> np.ndarray:
    """Per model: mean over benchmarks of mean over subtasks (``only``: one benchmark).

    ``values`` is ``(L,)`` or ``(R, L)`` on the 0-100 scale; the answer is
    ``(n_models,)`` or ``(R, n_models)`` with ``NaN`` for models without results.
    """
    keep = np.ones(len(leaves), dtype=bool)
    if only is not None:
        only = canonical_task(only)
        keep = np.array([b == only for b in leaves.benchmark])
    if not keep.any():
        return np.full(np.asarray(values).shape[:-1] + (n_models,), np.nan)
    values = np.asarray(values)[..., keep]
    models = leaves.model[keep]
    bench = [b for b, k in zip(leaves.benchmark, keep) if k]
    per_bench, keys = _group_mean(values, list(zip(models.tolist(), bench)))
    per_model, mkeys = _group_mean(per_bench, [k[0] for k in keys])
    return _to_pool(per_model, np.array(mkeys, dtype=int), n_models)


def goodness(
    leaves: Leaves,
    values: np.ndarray,
    n_models: int,
    subdomains: dict[str, str] | None = None,
    how: str = GOODNESS_TRANSFORM,
    weighting: str = GOODNESS_WEIGHTING,
    only: str | None = None,
) -> np.ndarray:
    """Goodness per model (``only``: one subdomain), on the ``how`` scale.

    Each benchmark (mean of its subtasks) is transformed, then averaged over
    the model's benchmarks (``weighting="benchmark"``) or over subdomains of
    benchmark means (``"subdomain"``). ``values`` is ``(L,)`` or ``(R, L)``.
    """
    domains = SUBDOMAINS if subdomains is None else subdomains
    if only is not None:
        keep = np.array([domains.get(b, b) == only for b in leaves.benchmark], dtype=bool)
        if not keep.any():
            return np.full(np.asarray(values).shape[:-1] + (n_models,), np.nan)
        leaves, values = leaves.select(keep), np.asarray(values)[..., keep]
    if len(leaves) == 0:
        return np.full(np.asarray(values).shape[:-1] + (n_models,), np.nan)
    models = leaves.model.tolist()
    per_bench, keys = _group_mean(values, list(zip(models, leaves.benchmark)))
    per_bench = transform(per_bench, how)
    if weighting == "subdomain":
        per_bench, keys = _group_mean(per_bench, [(m, domains.get(b, b)) for m, b in keys])
    elif weighting != "benchmark":
        raise ValueError(f"unknown goodness weighting {weighting!r}")
    per_model, mkeys = _group_mean(per_bench, [k[0] for k in keys])
    return _to_pool(per_model, np.array(mkeys, dtype=int), n_models)


def subdomains_present(leaves: Leaves, subdomains: dict[str, str] | None = None) -> list[str]:
    """The subdomains the leaves have data for, sorted."""
    domains = SUBDOMAINS if subdomains is None else subdomains
    return sorted({domains.get(b, b) for b in leaves.benchmark})
