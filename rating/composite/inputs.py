"""Plain containers for the composite's inputs and options (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np


@dataclass
class ArenaRatings:
    """Arena ratings as in ``arena rate --format json``.

    ``replicates`` is ``(R, n)`` bootstrap ratings in the order of ``models``
    (``None``: draw normal replicates from the intervals).
    """

    models: list[str]
    rating: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    tier: np.ndarray | None = None
    replicates: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.rating = np.asarray(self.rating, dtype=float)
        self.ci_low = np.asarray(self.ci_low, dtype=float)
        self.ci_high = np.asarray(self.ci_high, dtype=float)
        if self.tier is not None:
            self.tier = np.asarray(self.tier, dtype=int)
        if self.replicates is not None:
            self.replicates = np.asarray(self.replicates, dtype=float)
            if self.replicates.ndim != 2 or self.replicates.shape[1] != len(self.models):
                raise ValueError(
                    f"bootstrap replicates have shape {self.replicates.shape}, "
                    f"expected (R, {len(self.models)})"
                )


@dataclass
class BenchmarkResult:
    model: str
    benchmark: str
    subtask: str
    score: float
    n_items: int | None = None
    normalized: bool = False


@dataclass
class ModelFacts:
    """What is known about one model besides its scores."""

    organization: str | None = None
    parameters_b: float | None = None
    precision: str | None = None
    base_model: str | None = None
    release_date: date | None = None
    upload_date: date | None = None  # the repository's upload date (recency when no release)
    architecture: str | None = None
    license: str | None = None


@dataclass
class PopularityCounts:
    downloads: float | None = None
    likes: float | None = None
    as_of: date | None = None


@dataclass
class Speed:
    """Median speed facts of one model; ``*_samples`` are the measurements the medians
    come from (when known), bootstrapped for the fastness interval."""

    tokens_per_second: float | None = None
    latency_ms: float | None = None
    price_per_mtok: float | None = None
    tokens_per_second_samples: list[float] | None = None
    latency_ms_samples: list[float] | None = None


@dataclass
class RankInputs:
    arena: ArenaRatings | None = None
    benchmarks: list[BenchmarkResult] = field(default_factory=list)
    popularity: dict[str, PopularityCounts] = field(default_factory=dict)
    efficiency: dict[str, Speed] = field(default_factory=dict)
    models: dict[str, ModelFacts] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)


@dataclass
class RankOptions:
    """Options of one composite rank. The settings' values (``[rank]``, ``[rating] seed`` and
    ``confidence``) have no defaults here: :func:`arena.rank_options.rank_options` fills them
    from the settings, the one place defaults live."""

    weights: dict[str, float]
    normalize: str
    aggregate: str
    min_coverage: float
    recency_half_life_days: float
    replicates: int
    seed: int
    confidence: float
    arena_mode: str = "rating"  # rating | tier
    category: str | None = None
    categories: dict[str, list[str]] | None = None
    max_vram_gb: float | None = None
    as_of: date | None = None
    inherit_base: bool = False
    by: str = "composite"  # composite | goodness | goodness.<subdomain> | fastness
