"""Style control's data: battles with style features, and the rows a fit runs on.

:class:`StyleBattles` is the input of :mod:`rating.style` (one row per battle,
raw relative-difference features). :func:`merge_rows` turns it into
:class:`Rows`: every battle oriented so ``a < b``, the features scaled to root
mean square 1 (:func:`standardize`), and rows with the same ``(a, b, z)``
merged into sufficient statistics (win mass, battle mass, the second moments
the sandwich needs), with per-pair sums the Newton steps use. The fit itself is
in :mod:`rating.style_fit`; the model and its units in :mod:`rating.style`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rating.errors import RatingError
from rating.style_features import FEATURES


@dataclass
class StyleBattles:
    """Battles with style features, one row per battle.

    Attributes
    ----------
    a, b : numpy.ndarray of int, shape (n,)
        Indices into ``models`` of the two sides.
    outcome : numpy.ndarray of float, shape (n,)
        1 when ``a`` won, 0 when ``b`` won, 0.5 for a tie.
    z : numpy.ndarray, shape (n, k)
        Raw relative style differences ``(a - b)/(a + b)`` (not yet standardized).
    weight : numpy.ndarray, shape (n,)
        Battle weights (1 = one vote).
    models : list of str
    features : tuple of str
    """

    a: np.ndarray
    b: np.ndarray
    outcome: np.ndarray
    z: np.ndarray
    weight: np.ndarray
    models: list
    features: tuple = FEATURES

    def __post_init__(self):
        self.a = np.asarray(self.a, np.int64)
        self.b = np.asarray(self.b, np.int64)
        self.outcome = np.asarray(self.outcome, float)
        self.z = np.asarray(self.z, float).reshape(self.a.size, -1)
        self.weight = (
            np.ones(self.a.size) if self.weight is None else np.asarray(self.weight, float)
        )
        n = self.a.size
        if not (self.b.size == self.outcome.size == self.weight.size == self.z.shape[0] == n):
            raise RatingError("style battles: a, b, outcome, z and weight differ in length")
        if self.z.shape[1] != len(self.features):
            raise RatingError(
                f"style battles: {self.z.shape[1]} feature columns for {len(self.features)} names"
            )
        if np.any(self.a == self.b):
            raise RatingError("style battles: a model cannot battle itself")
        if not np.all(np.isin(self.outcome, (0.0, 0.5, 1.0))):
            raise RatingError("style battles: outcome must be 1 (a won), 0 (b won) or 0.5 (tie)")
        if not np.all(np.isfinite(self.z)):
            raise RatingError("style battles: style features must be finite numbers")
        if np.any(self.weight < 0) or not np.all(np.isfinite(self.weight)):
            raise RatingError("style battles: weights must be finite and non-negative")

    def subset(self, rows) -> StyleBattles:
        """The battles at ``rows`` (a boolean mask or indices), same model list."""
        return StyleBattles(
            self.a[rows],
            self.b[rows],
            self.outcome[rows],
            self.z[rows],
            self.weight[rows],
            self.models,
            self.features,
        )


@dataclass
class Rows:
    """Merged rows: sufficient statistics of battles sharing ``(a, b, z)``, ``a < b``.

    When rows were merged they are sorted by pair, and per-pair sums are
    ``np.add.reduceat`` over contiguous blocks (``starts``); when nothing
    would merge, rows are the battles in input order and per-pair sums are
    ``bincount`` over ``pair``. ``win`` = sum of w·y, ``mass`` = sum of w,
    ``w2``, ``w2y``, ``w2y2`` = sums of w², w²y, w²y² (the sandwich's meat),
    ``count`` = battles. ``pa``, ``pb`` are the pairs' models; ``of_battle``
    maps each input battle to its row.
    """

    a: np.ndarray
    b: np.ndarray
    z: np.ndarray
    win: np.ndarray
    mass: np.ndarray
    w2: np.ndarray
    w2y: np.ndarray
    w2y2: np.ndarray
    count: np.ndarray
    starts: np.ndarray | None
    pa: np.ndarray
    pb: np.ndarray
    of_battle: np.ndarray
    m: int
    pair: np.ndarray | None = None

    def per_pair(self, values: np.ndarray) -> np.ndarray:
        """Sums of ``values`` (shape (rows,) or (rows, c)) over each pair's rows."""
        if self.starts is not None:  # rows sorted by pair
            return np.add.reduceat(values, self.starts, axis=0)
        q = self.pa.size
        if values.ndim == 1:
            return np.bincount(self.pair, values, q)
        return np.stack(
            [np.bincount(self.pair, values[:, c], q) for c in range(values.shape[1])], 1
        )

    def per_model(self, per_pair: np.ndarray) -> np.ndarray:
        """Per-pair values (``+`` for ``a``, ``-`` for ``b``) summed per model."""
        m = self.m
        if per_pair.ndim == 1:
            return np.bincount(self.pa, per_pair, m) - np.bincount(self.pb, per_pair, m)
        out = np.zeros((m, per_pair.shape[1]))
        np.add.at(out, self.pa, per_pair)
        np.subtract.at(out, self.pb, per_pair)
        return out

    def scatter(self, step: np.ndarray) -> np.ndarray:
        """``x_rowᵀ step`` for every row, with ``x = (e_a - e_b, z)``."""
        m = self.m
        return step[:m][self.a] - step[:m][self.b] + self.z @ step[m:]


def feature_scale(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means (reported only) and root mean squares (the scale) of ``z``."""
    if not z.shape[0]:
        return np.zeros(z.shape[1]), np.ones(z.shape[1])
    mean = z.mean(axis=0)
    sd = np.sqrt(np.einsum("ij,ij->j", z, z) / z.shape[0])
    return mean, np.where(sd > 0, sd, 1.0)


def standardize(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Columns of ``z`` divided by their root mean square over the battles.

    The columns are *not* centred, and the scale is the root mean square (the
    sd about 0), so both are unchanged when battles are listed the other way
    round: a battle listed the other way round
    (``a``/``b`` swapped, outcome flipped, ``z`` negated) must give the same
    fit, and subtracting a mean would add a constant side advantage
    ``-gamma·mean`` to every logit. (arena-rank centres and divides by the sd;
    on data whose sides are random the mean is ~0 and the two agree.) An
    all-zero column keeps scale 1.

    Returns
    -------
    z_std, mean, sd : the scaled columns, the column means (reported only) and sds.
    """
    mean, sd = feature_scale(z)
    return z / sd, mean, sd


def _group_rows(pair: np.ndarray, z: np.ndarray, q: int):
    """Order the battles by pair, then by a hash of ``z``; label runs of equal ``(pair, z)``.

    The sort key puts the pair in the high bits and a 64-bit hash of the
    feature bits in the low bits; rows that share a key are then checked for
    equal features, and an (astronomically unlikely) hash collision falls back
    to an exact lexicographic sort.

    Returns
    -------
    order : battles in row order; gid : row of each battle in that order;
    first : the position in that order of each row's first battle.
    """
    n = pair.size
    zz = np.ascontiguousarray(z + 0.0)  # -0.0 and 0.0 are one value
    shift = np.uint64(max(1, int(q).bit_length()))
    key = pair.astype(np.uint64) << (np.uint64(64) - shift)
    if zz.shape[1]:
        # A random projection of the features, its bits mixed: equal rows get equal
        # keys; unequal rows sharing a key are caught by the check below.
        proj = zz @ np.random.default_rng(0).uniform(1.0, 2.0, zz.shape[1])
        h = proj.view(np.uint64)
        with np.errstate(over="ignore"):
            h = (h ^ (h >> np.uint64(31))) * np.uint64(0x9E3779B97F4A7C15)
        key |= h >> shift
    order = np.argsort(key, kind="stable")
    ks = key[order]
    new = np.empty(n, bool)
    new[:1] = True
    np.not_equal(ks[1:], ks[:-1], out=new[1:])
    first = np.flatnonzero(new)
    if first.size == n:  # every row is unique
        return order, np.arange(n), first
    gid = np.cumsum(new) - 1
    if zz.shape[1]:
        zs = zz[order]
        if not np.array_equal(zs, zs[first][gid]):  # a hash collision
            order = np.lexsort(tuple(zz.T[::-1]) + (pair,))
            ps, zs = pair[order], zz[order]
            new[1:] = (ps[1:] != ps[:-1]) | np.any(zs[1:] != zs[:-1], axis=1)
            gid = np.cumsum(new) - 1
            first = np.flatnonzero(new)
    return order, gid, first


def pair_ids(code: np.ndarray, m: int):
    """Unique pair codes ``a*m + b`` and each battle's index among them."""
    if m * m <= 1 << 24:  # a dense look-up table beats sorting
        seen = np.zeros(m * m, bool)
        seen[code] = True
        pid = np.flatnonzero(seen)
        lookup = np.zeros(m * m, np.int64)
        lookup[pid] = np.arange(pid.size)
        return pid, lookup[code]
    pid, inv = np.unique(code, return_inverse=True)
    return pid, inv.ravel()


def _worth_merging(pair: np.ndarray, z: np.ndarray, sample: int = 20000) -> bool:
    """True when a sample of the battles has repeated ``(pair, z)`` rows (>= 5 %)."""
    n = pair.size
    if n <= sample:
        return True
    idx = np.random.default_rng(0).choice(n, sample, replace=False)
    key = np.column_stack([pair[idx].astype(float), z[idx]]) + 0.0
    view = np.ascontiguousarray(key).view(np.dtype((np.void, key.itemsize * key.shape[1])))
    return np.unique(view).size < 0.95 * sample


def merge_rows(a, b, y, z, w, m: int, scale=None, merge: bool | None = None) -> Rows:
    """Orient every battle so ``a < b`` and merge identical ``(a, b, z)`` rows.

    Parameters
    ----------
    scale : numpy.ndarray, shape (k,), optional
        Divide the features by it (done in the same pass as the orientation).
    merge : bool, optional
        Merge identical rows (sorted by pair) or keep the battles as rows.
        Default: merge when a sample of the battles has repeated rows.
    """
    flip = a > b
    a2 = np.where(flip, b, a)
    b2 = np.where(flip, a, b)
    y2 = np.where(flip, 1.0 - y, y)
    sign = 1.0 - 2.0 * flip
    z2 = z * (sign[:, None] if scale is None else sign[:, None] / scale)
    pid, pair = pair_ids(a2 * m + b2, m)
    if merge is None:
        merge = _worth_merging(pair, z2)
    unweighted = bool(np.all(w == 1.0))
    if not merge:
        mass = np.ones_like(y2) if unweighted else np.asarray(w, float)
        win = y2 if unweighted else w * y2
        if unweighted:
            w2, w2y, w2y2 = mass, win, y2 * y2
        else:
            w2, w2y = w * w, w * win
            w2y2 = w2y * y2
        return Rows(
            a2, b2, np.ascontiguousarray(z2), win, mass, w2, w2y, w2y2, np.ones_like(y2),
            None, pid // m, pid % m, np.arange(a.size), m, pair,
        )  # fmt: skip
    order, gid, first = _group_rows(pair, z2, pid.size)
    r = first.size
    if r == a.size:  # nothing merged: the sums are the battles themselves
        sums = lambda v: v[order]  # noqa: E731 (a one-line local helper)
    else:
        sums = lambda v: np.bincount(gid, v[order], r)  # noqa: E731 (a one-line local helper)
    src = order[first]
    of_battle = np.empty(a.size, np.int64)
    of_battle[order] = gid
    rp = pair[src]
    starts = np.flatnonzero(np.r_[True, rp[1:] != rp[:-1]])
    win, mass = sums(w * y2), sums(w)
    if unweighted:
        w2, w2y, w2y2, count = mass, win, sums(y2 * y2), mass
    else:
        ww = w * w
        w2, w2y, w2y2, count = sums(ww), sums(ww * y2), sums(ww * y2 * y2), sums(np.ones_like(w))
    return Rows(
        a2[src],
        b2[src],
        np.ascontiguousarray(z2[src]),
        win,
        mass,
        w2,
        w2y,
        w2y2,
        count,
        starts,
        pid // m,
        pid % m,
        of_battle,
        m,
        rp,
    )
