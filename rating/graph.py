"""The comparison graph: is it connected, and does a finite maximum exist?

A Bradley-Terry fit is only meaningful inside one connected component of the
graph "these two models met". Its maximum-likelihood estimate is finite only
when the directed graph "i won (or tied) against j at least once" is strongly
connected (Zermelo 1929, Ford 1957): a model that never lost, or a group that
never lost to the rest, would otherwise drift to infinity.
"""

from __future__ import annotations

import numpy as np

# The searches below are breadth-first, one numpy pass over the edges per level (graphs of
# models are small and shallow). They replace scipy.sparse.csgraph, whose import (it pulls
# in scipy.sparse.linalg and scipy.linalg) cost about 60 ms of every `arena rate`.


def _search(src, dst, m: int, start: int) -> np.ndarray:
    """Breadth-first search from ``start`` along directed edges ``src -> dst``.

    Returns
    -------
    numpy.ndarray of int, shape (m,)
        A predecessor of each model on a shortest path from ``start``; -1 for
        ``start`` itself, -2 for a model it does not reach.
    """
    pred = np.full(m, -2, np.int64)
    pred[start] = -1
    frontier = np.zeros(m, bool)
    frontier[start] = True
    while True:
        step = frontier[src] & (pred[dst] == -2)
        if not step.any():
            return pred
        pred[dst[step]] = src[step]  # any of several predecessors on one level will do
        frontier[:] = False
        frontier[dst[step]] = True


def _strongly_connected(src, dst, m: int) -> bool:
    """True when every model reaches every other along the directed edges ``src -> dst``."""
    if m <= 1:
        return True
    return bool((_search(src, dst, m, 0) != -2).all() and (_search(dst, src, m, 0) != -2).all())


def components(i, j, m: int) -> np.ndarray:
    """Label of the (undirected) component of every model, largest component first.

    Parameters
    ----------
    i, j : array_like of int
        Pairs that met at least once.
    m : int
        Number of models.

    Returns
    -------
    numpy.ndarray of int, shape (m,)
        0 for the largest component, 1 for the next, ... (ties broken by the
        smallest model index).
    """
    i = np.asarray(i, np.int64)
    j = np.asarray(j, np.int64)
    src, dst = np.r_[i, j], np.r_[j, i]
    labels = np.full(m, -1, np.int64)
    label = 0
    for start in range(m):
        if labels[start] < 0:
            labels[_search(src, dst, m, start) != -2] = label
            label += 1
    sizes = np.bincount(labels)
    first = np.full(sizes.size, m)
    np.minimum.at(first, labels, np.arange(m))
    order = np.lexsort((first, -sizes))
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[labels]


def mle_exists(i, j, w_ij, w_ji, m: int) -> bool:
    """True when the directed "won against" graph is strongly connected.

    ``w_ij`` is the win mass of ``i`` over ``j`` (wins plus half the ties) and
    ``w_ji`` the reverse, per pair.
    """
    i = np.asarray(i, np.int64)
    j = np.asarray(j, np.int64)
    if m <= 1:
        return True
    src = np.concatenate([i[np.asarray(w_ij) > 0], j[np.asarray(w_ji) > 0]])
    dst = np.concatenate([j[np.asarray(w_ij) > 0], i[np.asarray(w_ji) > 0]])
    return _strongly_connected(src, dst, m)


def never(i, j, w_ij, w_ji, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of models that never lost and of models that never won (with any battles)."""
    won = np.bincount(i, w_ij, m) + np.bincount(j, w_ji, m)
    lost = np.bincount(i, w_ji, m) + np.bincount(j, w_ij, m)
    played = (won + lost) > 0
    return np.flatnonzero(played & (lost == 0)), np.flatnonzero(played & (won == 0))


def widest_trees(i, j, w_ij, w_ji, m: int) -> np.ndarray | None:
    """Edges of an out-tree and an in-tree around one hub, built from the heaviest edges.

    While every edge returned here is present, the directed graph is
    strongly connected (the hub reaches every model along the out-tree and
    every model reaches the hub along the in-tree), whatever else is
    missing. Bootstrap replicates use this as a cheap certificate and run the
    full check only when a tree edge was lost. The trees are breadth-first
    trees of the edges at least as heavy as the largest threshold that still
    leaves the graph strongly connected, so they lack only the lightest
    edges' luck: losing one is rare.

    Parameters
    ----------
    i, j, w_ij, w_ji, m : see :func:`mle_exists`.

    Returns
    -------
    numpy.ndarray of int, shape (2 (m - 1),), or None
        Edge codes ``k`` (pair ``k`` in the direction ``i -> j``, i.e. ``i``
        won or tied against ``j``) and ``k + Q`` (the direction ``j -> i``).
        None when the graph is not strongly connected.
    """
    i = np.asarray(i, np.int64)
    j = np.asarray(j, np.int64)
    q = i.size
    if m <= 1:
        return np.zeros(0, np.int64)
    # Directed edges u -> v ("u won against v") and their codes.
    code = np.r_[np.arange(q), np.arange(q) + q]
    src, dst = np.r_[i, j], np.r_[j, i]
    weight = np.r_[np.asarray(w_ij, float), np.asarray(w_ji, float)]

    def strong(keep):
        return _strongly_connected(src[keep], dst[keep], m)

    levels = np.unique(weight[weight > 0])
    if not levels.size or not strong(weight > 0):
        return None
    lo, hi = 0, levels.size - 1  # levels[lo] keeps it strongly connected; find the largest
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if strong(weight >= levels[mid]):
            lo = mid
        else:
            hi = mid - 1
    keep = weight >= levels[lo]
    hub = int(np.argmax(np.bincount(src[keep], weight[keep], m)))
    code_of = np.full((m, m), -1, np.int64)
    code_of[src[keep], dst[keep]] = code[keep]
    pred_out = _search(src[keep], dst[keep], m, hub)
    pred_in = _search(dst[keep], src[keep], m, hub)
    others = np.flatnonzero(np.arange(m) != hub)
    return np.r_[code_of[pred_out[others], others], code_of[others, pred_in[others]]]
