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


def widest_trees(i, j, w_ij, w_ji, m: int) -> np.ndarray | None:
    """Edges of an out-tree and an in-tree around one hub, built from the heaviest edges.

    While every edge returned here is present, the directed graph is
    strongly connected (the hub reaches every model along the out-tree and
    every model reaches the hub along the in-tree), whatever else is
    missing. Bootstrap replicates use this as a cheap certificate and run the
    full check only when a tree edge was lost; the trees maximise the
    lightest edge on every path (Prim's algorithm on bottleneck weight), so
    that is rare.

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
    import heapq

    i = np.asarray(i, np.int64)
    j = np.asarray(j, np.int64)
    w_ij = np.asarray(w_ij, float)
    w_ji = np.asarray(w_ji, float)
    q = i.size
    if m <= 1:
        return np.zeros(0, np.int64)
    # Directed edges u -> v ("u won against v"), as (code, u, v, weight).
    code = np.r_[np.arange(q), np.arange(q) + q]
    src, dst, weight = np.r_[i, j], np.r_[j, i], np.r_[w_ij, w_ji]
    live = weight > 0
    code, src, dst, weight = code[live], src[live], dst[live], weight[live]
    hub = int(np.argmax(np.bincount(src, weight, m) + np.bincount(dst, weight, m)))
    edges = []
    for tail, head in ((src, dst), (dst, src)):  # out-tree, then in-tree (edges reversed)
        order = np.argsort(tail, kind="stable")
        starts = np.searchsorted(tail[order], np.arange(m + 1))
        seen = np.zeros(m, bool)
        seen[hub] = True
        heap = [(-weight[e], int(e)) for e in order[starts[hub]:starts[hub + 1]]]
        heapq.heapify(heap)
        while heap:
            _, e = heapq.heappop(heap)
            v = int(head[e])
            if seen[v]:
                continue
            seen[v] = True
            edges.append(int(code[e]))
            for f in order[starts[v]:starts[v + 1]]:
                if not seen[head[f]]:
                    heapq.heappush(heap, (-weight[f], int(f)))
        if not seen.all():
            return None
    return np.asarray(edges, np.int64)
