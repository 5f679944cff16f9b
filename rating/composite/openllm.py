"""Open LLM Leaderboard v2 normalization from raw scores.

Each raw score (an accuracy in [0, 1]) has a random-guess baseline ``b``
(1 / number of choices). The normalized score is
``max(0, (raw - b) / (1 - b)) * 100``; a task's score is the mean of its
subtasks' normalized scores, and the leaderboard average is the mean of the
six tasks with equal weight.

When only a task-level raw score is known for a task whose subtasks have
different baselines (BBH, MuSR), the task baseline is the mean of its
subtasks' baselines: an approximation (on the 2025-03-15 export it is within
0.9 points on average of the published normalized score; the four tasks with
one baseline are exact).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: Number of choices per BBH subtask (a baseline of 1 / choices).
BBH_CHOICES = {
    "sports_understanding": 2,
    "tracking_shuffled_objects_three_objects": 3,
    "navigate": 2,
    "snarks": 2,
    "date_understanding": 6,
    "reasoning_about_colored_objects": 18,
    "object_counting": 19,
    "logical_deduction_seven_objects": 7,
    "geometric_shapes": 11,
    "web_of_lies": 2,
    "movie_recommendation": 6,
    "logical_deduction_five_objects": 5,
    "salient_translation_error_detection": 6,
    "disambiguation_qa": 3,
    "temporal_sequences": 4,
    "hyperbaton": 2,
    "logical_deduction_three_objects": 3,
    "causal_judgement": 2,
    "formal_fallacies": 2,
    "tracking_shuffled_objects_seven_objects": 7,
    "ruin_names": 6,
    "penguins_in_a_table": 5,
    "boolean_expressions": 2,
    "tracking_shuffled_objects_five_objects": 5,
}
MUSR_CHOICES = {"murder_mysteries": 2, "object_placements": 5, "team_allocation": 3}

#: The six v2 tasks in the leaderboard's order.
V2_TASKS = ("ifeval", "bbh", "math", "gpqa", "musr", "mmlu_pro")

#: Task-level baselines (mean of subtask baselines for BBH and MuSR).
TASK_BASELINES = {
    "ifeval": 0.0,
    "math": 0.0,
    "gpqa": 0.25,
    "mmlu_pro": 0.1,
    "bbh": float(np.mean([1 / k for k in BBH_CHOICES.values()])),
    "musr": float(np.mean([1 / k for k in MUSR_CHOICES.values()])),
}

#: Item counts of the v2 test sets (public sizes), used for Beta posteriors.
V2_ITEMS = {"ifeval": 541, "bbh": 5761, "math": 1324, "gpqa": 1192, "musr": 756, "mmlu_pro": 12032}

#: Benchmarks whose published score is the mean of two accuracies measured on the same
#: items over different counts: the second count per item of the first. IFEval's is the
#: mean of prompt-level strict accuracy (541 prompts) and instruction-level strict accuracy
#: (834 instructions in those prompts).
MEAN_OF_TWO = {"ifeval": 834 / 541}


@lru_cache(maxsize=4096)
def mean_of_two_scale(benchmark: str, subtask: str = "") -> float:
    """How much wider a draw of the benchmark's score is than a draw of one accuracy over
    its item count (1 for ordinary benchmarks).

    The score ``s = (a1 + a2) / 2`` of two accuracies over ``n1`` and ``n2 = r n1`` items,
    each centred on ``s`` (the export gives only the mean) and fully correlated (the same
    responses are scored both ways), has the standard deviation of one accuracy over
    ``n1`` items times ``(1 + 1 / sqrt(r)) / 2``: 0.903 for IFEval.

    Examples
    --------
    >>> round(mean_of_two_scale("IFEval"), 4)
    0.9027
    >>> mean_of_two_scale("gpqa"), mean_of_two_scale("ifeval", "prompt_level_strict")
    (1.0, 1.0)
    """
    ratio = MEAN_OF_TWO.get(canonical_task(benchmark))
    if ratio is None or subtask.strip():
        return 1.0
    return (1.0 + 1.0 / float(np.sqrt(ratio))) / 2.0


_TASK_NAMES = {
    "ifeval": "ifeval",
    "bbh": "bbh",
    "math": "math",
    "math level 5": "math",
    "math_lvl5": "math",
    "math_hard": "math",
    "gpqa": "gpqa",
    "musr": "musr",
    "mmlu-pro": "mmlu_pro",
    "mmlu_pro": "mmlu_pro",
    "mmlupro": "mmlu_pro",
}


@lru_cache(maxsize=4096)  # called per benchmark leaf, with a handful of distinct names
def canonical_task(name: str) -> str:
    """The v2 task key for a benchmark name (``"MMLU-PRO"`` -> ``"mmlu_pro"``), else the
    lower-cased name unchanged."""
    key = name.strip().lower()
    key = key.removeprefix("leaderboard_")
    return _TASK_NAMES.get(key, key)


@lru_cache(maxsize=4096)
def baseline(benchmark: str, subtask: str = "") -> float:
    """Random-guess baseline for a benchmark or one of its subtasks (0 when unknown).

    Examples
    --------
    >>> baseline("gpqa")
    0.25
    >>> baseline("bbh", "navigate")
    0.5
    """
    task = canonical_task(benchmark)
    sub = subtask.strip().lower().removeprefix(f"leaderboard_{task}_")
    if sub:
        if task == "bbh" and sub in BBH_CHOICES:
            return 1.0 / BBH_CHOICES[sub]
        if task == "musr" and sub in MUSR_CHOICES:
            return 1.0 / MUSR_CHOICES[sub]
    return TASK_BASELINES.get(task, 0.0)


def normalize_score(raw, base) -> np.ndarray:
    """``max(0, (raw - base) / (1 - base)) * 100`` elementwise.

    Examples
    --------
    >>> float(normalize_score(0.259228187919463, 0.25))  # doctest: +ELLIPSIS
    1.2304250559...
    >>> float(normalize_score(0.2, 0.25))
    0.0
    """
    raw = np.asarray(raw, dtype=float)
    base = np.asarray(base, dtype=float)
    return np.clip((raw - base) / (1.0 - base), 0.0, None) * 100.0


def task_score(normalized_subtasks) -> float:
    """A task's score: the mean of its subtasks' normalized scores."""
    values = np.asarray(normalized_subtasks, dtype=float)
    return float(values.mean()) if values.size else float("nan")


def v2_average(task_scores: dict[str, float]) -> float:
    """The leaderboard average: the six tasks (those present) with equal weight."""
    values = [task_scores[t] for t in V2_TASKS if t in task_scores and not np.isnan(task_scores[t])]
    return float(np.mean(values)) if values else float("nan")
