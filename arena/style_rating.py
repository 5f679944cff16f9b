"""Per-battle ratings: style control and LMArena's options, from files or the database.

:func:`rate_battles` takes per-vote columns (from
:mod:`arena.importers.style_battles` or :mod:`arena.style_store`), applies
the vote filters in a fixed order, then rates:

1. anonymous votes only (votes whose models were known to the voter are left
   out; see :func:`rating.vote_filters.anonymous_votes`);
2. ``dedup``: prompts above the 99.9th percentile of votes per prompt are
   down-sampled to it (:func:`rating.vote_filters.dedup_prompts`);
3. ``max_votes_per_rater_day``: the first N votes of each rater and UTC day
   (:func:`rating.vote_filters.cap_per_rater_day`);
4. ``reweight``: weights ``1/max(pair count, m)`` on what is left
   (:func:`rating.reweight.inverse_pair_weights`), times any file weights;
5. the fit: contextual Bradley-Terry with the four style features
   (``style_control``) or plain Bradley-Terry on the battles
   (:func:`rating.style.rate_style`), and with ``robustness`` the votes each
   adjacent rank rests on (:func:`rating.robustness.votes_to_swap`).

What each step left out is recorded in ``meta["filters"]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rating.errors import RatingError
from rating.reweight import DEFAULT_MIN_PAIR_COUNT, inverse_pair_weights
from rating.robustness import DEFAULT_VERIFY_TOP, votes_to_swap
from rating.snapshot import Result
from rating.style import DEFAULT_PENALTY, StyleBattles, rate_style
from rating.vote_filters import anonymous_votes, cap_per_rater_day, dedup_prompts


@dataclass
class VoteColumns:
    """Per-vote columns besides the battles (``None`` entries: unknown)."""

    prompt: np.ndarray
    rater: np.ndarray
    day: np.ndarray
    order: np.ndarray
    anonymous: np.ndarray | None = None


@dataclass
class Options:
    """What to apply; the defaults are LMArena-free plain ratings."""

    style_control: bool = False
    reweight: bool = False
    min_pair_count: float = DEFAULT_MIN_PAIR_COUNT
    dedup: bool = False
    max_votes_per_rater_day: int | None = None
    robustness: bool = False
    verify_top: int = DEFAULT_VERIFY_TOP
    penalty: float = DEFAULT_PENALTY


def needs_battles(opts: Options) -> bool:
    """True when these options need per-battle data (not only pair counts)."""
    return bool(
        opts.style_control
        or opts.reweight
        or opts.dedup
        or opts.max_votes_per_rater_day
        or opts.robustness
    )


def filter_votes(battles: StyleBattles, cols: VoteColumns, opts: Options, seed: int):
    """The battles kept by the filters, with their weights, and ``meta["filters"]``."""
    n = battles.a.size
    keep = np.ones(n, bool)
    meta = {"votes_in": n}
    anon = cols.anonymous if cols.anonymous is not None else anonymous_votes()
    if anon is not None:
        meta["not_anonymous_dropped"] = int((~anon).sum())
        keep &= anon
    if opts.dedup:
        idx = np.flatnonzero(keep)
        k, info = dedup_prompts(cols.prompt[idx], seed=seed)
        keep[idx[~k]] = False
        meta["dedup"] = info
    if opts.max_votes_per_rater_day:
        idx = np.flatnonzero(keep)
        k, info = cap_per_rater_day(
            cols.rater[idx], cols.day[idx], cols.order[idx], opts.max_votes_per_rater_day
        )
        keep[idx[~k]] = False
        meta["rater_day_cap"] = info
    sub = battles.subset(keep)
    if opts.reweight:
        w = inverse_pair_weights(sub.a, sub.b, len(sub.models), opts.min_pair_count)
        sub = StyleBattles(
            sub.a, sub.b, sub.outcome, sub.z, sub.weight * w, sub.models, sub.features
        )
        meta["reweight"] = {"rule": "1/max(pair count, m), mean 1", "m": opts.min_pair_count}
    meta["votes_kept"] = int(keep.sum())
    if not sub.a.size:
        raise RatingError("no votes left after the filters")
    return sub, meta


def rate_battles(
    battles: StyleBattles,
    cols: VoteColumns,
    opts: Options,
    *,
    ci: str,
    rounds: int,
    seed: int,
    confidence: float,
    anchor=None,
    min_battles: float = 0,
    scope: dict | None = None,
    progress=None,
) -> Result:
    """Filter, weight and rate one scope's battles (see the module docstring)."""
    sub, fmeta = filter_votes(battles, cols, opts, seed)
    if not opts.style_control:
        sub = StyleBattles(
            sub.a, sub.b, sub.outcome, np.zeros((sub.a.size, 0)), sub.weight, sub.models, ()
        )
    result = rate_style(
        sub,
        ci=ci,
        rounds=rounds,
        seed=seed,
        confidence=confidence,
        penalty=opts.penalty,
        anchor=anchor,
        min_battles=min_battles,
        scope=scope,
        progress=progress,
    )
    result.meta["filters"] = fmeta
    if not opts.style_control:
        result.meta["style_control"] = False
        result.meta.pop("style", None)
    if opts.robustness:
        rated = set(result.models)
        keep = np.isin(sub.a, [sub.models.index(m) for m in rated]) & np.isin(
            sub.b, [sub.models.index(m) for m in rated]
        )
        kept = sub.subset(keep)
        index = np.full(len(sub.models), -1)
        names = [m for m in sub.models if m in rated]
        index[[sub.models.index(m) for m in names]] = np.arange(len(names))
        kept = StyleBattles(
            index[kept.a], index[kept.b], kept.outcome, kept.z, kept.weight, names, kept.features
        )
        result.meta["robustness"] = votes_to_swap(
            kept,
            list(result.models),
            penalty=opts.penalty if opts.style_control else 0.0,
            style_control=opts.style_control,
            verify_top=opts.verify_top,
        )
    return result
