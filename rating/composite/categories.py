"""Which benchmarks speak for which arena category (for category sub-ranks)."""

from __future__ import annotations

from rating.composite.openllm import canonical_task

#: Default map; ``[rank.categories]`` in config.toml may replace entries.
CATEGORY_BENCHMARKS: dict[str, list[str]] = {
    "coding": ["humaneval", "mbpp", "livecodebench"],
    "math": ["math", "gsm8k"],
    "reasoning": ["bbh", "musr", "gpqa"],
    "knowledge": ["mmlu_pro", "mmlu", "gpqa"],
    "instruction": ["ifeval"],
    "writing": [],
}


def benchmarks_for(category: str, mapping: dict[str, list[str]] | None = None) -> set[str] | None:
    """The benchmarks of a category (canonical names); ``None`` when the category
    is not in the map (then every benchmark counts)."""
    table = dict(CATEGORY_BENCHMARKS)
    if mapping:
        table.update(mapping)
    if category not in table:
        return None
    return {canonical_task(b) for b in table[category]}
