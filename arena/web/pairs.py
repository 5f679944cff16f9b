"""Observed head-to-head records from ``pair_counts`` (kept current by the vote job).

Counts are summed over the shown positions (left/right) and over the labels a
scope leaves open; ``both_bad`` counts as a tie, as the rating engine does.

Reading every pair of a scope is one scan of ``pair_counts`` (about 100 ms with
200 models on SQLite), so the pages read it once per stored snapshot and keep
it in the process (:func:`scope_records`): the records shown beside a snapshot
are those of the first read after it was stored; the next snapshot refreshes them.
"""

from __future__ import annotations

import functools
from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from arena.models import Model, PairCount
from arena.scope import Scope
from arena.web.common import rt


def _records(scope: Scope, names: list[str] | None = None, model: str | None = None):
    """{(a, b): [wins of a, wins of b, ties]} for unordered pairs a < b."""
    category, source, group = scope.filters
    left, right = aliased(Model), aliased(Model)
    stmt = (
        select(
            left.name,
            right.name,
            func.sum(PairCount.left_wins),
            func.sum(PairCount.right_wins),
            func.sum(PairCount.ties + PairCount.both_bad),
        )
        .join(left, left.id == PairCount.left_model_id)
        .join(right, right.id == PairCount.right_model_id)
        .group_by(left.name, right.name)
    )
    if category is not None:
        stmt = stmt.where(PairCount.category == category)
    if source is not None:
        stmt = stmt.where(PairCount.source == source)
    if group is not None:
        stmt = stmt.where(PairCount.rater_group == group)
    if names is not None:
        stmt = stmt.where(left.name.in_(names), right.name.in_(names))
    if model is not None:
        stmt = stmt.where((left.name == model) | (right.name == model))
    out: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    with Session(rt().engine) as s:
        for a, b, wa, wb, t in s.execute(stmt):
            if a > b:
                a, b, wa, wb = b, a, wb, wa
            rec = out[(a, b)]
            rec[0] += int(wa or 0)
            rec[1] += int(wb or 0)
            rec[2] += int(t or 0)
    return out


@functools.lru_cache(maxsize=16)
def _cached(snapshot_key: tuple, scope: Scope) -> dict:
    return dict(_records(scope))


def scope_records(scope: Scope, snapshot_key: tuple | None) -> dict:
    """Every pair's record in ``scope``, kept per snapshot (read afresh without one)."""
    if snapshot_key is None:
        return dict(_records(scope))
    return _cached(snapshot_key, scope)


def head_to_head(scope: Scope, model: str, snapshot_key: tuple | None = None) -> dict[str, dict]:
    """Opponent -> {"wins", "losses", "ties"} of ``model`` in ``scope``."""
    out = {}
    if snapshot_key is None:
        records = _records(scope, model=model)
    else:
        records = {k: v for k, v in scope_records(scope, snapshot_key).items() if model in k}
    for (a, b), (wa, wb, t) in records.items():
        if a == model:
            out[b] = {"wins": wa, "losses": wb, "ties": t}
        else:
            out[a] = {"wins": wb, "losses": wa, "ties": t}
    return dict(sorted(out.items()))


def win_fractions(scope: Scope, names: list[str], snapshot_key: tuple | None = None) -> dict:
    """Among ``names``: ``fraction[i][j]`` = share of i's decided battles against j that i
    won (None where they never met), and ``battles[i][j]`` (ties included)."""
    index = {n: k for k, n in enumerate(names)}
    size = len(names)
    fraction = [[None] * size for _ in range(size)]
    battles = [[0] * size for _ in range(size)]
    if snapshot_key is None:
        records = _records(scope, names=names)
    else:
        every = scope_records(scope, snapshot_key)
        keys = [(a, b) for a in names for b in names if a < b and (a, b) in every]
        records = {k: every[k] for k in keys}
    for (a, b), (wa, wb, t) in records.items():
        i, j = index[a], index[b]
        battles[i][j] = battles[j][i] = wa + wb + t
        if wa + wb:
            fraction[i][j] = round(wa / (wa + wb), 4)
            fraction[j][i] = round(wb / (wa + wb), 4)
    return {"models": names, "win_fraction": fraction, "battles": battles}
