"""Composite rank: arena ratings blended with benchmarks, popularity, recency and
efficiency, with an interval, rank (UB) and tiers. Pure: numpy/scipy only.

Modules: :mod:`~rating.composite.weights` (signal names, weights),
:mod:`~rating.composite.normalize`, :mod:`~rating.composite.aggregate`,
:mod:`~rating.composite.openllm` (v2 normalization),
:mod:`~rating.composite.goodness`, :mod:`~rating.composite.signals`,
:mod:`~rating.composite.uncertainty` (replicates, intervals, joint ranks and tiers),
:mod:`~rating.composite.matching` (names, organization checked),
:mod:`~rating.composite.pool`, :mod:`~rating.composite.arena_signal`,
:mod:`~rating.composite.signal_set`, :mod:`~rating.composite.blend`,
:mod:`~rating.composite.report`, :mod:`~rating.composite.goodness_fit` (the goodness recipe
by leave-one-out), :mod:`~rating.composite.rank` (entry point :func:`rank_models`),
:mod:`~rating.composite.explain`.
"""

from rating.composite.inputs import (
    ArenaRatings,
    BenchmarkResult,
    ModelFacts,
    PopularityCounts,
    RankInputs,
    RankOptions,
    Speed,
)
from rating.composite.rank import RankResult, rank_models
from rating.composite.weights import SIGNALS, WeightError, normalize_weights, parse_weight

__all__ = [
    "SIGNALS",
    "ArenaRatings",
    "BenchmarkResult",
    "ModelFacts",
    "PopularityCounts",
    "RankInputs",
    "RankOptions",
    "RankResult",
    "Speed",
    "WeightError",
    "normalize_weights",
    "parse_weight",
    "rank_models",
]
