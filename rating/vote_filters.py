"""Which votes a rating counts: prompt de-duplication, a per-rater daily cap, anonymity.

Each function takes per-vote columns (numpy arrays, one entry per vote) and
returns a boolean mask of the votes to keep, so the callers (files, the
database) can combine them and report how many each one left out.
"""

from __future__ import annotations

import numpy as np

from rating.errors import RatingError

DEDUP_QUANTILE = 0.999


def dedup_prompts(prompt_keys, *, quantile: float = DEDUP_QUANTILE, seed: int = 42):
    """LMArena's de-duplication: no prompt counts more often than the 99.9th percentile.

    The threshold ``t`` is the ``quantile`` (numpy's linear interpolation) of the
    number of votes per distinct prompt; a prompt with more than ``t`` votes
    keeps ``ceil(t)`` of them, drawn uniformly without replacement with a
    generator seeded by ``seed`` (the same input and seed keep the same votes).

    Parameters
    ----------
    prompt_keys : array_like, shape (n,)
        A prompt id, text or hash per vote (anything ``numpy.unique`` sorts).
        Votes whose key is ``None`` or ``""`` are always kept.

    Returns
    -------
    keep : numpy.ndarray of bool, shape (n,)
    info : dict
        ``threshold``, ``prompts_capped`` and ``votes_dropped``.
    """
    if not 0 < quantile <= 1:
        raise RatingError("the de-duplication quantile must be in (0, 1]")
    keys = np.asarray(prompt_keys, dtype=object)
    n = keys.size
    keep = np.ones(n, bool)
    known = np.array([k is not None and k != "" for k in keys], bool) if n else keep
    if not known.any():
        return keep, {"threshold": None, "prompts_capped": 0, "votes_dropped": 0}
    idx = np.flatnonzero(known)
    _, inv, counts = np.unique(keys[idx].astype(str), return_inverse=True, return_counts=True)
    inv = inv.ravel()
    t = float(np.quantile(counts, quantile))
    cap = int(np.ceil(t))
    rng = np.random.default_rng(seed)
    over = np.flatnonzero(counts > cap)
    if over.size:
        order = np.argsort(inv, kind="stable")
        starts = np.r_[0, np.cumsum(counts)]
        for p in over:  # only the few prompts above the 99.9th percentile
            members = idx[order[starts[p] : starts[p + 1]]]
            drop = rng.choice(members, members.size - cap, replace=False)
            keep[drop] = False
    return keep, {
        "threshold": t,
        "prompts_capped": int(over.size),
        "votes_dropped": int(n - keep.sum()),
    }


def cap_per_rater_day(rater, day, order_key, cap: int):
    """Keep at most ``cap`` votes per (rater, day): the first ``cap`` by ``order_key``.

    Parameters
    ----------
    rater : array_like, shape (n,)
        Rater id per vote; ``None`` or ``""`` (unknown rater) is never capped.
    day : array_like, shape (n,)
        The vote's UTC day (any sortable label, e.g. ``"2024-08-14"``); a vote
        without one is not capped, and when no vote has one this is an error.
    order_key : array_like, shape (n,)
        What "first" means (time stamp, or vote id); ties keep input order.
    cap : int
        Votes per rater and day (>= 1).

    Returns
    -------
    keep : numpy.ndarray of bool
    info : dict
        ``cap``, ``rater_days_capped``, ``votes_dropped``.
    """
    if cap < 1:
        raise RatingError("--max-votes-per-rater-day must be at least 1")
    rater = np.asarray(rater, dtype=object)
    day = np.asarray(day, dtype=object)
    n = rater.size
    keep = np.ones(n, bool)
    if n and all(d is None or d == "" for d in day):
        raise RatingError("--max-votes-per-rater-day needs the time of each vote (no vote has one)")
    known = (
        np.array([r not in (None, "") and d not in (None, "") for r, d in zip(rater, day)], bool)
        if n
        else keep
    )
    if not known.any():
        return keep, {"cap": cap, "rater_days_capped": 0, "votes_dropped": 0}
    idx = np.flatnonzero(known)
    labels = np.char.add(np.char.add(rater[idx].astype(str), "\x00"), day[idx].astype(str))
    _, group = np.unique(labels, return_inverse=True)
    group = group.ravel()
    okey = np.asarray(order_key)[idx]
    order = np.lexsort((np.arange(idx.size), okey, group))
    g = group[order]
    start = np.r_[True, g[1:] != g[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(g.size), 0))
    position = np.arange(g.size) - first
    dropped = idx[order[position >= cap]]
    keep[dropped] = False
    return keep, {
        "cap": cap,
        "rater_days_capped": int(np.unique(g[position >= cap]).size),
        "votes_dropped": int(dropped.size),
    }


def anonymous_votes(identity_leak=None, cast_at=None, revealed_at=None):
    """Votes cast while both models were still anonymous.

    A vote is left out when its battle is flagged ``identity_leak`` (a model
    named itself, or the rater was shown who is who) or when it was cast at or
    after the battle's reveal time. Arena has no such flags yet (live battles
    come later): the database and file readers pass ``None`` for columns they do
    not have, and every vote is kept. When the columns exist (a boolean
    ``battles.identity_leak``, a ``battles.revealed_at`` time stamp next to
    ``votes.created_at``), the rating paths pass them here, and the filter is on
    by default.

    Parameters
    ----------
    identity_leak : array_like of bool, optional
    cast_at, revealed_at : array_like, optional
        Comparable time stamps (e.g. seconds); ``revealed_at`` NaN/None = not revealed.

    Returns
    -------
    numpy.ndarray of bool, or None when no column was given
    """
    cols = [c for c in (identity_leak, cast_at, revealed_at) if c is not None]
    if not cols:
        return None
    n = len(cols[0])
    keep = np.ones(n, bool)
    if identity_leak is not None:
        keep &= ~np.asarray(identity_leak, bool)
    if cast_at is not None and revealed_at is not None:
        cast = np.asarray(cast_at, float)
        rev = np.asarray([np.nan if v is None else v for v in revealed_at], float)
        keep &= ~(np.isfinite(rev) & (cast >= rev))
    return keep
