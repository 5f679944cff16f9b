"""One call from counts to a leaderboard: :func:`rate`, :func:`rate_scopes`, :func:`rate_elo`.

The steps, in order:

1. models with fewer than ``min_battles`` battles (in this scope) are left out
   of the fit and the table, and listed in ``meta["excluded"]``;
2. the comparison graph is checked: with several components the run stops
   (``components="refuse"``, the message names them), rates each component on
   its own (``"each"``, every row then carries ``component``) or keeps the
   largest (``"largest"``);
3. a model that never lost or never won makes the maximum infinite: then the
   tiny Gaussian prior :data:`rating.bt.DEFAULT_PRIOR` is used and named in
   ``meta["prior_reason"]``;
4. the point fit, then the intervals (bootstrap percentiles or the sandwich),
   the anchor shift (applied to the point fit and to every replicate), rank
   (UB) and tiers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rating import __version__, bt, elo, graph, intervals
from rating.blas import single_threaded
from rating.counts import CountTable, PairCounts, pair_counts
from rating.errors import RatingError
from rating.fits import fit_bt_scope, fit_davidson_scope
from rating.snapshot import Result, plain_number
from rating.tiers import assign_tiers, rank_upper_bound

METHODS = ("bt", "davidson", "elo")
CI_METHODS = ("bootstrap", "sandwich", "none")
COMPONENT_POLICIES = ("refuse", "each", "largest")


class DisconnectedError(RatingError):
    """The comparison graph has several components and ``components="refuse"``."""

    def __init__(self, groups: list[list[str]]):
        self.groups = groups
        shown = "; ".join(
            f"{k + 1}: " + ", ".join(g[:8]) + (f" (+{len(g) - 8} more)" if len(g) > 8 else "")
            for k, g in enumerate(groups)
        )
        super().__init__(
            f"the comparison graph is not connected ({len(groups)} components: {shown}); "
            "ratings across components are not comparable: rate each component "
            "(--components each) or only the largest (--components largest)"
        )


def _exclusions(pairs: PairCounts, min_battles: float):
    stats = pairs.per_model()
    played = stats["battles"] > 0
    keep = played & (stats["battles"] >= min_battles)
    few = np.flatnonzero(played & ~keep)
    return keep, [pairs.models[k] for k in few]


@single_threaded
def rate(
    pairs: PairCounts,
    method: str = "bt",
    *,
    ci: str = "bootstrap",
    rounds: int = 1000,
    seed: int = 42,
    confidence: float = 0.95,
    anchor: tuple[str, float] | None = None,
    min_battles: float = 0,
    components: str = "refuse",
    solver: str = "exact",
    left_advantage: bool = False,
    prior: float | None = None,
    scope: dict | None = None,
    progress: Callable[[int], None] | None = None,
) -> Result:
    """Rate the models of one scope from its aggregated counts.

    (Over 80 lines only by this docstring and the parameter list: the steps are
    the helpers below.)

    Parameters
    ----------
    pairs : PairCounts
    method : {"bt", "davidson"}
        (Elo needs the battles in order: :func:`rate_elo`.)
    ci : {"bootstrap", "sandwich", "none"}
    rounds, seed : bootstrap rounds and the seed of its generator.
    confidence : float
        Interval coverage (default 0.95).
    anchor : (model, rating), optional
        Shift every rating (point and replicates) so this model has this rating.
        Default: the mean rating is 1000.
    min_battles : models with fewer battles are left out (``meta["excluded"]``).
    components : {"refuse", "each", "largest"}
    solver : {"exact", "choix"}
        ``choix`` uses ``choix.ilsr_pairwise_dense`` (Bradley-Terry only; refused when the
        counts need a prior, which ILSR does not implement).
    left_advantage : fit Davidson's first-position parameter (needs positional counts).
    prior : float, optional
        Force a ridge prior (default: none unless the maximum is infinite).
    scope : dict, optional
        Copied into ``meta["scope"]``.
    progress : callable, optional
        Called with the number of bootstrap rounds just finished.

    Returns
    -------
    Result
    """
    _check_options(method, ci, components, solver, confidence)
    if ci == "bootstrap" and rounds <= 0:
        ci = "none"
    keep, few = _exclusions(pairs, min_battles)
    sub = pairs.subset(keep)
    meta = _meta(method, pairs, few, min_battles, anchor, scope, confidence)
    meta.update(
        ci=ci,
        bootstrap_rounds=rounds if ci == "bootstrap" else 0,
        seed=seed if ci == "bootstrap" else None,
        positional=pairs.positional,
        rating_scale="1000 + 400*log10(strength)",
    )
    if sub.n_models == 0:
        raise RatingError(
            "no battles to rate"
            + (f" ({len(few)} models under --min-battles {min_battles})" if few else "")
        )
    sub, comp, meta["components"] = _split_components(sub, components)
    _anchor_index(sub.models, anchor)
    rows = _rate_components(
        method,
        sub,
        comp,
        ci,
        rounds,
        seed,
        confidence,
        anchor,
        solver,
        left_advantage,
        prior,
        progress,
    )
    rating, low, high, rank, tier, reps, fit_meta = rows
    meta["models_rated"] = sub.n_models
    meta.update(fit_meta[0] if len(fit_meta) == 1 else {"fits": fit_meta})
    meta["grad_norm_max"] = max(f["grad_norm"] for f in fit_meta)
    single = len(fit_meta) == 1
    return _result(method, sub, rating, low, high, rank, tier, meta, reps, None if single else comp)


def _rate_components(
    method, sub, comp, ci, rounds, seed, confidence, anchor, solver, left_advantage, prior, progress
):
    """Fit each component on its own: rating, bounds, rank, tier, replicates, fit meta."""
    m = sub.n_models
    n_comp = int(comp.max()) + 1
    rating, low, high = np.empty(m), np.empty(m), np.empty(m)
    rank, tier = np.empty(m, np.int64), np.empty(m, np.int64)
    reps_all = np.zeros((rounds, m)) if ci == "bootstrap" and rounds > 0 else None
    fit_meta = []
    options = dict(ci=ci, rounds=rounds, seed=seed, prior=prior, progress=progress)
    for c in range(n_comp):
        idx = np.flatnonzero(comp == c)
        part = sub.subset(idx) if n_comp > 1 else sub
        if method == "bt":
            fit = fit_bt_scope(part, solver=solver, **options)
        else:
            fit = fit_davidson_scope(
                part, confidence=confidence, left_advantage=left_advantage, **options
            )
        fit_meta.append(fit.meta)
        r, rr, lo, hi = _scale_and_bounds(fit, part.models, anchor, confidence)
        if rr is not None:
            reps_all[:, idx] = rr
        rating[idx], low[idx], high[idx] = r, lo, hi
        rank[idx] = rank_upper_bound(lo, hi)
        tier[idx] = assign_tiers(r, lo, hi)
    return [rating, low, high, rank, tier, reps_all, fit_meta]


def _check_options(method, ci, components, solver, confidence) -> None:
    if method not in ("bt", "davidson"):
        raise RatingError(f"unknown method {method!r} (use 'bt' or 'davidson'; Elo: rate_elo)")
    if ci not in CI_METHODS:
        raise RatingError(f"unknown interval method {ci!r}: use one of {', '.join(CI_METHODS)}")
    if components not in COMPONENT_POLICIES:
        raise RatingError(f"unknown components policy {components!r}")
    if solver not in ("exact", "choix"):
        raise RatingError(f"unknown solver {solver!r}")
    if solver == "choix" and method != "bt":
        raise RatingError("the choix solver applies to Bradley-Terry only (method 'bt')")
    if not 0 < confidence < 1:
        raise RatingError("confidence must be between 0 and 1")


def _meta(method, pairs, few, min_battles, anchor, scope, confidence) -> dict:
    """The meta every method reports (:func:`rate` and :func:`rate_elo`)."""
    return {
        "method": method,
        "confidence": confidence,
        "anchor": None if anchor is None else {"model": anchor[0], "rating": anchor[1]},
        "scope": scope or {"category": "", "source": "", "rater_group": ""},
        "digest": pairs.digest(),
        "battles": plain_number(pairs.total),
        "min_battles": min_battles,
        "models_rated": 0,
        "excluded": {
            "count": len(few),
            "models": few,
            "reason": f"fewer than {min_battles} battles",
        },
        "package_version": __version__,
    }


def _anchor_index(models, anchor) -> int | None:
    """Where the anchor model is among ``models`` (None without an anchor); refused if absent."""
    if anchor is None:
        return None
    if anchor[0] not in models:
        raise RatingError(f"anchor model {anchor[0]!r} is not among the rated models")
    return list(models).index(anchor[0])


def _anchored(rating, replicates, a_idx, value):
    """Shift the ratings, and each replicate, so the anchor model has ``value``."""
    if a_idx is None:
        return rating, replicates
    rating = rating + (value - rating[a_idx])
    if replicates is not None:
        replicates = replicates + (value - replicates[:, a_idx])[:, None]
    return rating, replicates


def _split_components(sub: PairCounts, policy: str):
    """Component labels per model under ``policy`` (and the counts kept), with their meta."""
    i, j, *_ = sub.unordered()
    comp = graph.components(i, j, sub.n_models)
    n_comp = int(comp.max()) + 1
    groups = [[sub.models[k] for k in np.flatnonzero(comp == c)] for c in range(n_comp)]
    meta = {"count": n_comp, "policy": policy, "sizes": [len(g) for g in groups]}
    if n_comp > 1:
        if policy == "refuse":
            raise DisconnectedError(groups)
        if policy == "largest":
            meta["dropped"] = [m for g in groups[1:] for m in g]
            sub = sub.subset(comp == 0)
            comp = np.zeros(sub.n_models, np.int64)
    return sub, comp, meta


def _scale_and_bounds(fit, models, anchor, confidence):
    """Ratings, replicates and interval bounds of one component, anchored when asked."""
    a_idx = None if anchor is None or anchor[0] not in models else list(models).index(anchor[0])
    value = None if anchor is None else anchor[1]
    reps = None if fit.replicates is None else bt.to_rating(fit.replicates)
    r, reps = _anchored(bt.to_rating(fit.theta), reps, a_idx, value)
    if reps is not None:
        lo, hi = intervals.percentile(reps, confidence)
    elif fit.cov is not None:
        cov = fit.cov * bt.POINTS_PER_LOG_UNIT**2
        lo, hi, _ = intervals.normal_bounds(r, cov, confidence, a_idx)
    else:
        lo, hi = r.copy(), r.copy()
    return r, reps, lo, hi


def _result(method, sub, rating, low, high, rank, tier, meta, reps, comp):
    stats = sub.per_model()
    names = np.array(sub.models, dtype=object)
    keys = (names.astype(str), -rating) + (() if comp is None else (comp,))
    order = np.lexsort(keys) if len(names) else np.array([], int)  # by component, then rating
    pick = lambda a: None if a is None else a[order]  # noqa: E731 (a one-line local helper)
    return Result(
        method,
        [sub.models[k] for k in order],
        rating[order],
        low[order],
        high[order],
        rank[order],
        tier[order],
        stats["battles"][order],
        stats["wins"][order],
        stats["losses"][order],
        stats["ties"][order],
        meta,
        None if reps is None else reps[:, order],
        pick(comp),
    )


@single_threaded
def rate_scopes(table: CountTable, scopes=None, **kwargs) -> dict[tuple, Result | Exception]:
    """Rate several scopes of one :class:`CountTable` in one call.

    Parameters
    ----------
    table : CountTable
    scopes : iterable of (category, source, group), optional
        ``None`` in a position means "all". Default: overall, then each
        category, each source and each rater group present.
    **kwargs
        Passed to :func:`rate`.

    Returns
    -------
    dict
        ``(category, source, group) -> Result`` ("" = all), or the
        :class:`RatingError` that scope raised (e.g. too few battles).
    """
    if scopes is None:
        labels = table.labels()
        scopes = [(None, None, None)]
        scopes += [(c, None, None) for c in labels["category"] if len(labels["category"]) > 1]
        scopes += [(None, s, None) for s in labels["source"] if len(labels["source"]) > 1]
        scopes += [(None, None, g) for g in labels["group"] if len(labels["group"]) > 1]
    out = {}
    for cat, src, grp in scopes:
        key = (cat or "", src or "", grp or "")
        scope = {"category": key[0], "source": key[1], "rater_group": key[2]}
        try:
            out[key] = rate(table.select(cat, src, grp), scope=scope, **kwargs)
        except RatingError as exc:
            out[key] = exc
    return out


#: Options of :func:`rate` that online Elo has no use for.
NOT_FOR_ELO = ("ci", "components", "solver", "left_advantage", "prior")


def elo_options(options: dict) -> dict:
    """``options`` for :func:`rate` without the ones :func:`rate_elo` does not take."""
    return {k: v for k, v in options.items() if k not in NOT_FOR_ELO}


@single_threaded
def rate_elo(
    left,
    right,
    outcome,
    models,
    *,
    k: float = 4.0,
    rounds: int = 0,
    seed: int = 42,
    confidence: float = 0.95,
    anchor=None,
    min_battles: float = 0,
    scope: dict | None = None,
    progress=None,
) -> Result:
    """Online Elo over battles in time order, optionally with bootstrap intervals.

    The bootstrap draws battles with replacement and replays each replicate in
    the original time order (:func:`rating.elo.bootstrap`, compiled:
    O(rounds·battles) at about 15 ns per battle and round).
    """
    left = np.asarray(left, np.int64)
    right = np.asarray(right, np.int64)
    outcome = np.asarray(outcome, np.int64)
    onehot = np.zeros((left.size, 4))
    onehot[np.arange(left.size), outcome] = 1.0
    pairs = pair_counts(left, right, onehot, models)
    keep, few = _exclusions(pairs, min_battles)
    sel = keep[left] & keep[right]
    new = np.cumsum(keep) - 1
    sub = pairs.subset(keep)
    l2, r2, o2 = new[left[sel]], new[right[sel]], outcome[sel]
    m = sub.n_models
    if m == 0:
        raise RatingError("no battles to rate")
    a_idx = _anchor_index(sub.models, anchor)
    reps = None
    if rounds > 0:
        reps = elo.bootstrap(l2, r2, o2, m, k, rounds=rounds, seed=seed, progress=progress)
    rating, reps = _anchored(
        elo.online(l2, r2, o2, m, k), reps, a_idx, None if anchor is None else anchor[1]
    )
    if reps is not None:
        low, high = intervals.percentile(reps, confidence)
    else:
        low, high = rating.copy(), rating.copy()
    meta = _meta("elo", pairs, few, min_battles, anchor, scope, confidence)
    meta.update(
        k=k,
        ci="bootstrap" if rounds else "none",
        bootstrap_rounds=rounds,
        seed=seed if rounds else None,
        positional=True,
        models_rated=m,
        rating_scale="online Elo, base 10, scale 400, initial 1000",
    )
    rank = rank_upper_bound(low, high)
    tier = assign_tiers(rating, low, high)
    return _result("elo", sub, rating, low, high, rank, tier, meta, reps, None)
