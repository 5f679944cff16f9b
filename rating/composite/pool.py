"""The candidate pool: matched names, what is known about each model, variants
and the VRAM filter."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rating.composite import signals
from rating.composite.inputs import ModelFacts, RankInputs, RankOptions
from rating.composite.matching import Matching, match_names


@dataclass
class Pool:
    """Every model named by any input, in the matching's order."""

    match: Matching
    names: list[str]
    names_by_input: dict[str, list[str]]
    facts: list[ModelFacts | None]
    base_of: dict[int, int] = field(default_factory=dict)  # variant -> its base
    inherited: dict[int, int] = field(default_factory=dict)  # variant -> base it inherits from
    vram: np.ndarray | None = None
    keep: np.ndarray | None = None
    excluded: list[dict] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.names)


def _merge_facts(first: ModelFacts, second: ModelFacts) -> ModelFacts:
    """Field-wise: the first known value wins (two spellings of one model)."""
    return ModelFacts(
        **{
            k: getattr(first, k) if getattr(first, k) is not None else getattr(second, k)
            for k in vars(first)
        }
    )


def _variants(pool: Pool, inherit_base: bool) -> None:
    """Which models name a base model in the pool; with ``inherit_base``, which
    variants without an arena rating take their base's."""
    match = pool.match
    arena_present = match.present.get("arena", set())
    pool_key = {k[1].strip().lower(): v for k, v in match.index.items()}
    pool_key.update({nm.lower(): i for i, nm in enumerate(pool.names)})
    for i, f in enumerate(pool.facts):
        if f is None or not f.base_model:
            continue
        j = pool_key.get(f.base_model.strip().lower())
        if j is not None and j != i:
            pool.base_of[i] = j
            if inherit_base and i not in arena_present and j in arena_present:
                pool.inherited[i] = j


def _vram_filter(pool: Pool, max_vram_gb: float | None) -> None:
    pool.vram = signals.vram_gb(
        [f.parameters_b if f else None for f in pool.facts],
        [f.precision if f else None for f in pool.facts],
    )
    pool.keep = np.ones(pool.size, dtype=bool)
    if max_vram_gb is None:
        return
    over = ~(pool.vram <= max_vram_gb)
    pool.keep &= ~over
    signal_named = set().union(
        *(present for src, present in pool.match.present.items() if src != "models")
    )
    for i in np.flatnonzero(over):
        if i not in signal_named:
            continue  # metadata alone: never a candidate, not worth a line
        reason = (
            f"estimated VRAM {pool.vram[i]} GB > {max_vram_gb} GB"
            if np.isfinite(pool.vram[i])
            else "VRAM unknown (no parameter count)"
        )
        pool.excluded.append({"model": pool.names[i], "reason": reason})


def build_pool(inputs: RankInputs, opts: RankOptions) -> Pool:
    """Match every input's names (organization checked), gather facts, find
    variants and apply the VRAM filter."""
    names_by_input = {
        "arena": list(inputs.arena.models) if inputs.arena else [],
        "models": list(inputs.models),
        "benchmarks": list(dict.fromkeys(r.model for r in inputs.benchmarks)),
        "popularity": list(inputs.popularity),
        "efficiency": list(inputs.efficiency),
    }
    orgs = {k: v.organization for k, v in inputs.models.items() if v.organization}
    match = match_names(names_by_input, inputs.aliases, orgs)
    facts: list[ModelFacts | None] = [None] * len(match.names)
    for name, f in inputs.models.items():
        i = match.locate("models", name)
        if i is not None:
            facts[i] = f if facts[i] is None else _merge_facts(facts[i], f)
    pool = Pool(match, match.names, names_by_input, facts)
    _variants(pool, opts.inherit_base)
    _vram_filter(pool, opts.max_vram_gb)
    return pool
