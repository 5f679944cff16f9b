"""A frame of coded columns as its distinct rows and how often each occurs.

A battle file of a million rows usually holds a few thousand distinct
(``model_a``, ``model_b``, ``winner``, ...) rows. When every column was read
as a categorical, :func:`distinct_rows` finds them from the columns' integer
codes alone (one dense count over the combined codes, no strings touched), so
the checks and the counts of :mod:`arena.battle_files` run on those few
thousand rows instead of on every row. :class:`PerRow` gives the per-row
arrays back, gathered from the distinct rows, only when something reads them
(Elo's order, a flag's scope).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import numpy as np

#: Largest number of possible code combinations counted densely (one bin each).
DENSE_COMBINATIONS = 1 << 22


class DistinctRows:
    """The distinct rows of a frame, in a fixed order, with their counts.

    Attributes
    ----------
    rows : polars.DataFrame
        One row of the frame for each distinct combination of values.
    counts : numpy.ndarray of float64, shape (len(rows),)
        How many rows of the frame equal each one (whole numbers).
    total : int
        Rows in the frame.
    """

    def __init__(self, rows, counts: np.ndarray, key: np.ndarray, present: np.ndarray):
        self.rows, self.counts, self.total = rows, counts, key.size
        self._key, self._present, self._inverse = key, present, None

    def inverse(self) -> np.ndarray:
        """For every row of the frame, the index of its distinct row (computed once)."""
        if self._inverse is None:
            rank = np.cumsum(self._present, dtype=np.int64)
            rank -= 1
            self._inverse = rank[self._key]
        return self._inverse


def distinct_rows(pl, frame) -> DistinctRows | None:
    """The distinct rows of ``frame``, or None unless every column is categorical (or
    the combinations of codes are too many to count densely).

    Missing values count as one more code of their column (the row kept for them
    has the missing value).
    """
    if not frame.width or any(dtype != pl.Categorical for dtype in frame.dtypes):
        return None
    codes, sizes = [], []
    for name in frame.columns:
        physical = frame[name].to_physical()
        if physical.null_count():
            physical = physical.fill_null(int(physical.max() or 0) + 1)
        codes.append(physical.to_numpy())
        sizes.append(int(codes[-1].max()) + 1)
    if not _fits(sizes):
        codes, sizes = zip(*(_compact(c) for c in codes), strict=True)
        if not _fits(sizes):
            return None
    key = codes[0].astype(np.int64)
    for c, size in zip(codes[1:], sizes[1:], strict=True):
        key *= size
        key += c
    counts = np.bincount(key, minlength=int(np.prod(sizes)))
    present = counts > 0
    where = np.empty(present.size, np.int64)
    where[key] = np.arange(key.size)  # a row (any one) holding each combination
    combos = np.flatnonzero(present)
    rows = frame[where[combos]]
    return DistinctRows(rows, counts[combos].astype(float), key, present)


def _fits(sizes) -> bool:
    return float(np.prod(np.asarray(sizes, float))) <= DENSE_COMBINATIONS


def _compact(codes: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes renumbered 0, 1, ... over the values present, and how many there are."""
    present = np.bincount(codes) > 0
    rank = np.cumsum(present, dtype=np.int64)
    rank -= 1
    return rank[codes], int(rank[-1]) + 1


class PerRow(Mapping):
    """A sequence mapping whose arrays hold one entry per distinct row: read, each is
    gathered to one entry per row of the frame (once; other values pass through).

    Parameters
    ----------
    per_distinct : dict
        Arrays over the distinct rows, and plain values.
    inverse : callable
        Returns :meth:`DistinctRows.inverse`.
    """

    def __init__(self, per_distinct: dict, inverse: Callable[[], np.ndarray]):
        self._values, self._inverse, self._rows = per_distinct, inverse, {}

    def __getitem__(self, key):
        value = self._values[key]
        if not isinstance(value, np.ndarray):
            return value
        if key not in self._rows:
            self._rows[key] = value[self._inverse()]
        return self._rows[key]

    def __iter__(self) -> Iterator:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)
