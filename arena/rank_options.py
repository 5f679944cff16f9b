"""Composite-rank options from the ``[rank]`` settings, shared by ``arena rank`` and the API."""

from __future__ import annotations

DEFAULT_REPLICATES = 200


def rank_weights(settings_weights: dict, given=()) -> dict[str, float]:
    """``[rank.weights]`` with ``SIGNAL=W`` overrides; raises WeightError on unknown names."""
    from rating.composite import parse_weight
    from rating.composite.weights import normalize_weights

    weights = dict(settings_weights or {})
    normalize_weights(weights)  # names from the settings must be known too
    for text in given:
        name, value = parse_weight(text)
        weights[name] = value
    normalize_weights(weights)
    return weights


def rank_options(
    settings,
    *,
    weights=(),
    normalize=None,
    aggregate=None,
    min_coverage=None,
    half_life_days=None,
    arena_mode="rating",
    category=None,
    max_vram_gb=None,
    replicates=None,
    seed=None,
    as_of=None,
    inherit_base=False,
):
    """:class:`RankOptions` from the ``[rank]`` settings, with the given overrides."""
    from rating.composite import RankOptions

    conf = settings.rank
    return RankOptions(
        weights=rank_weights(conf.get("weights", {}), weights),
        normalize=normalize or conf.get("normalize", "minmax"),
        aggregate=aggregate or conf.get("aggregate", "mean"),
        min_coverage=float(conf.get("min_coverage", 0.0) if min_coverage is None else min_coverage),
        recency_half_life_days=float(half_life_days or conf.get("recency_half_life_days", 180)),
        arena_mode=arena_mode,
        category=category,
        categories=conf.get("categories"),
        max_vram_gb=max_vram_gb,
        replicates=int(
            conf.get("replicates", DEFAULT_REPLICATES) if replicates is None else replicates
        ),
        seed=settings.rating.seed if seed is None else int(seed),
        confidence=settings.rating.confidence,
        as_of=as_of,
        inherit_base=inherit_base,
    )
