"""Composite-rank options from the ``[rank]`` settings, shared by ``arena rank`` and the API.

Every default is a setting (``arena/config.py`` ``DEFAULTS``); an argument left
``None`` takes it.
"""

from __future__ import annotations

from arena.scope import Scope


def rank_weights(settings_weights: dict, given=()) -> dict[str, float]:
    """``[rank.weights]`` with ``SIGNAL=W`` overrides; raises WeightError on unknown names."""
    from rating.composite import parse_weight
    from rating.composite.weights import normalize_weights

    weights = dict(settings_weights)
    normalize_weights(weights)  # names from the settings must be known too
    for text in given:
        name, value = parse_weight(text)
        weights[name] = value
    normalize_weights(weights)
    return weights


def _or(value, setting):
    return setting if value is None else value


def settings_options(settings, **overrides):
    """:class:`RankOptions` with every settings value, then ``overrides`` as given
    (``weights`` a full ``{signal: weight}`` dict). For library callers, tests and benches."""
    from rating.composite import RankOptions

    rank, rating = settings["rank"], settings["rating"]
    values = {
        "weights": dict(rank["weights"]),
        "normalize": rank["normalize"],
        "aggregate": rank["aggregate"],
        "min_coverage": rank["min_coverage"],
        "recency_half_life_days": rank["recency_half_life_days"],
        "replicates": rank["replicates"],
        "seed": rating["seed"],
        "confidence": rating["confidence"],
        "categories": rank["categories"],
    }
    return RankOptions(**{**values, **overrides})


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
    by="composite",
):
    """:class:`RankOptions` from the ``[rank]`` settings, with the given overrides
    (``None`` = the setting; ``weights`` are ``SIGNAL=W`` texts over ``[rank.weights]``)."""
    conf = settings["rank"]
    return settings_options(
        settings,
        weights=rank_weights(conf["weights"], weights),
        normalize=_or(normalize, conf["normalize"]),
        aggregate=_or(aggregate, conf["aggregate"]),
        min_coverage=float(_or(min_coverage, conf["min_coverage"])),
        recency_half_life_days=float(_or(half_life_days, conf["recency_half_life_days"])),
        arena_mode=arena_mode,
        category=category,
        max_vram_gb=max_vram_gb,
        replicates=int(_or(replicates, conf["replicates"])),
        seed=int(_or(seed, settings["rating"]["seed"])),
        as_of=as_of,
        inherit_base=inherit_base,
        by=by,
    )


def arena_source(settings, given: str | None) -> str:
    """The vote source of the arena signal in database mode (``[rank] arena_source``), as
    snapshots store it: ``human``, ``judge:NAME``, or ``""`` for every source (asked as
    ``all``; see :mod:`arena.scope`)."""
    return Scope.of(source=_or(given, settings.rank.arena_source)).stored()["source"]
