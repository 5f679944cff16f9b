"""The comparison graph: is it connected, and does a finite maximum exist?

A Bradley-Terry fit is only meaningful inside one connected component of the
graph "these two models met". Its maximum-likelihood estimate is finite only
when the directed graph "i won (or tied) against j at least once" is strongly
connected (Zermelo 1929, Ford 1957): a model that never lost, or a group that
never lost to the rest, would otherwise drift to infinity.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


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
    graph = coo_matrix((np.ones(i.size), (i, j)), shape=(m, m))
    _, labels = connected_components(graph, directed=False)
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
    graph = coo_matrix((np.ones(src.size), (src, dst)), shape=(m, m))
    n, _ = connected_components(graph, directed=True, connection="strong")
    return n == 1


def never(i, j, w_ij, w_ji, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of models that never lost and of models that never won (with any battles)."""
    won = np.bincount(i, w_ij, m) + np.bincount(j, w_ji, m)
    lost = np.bincount(i, w_ji, m) + np.bincount(j, w_ij, m)
    played = (won + lost) > 0
    return np.flatnonzero(played & (lost == 0)), np.flatnonzero(played & (won == 0))
