"""Battles aggregated once into per-pair counts.

Every fit in :mod:`rating` works on these counts, so it costs O(pairs), not
O(battles). Counts keep the position each model was shown in (``left`` and
``right``) so a first-position advantage can be fitted, and carry optional
scope labels (category, source, rater group) so one table answers every
scope: :meth:`CountTable.select` filters and sums over the rest.

Outcome codes (:data:`OUTCOMES`): 0 = left model won, 1 = right model won,
2 = tie, 3 = tie, both bad.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

OUTCOMES = ("left", "right", "tie", "both_bad")
DENSE_KEYS = 1 << 22  # up to this many (scope, left, right) keys, aggregate by dense counting
LEFT_WIN, RIGHT_WIN, TIE, BOTH_BAD = range(4)


def _codes(values, vocabulary=None):
    """Integer codes of ``values`` and the sorted vocabulary they index."""
    values = np.asarray(values)
    if vocabulary is None:
        vocab, inverse = np.unique(values.astype(str), return_inverse=True)
        return inverse.astype(np.int64), tuple(str(v) for v in vocab)
    if values.dtype.kind in "iu":
        return values.astype(np.int64), tuple(vocabulary)
    lookup = {name: k for k, name in enumerate(vocabulary)}
    try:
        return np.fromiter((lookup[str(v)] for v in values), np.int64, values.size), tuple(
            vocabulary
        )
    except KeyError as exc:
        raise ValueError(f"unknown label {exc.args[0]!r}") from None


@dataclass(frozen=True)
class Coded:
    """Scope labels already coded: ``codes`` index ``labels`` (sorted, unique)."""

    codes: np.ndarray
    labels: tuple


@dataclass(frozen=True)
class PairCounts:
    """Counts for one scope, one row per ordered (left, right) pair.

    Attributes
    ----------
    models : tuple of str
        Model names; ``left``/``right`` index into it.
    left, right : numpy.ndarray of int64, shape (P,)
        The model shown left and right. Rows are unique and sorted.
    counts : numpy.ndarray of float64, shape (P, 4)
        Weighted counts of left wins, right wins, ties and both-bad ties.
    positional : bool
        False when the source did not record who was shown left (then
        ``left < right`` is only an ordering and no position effect can be fit).
    """

    models: tuple
    left: np.ndarray
    right: np.ndarray
    counts: np.ndarray
    positional: bool = True

    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def total(self) -> float:
        return float(self.counts.sum())

    def unordered(self):
        """Collapse positions: pairs ``i < j`` with wins of i, wins of j and ties (both kinds).

        Returns
        -------
        i, j : numpy.ndarray of int64, shape (Q,)
        wins_i, wins_j, ties : numpy.ndarray of float64, shape (Q,)
        """
        swap = self.left > self.right
        i = np.where(swap, self.right, self.left)
        j = np.where(swap, self.left, self.right)
        wi = np.where(swap, self.counts[:, RIGHT_WIN], self.counts[:, LEFT_WIN])
        wj = np.where(swap, self.counts[:, LEFT_WIN], self.counts[:, RIGHT_WIN])
        t = self.counts[:, TIE] + self.counts[:, BOTH_BAD]
        m = self.n_models
        key, inv = np.unique(i * m + j, return_inverse=True)
        q = key.size
        return (
            key // m,
            key % m,
            np.bincount(inv, wi, q),
            np.bincount(inv, wj, q),
            np.bincount(inv, t, q),
        )

    def per_model(self) -> dict[str, np.ndarray]:
        """Battles, wins, losses and ties (both kinds) of every model, shape (n_models,)."""
        m = self.n_models
        c = self.counts
        ties = c[:, TIE] + c[:, BOTH_BAD]
        wins = np.bincount(self.left, c[:, LEFT_WIN], m) + np.bincount(
            self.right, c[:, RIGHT_WIN], m
        )
        losses = np.bincount(self.left, c[:, RIGHT_WIN], m) + np.bincount(
            self.right, c[:, LEFT_WIN], m
        )
        tie = np.bincount(self.left, ties, m) + np.bincount(self.right, ties, m)
        return {"battles": wins + losses + tie, "wins": wins, "losses": losses, "ties": tie}

    def subset(self, keep) -> PairCounts:
        """Only the models in ``keep`` (bool mask or indices), renumbered in their order."""
        mask = np.zeros(self.n_models, bool)
        mask[np.asarray(keep)] = True
        new = np.full(self.n_models, -1, np.int64)
        new[mask] = np.arange(mask.sum())
        rows = mask[self.left] & mask[self.right]
        return PairCounts(
            tuple(n for n, k in zip(self.models, mask) if k),
            new[self.left[rows]],
            new[self.right[rows]],
            self.counts[rows],
            self.positional,
        )

    def digest(self) -> str:
        """SHA-256 of the models and counts in canonical form: equal data, equal digest."""
        h = hashlib.sha256()
        h.update("\x1f".join(self.models).encode())
        h.update(b"\x1e" + (b"p" if self.positional else b"u"))
        order = np.lexsort((self.right, self.left))
        h.update(np.ascontiguousarray(self.left[order], "<i8").tobytes())
        h.update(np.ascontiguousarray(self.right[order], "<i8").tobytes())
        h.update(np.ascontiguousarray(self.counts[order], "<f8").tobytes())
        return "sha256:" + h.hexdigest()


@dataclass(frozen=True)
class CountTable:
    """Counts per (category, source, rater group, left, right): every scope in one table.

    ``select`` returns the :class:`PairCounts` of one scope (``None`` = all).
    """

    models: tuple
    categories: tuple
    sources: tuple
    groups: tuple
    category: np.ndarray
    source: np.ndarray
    group: np.ndarray
    left: np.ndarray
    right: np.ndarray
    counts: np.ndarray
    positional: bool = True

    def select(self, category=None, source=None, group=None) -> PairCounts:
        rows = np.ones(self.left.size, bool)
        for value, labels, codes in (
            (category, self.categories, self.category),
            (source, self.sources, self.source),
            (group, self.groups, self.group),
        ):
            if value is None:
                continue
            if value not in labels:
                rows &= False
            else:
                rows &= codes == labels.index(value)
        return pair_counts(
            self.left[rows], self.right[rows], self.counts[rows], self.models, self.positional
        )

    def labels(self) -> dict[str, tuple]:
        """The category, source and group labels that have any counts."""
        out = {}
        for key, labels, codes in (
            ("category", self.categories, self.category),
            ("source", self.sources, self.source),
            ("group", self.groups, self.group),
        ):
            used = np.unique(codes)
            out[key] = tuple(labels[k] for k in used)
        return out


def pair_counts(left, right, counts, models, positional=True) -> PairCounts:
    """Sum count rows with the same (left, right) into one row per pair.

    Parameters
    ----------
    left, right : array_like of int, shape (K,)
    counts : array_like, shape (K, 4)
    models : sequence of str
    """
    left = np.asarray(left, np.int64)
    right = np.asarray(right, np.int64)
    counts = np.asarray(counts, float).reshape(-1, 4)
    m = len(models)
    if left.size and (left.min() < 0 or max(left.max(), right.max()) >= m):
        raise ValueError("model index out of range")
    if np.any(left == right):
        k = int(np.flatnonzero(left == right)[0])
        raise ValueError(f"model {models[left[k]]!r} plays itself")
    if np.any(counts < 0) or not np.all(np.isfinite(counts)):
        raise ValueError("counts must be finite and non-negative")
    key, inv = np.unique(left * m + right, return_inverse=True)
    q = key.size
    summed = np.stack([np.bincount(inv, counts[:, k], q) for k in range(4)], axis=1)
    return PairCounts(tuple(models), key // m, key % m, summed.reshape(q, 4), positional)


def aggregate(
    model_a,
    model_b,
    outcome,
    *,
    left=None,
    weight=None,
    category=None,
    source=None,
    group=None,
    models=None,
) -> CountTable:
    """Aggregate battles into a :class:`CountTable` with ``np.bincount``.

    (Over 80 lines: the checks of each input and the key packing belong
    together; split, they would pass the same seven arrays around.)

    Parameters
    ----------
    model_a, model_b : array_like of str (or int codes into ``models``), shape (N,)
    outcome : array_like of int, shape (N,)
        0 = ``model_a`` won, 1 = ``model_b`` won, 2 = tie, 3 = tie (both bad).
    left : array_like of bool, optional
        True where ``model_a`` was shown on the left. Without it ``model_a`` is
        taken as the left model and the table is marked positional only when
        ``left`` was given.
    weight : array_like of float, optional
        A weight per battle (default 1).
    category, source, group : array_like of str, or Coded, optional
        Scope labels per battle ("" when absent); :class:`Coded` spares
        sorting millions of strings when the caller has codes already.
    models : sequence of str, optional
        Fixed vocabulary of model names (default: sorted names seen).
    """
    a = np.asarray(model_a)
    b = np.asarray(model_b)
    n = a.size
    if b.size != n:
        raise ValueError("model_a and model_b differ in length")
    if models is None:
        both, vocab = _codes(np.concatenate([a.astype(str), b.astype(str)]))
        ia, ib = both[:n], both[n:]
    else:
        ia, vocab = _codes(a, models)
        ib, _ = _codes(b, models)
    out = np.asarray(outcome, np.int64)
    if out.size != n:
        raise ValueError("outcome differs in length from the models")
    if n and (out.min() < 0 or out.max() > 3):
        raise ValueError("outcome codes must be 0..3")
    if np.any(ia == ib):
        k = int(np.flatnonzero(ia == ib)[0])
        raise ValueError(f"battle {k}: model {vocab[ia[k]]!r} plays itself")
    positional = left is not None
    if left is not None:
        shown_left = np.asarray(left, bool)
        lm = np.where(shown_left, ia, ib)
        rm = np.where(shown_left, ib, ia)
        # Outcome relative to positions: swap a-win and b-win where a was on the right.
        out = np.where(~shown_left & (out < 2), 1 - out, out)
    else:
        lm, rm = ia, ib
    w = None if weight is None else np.asarray(weight, float)  # None: one battle each
    labels = []
    for values in (category, source, group):
        if values is None:
            labels.append((np.zeros(n, np.int64), ("",)))
        elif isinstance(values, Coded):
            labels.append((np.asarray(values.codes, np.int64), tuple(values.labels)))
        else:
            labels.append(_codes(np.asarray(values).astype(str)))
    (cc, cats), (sc, srcs), (gc, grps) = labels
    m = len(vocab)
    space = len(cats) * len(srcs) * len(grps) * m * m
    key = lm * m + rm
    if space > m * m:  # more than one scope: (((cc * S + sc) * G + gc) * m + lm) * m + rm
        key += ((cc * len(srcs) + sc) * len(grps) + gc) * (m * m)
    if space <= DENSE_KEYS:  # count into every possible key: O(battles), no sort
        present = np.bincount(key, minlength=space) > 0
        uniq = np.flatnonzero(present)
        counts = np.bincount(key * 4 + out, w, space * 4).reshape(space, 4)[uniq]
    else:
        uniq, inv = np.unique(key, return_inverse=True)
        q = uniq.size
        counts = np.bincount(inv * 4 + out, w, q * 4).reshape(q, 4)
    counts = counts.astype(float, copy=False)  # whole numbers (exact) when unweighted
    rm_, rest = uniq % m, uniq // m
    lm_, rest = rest % m, rest // m
    gc_, rest = rest % len(grps), rest // len(grps)
    sc_, cc_ = rest % len(srcs), rest // len(srcs)
    return CountTable(tuple(vocab), cats, srcs, grps, cc_, sc_, gc_, lm_, rm_, counts, positional)


def table_from_pairs(pairs: PairCounts, category="", source="", group="") -> CountTable:
    """A one-scope :class:`CountTable` holding ``pairs``."""
    zeros = np.zeros(pairs.left.size, np.int64)
    return CountTable(
        pairs.models,
        (category,),
        (source,),
        (group,),
        zeros,
        zeros,
        zeros,
        pairs.left,
        pairs.right,
        pairs.counts,
        pairs.positional,
    )
