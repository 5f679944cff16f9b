"""Signal names and weights.

The signal names ``--weight`` and ``[rank.weights]`` take are
``arena``, ``benchmarks`` (the Open LLM Leaderboard v2 style average of every
benchmark), ``benchmarks.<name>`` (one benchmark alone), ``popularity``,
``recency``, ``efficiency`` and ``goodness`` (the benchmark-only quality
score, :mod:`rating.composite.goodness`; ``goodness.<subdomain>`` for one
subdomain). Weights are normalized to sum to 1.
"""

from __future__ import annotations

import math

SIGNALS = ("arena", "benchmarks", "popularity", "recency", "efficiency", "goodness")
#: Signal names that take a ``.<part>`` suffix.
FAMILIES = ("benchmarks", "goodness")


class WeightError(ValueError):
    """Weights that cannot be used: unknown signal, negative or all zero."""


def check_signal_name(name: str) -> str:
    """Return ``name`` when it is a known signal name, else raise :class:`WeightError`."""
    if name in SIGNALS:
        return name
    family, dot, part = name.partition(".")
    if dot and family in FAMILIES and part:
        return name
    raise WeightError(
        f"unknown signal {name!r}: use one of {', '.join(SIGNALS)}, "
        f"benchmarks.<name> for one benchmark or goodness.<subdomain>"
    )


def parse_weight(text: str) -> tuple[str, float]:
    """Parse ``SIGNAL=W`` as given to ``--weight``.

    Examples
    --------
    >>> parse_weight("arena=0.7")
    ('arena', 0.7)
    """
    if "=" not in text:
        raise WeightError(f"weight {text!r} is not SIGNAL=W")
    name, _, value = text.partition("=")
    name = check_signal_name(name.strip())
    try:
        weight = float(value)
    except ValueError:
        raise WeightError(f"weight for {name!r} is not a number: {value!r}") from None
    return name, weight


def normalize_weights(weights: dict[str, float]) -> dict[str, float]:
    """Check names and values, drop zero weights and scale the rest to sum to 1.

    Examples
    --------
    >>> normalize_weights({"arena": 2, "benchmarks": 1, "recency": 1})
    {'arena': 0.5, 'benchmarks': 0.25, 'recency': 0.25}
    """
    clean: dict[str, float] = {}
    for name, value in weights.items():
        check_signal_name(name)
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise WeightError(f"weight for {name!r} is not a number: {value!r}") from None
        if not math.isfinite(value) or value < 0:
            raise WeightError(f"weight for {name!r} must be a finite number >= 0, got {value}")
        if value > 0:
            clean[name] = value
    total = sum(clean.values())
    if total <= 0:
        raise WeightError("every weight is zero: give at least one signal a positive weight")
    return {name: value / total for name, value in clean.items()}
