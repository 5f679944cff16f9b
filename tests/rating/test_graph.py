"""Strong connectivity: the widest-tree certificate and the replicate priors."""

import numpy as np
import pytest

from rating import bt, graph, intervals


def _random_pairs(rng, m, density):
    i, j = np.triu_indices(m, 1)
    keep = rng.random(i.size) < density
    i, j = i[keep], j[keep]
    w_ij = rng.integers(0, 4, i.size) * (rng.random(i.size) < 0.8)
    w_ji = rng.integers(0, 4, i.size) * (rng.random(i.size) < 0.8)
    return i, j, w_ij.astype(float), w_ji.astype(float)


@pytest.mark.parametrize("seed", range(30))
def test_trees_certify_strong_connectivity_exactly_when_it_holds(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(2, 12))
    i, j, w_ij, w_ji = _random_pairs(rng, m, rng.uniform(0.2, 0.9))
    trees = graph.widest_trees(i, j, w_ij, w_ji, m)
    if not graph.mle_exists(i, j, w_ij, w_ji, m):
        assert trees is None
        return
    assert trees is not None and trees.size == 2 * (m - 1)
    # Keep only the tree edges: still strongly connected.
    q = i.size
    only = np.zeros(2 * q, bool)
    only[trees] = True
    assert graph.mle_exists(i, j, w_ij * only[:q], w_ji * only[q:], m)
    # Every tree edge is a real edge.
    assert np.all(np.r_[w_ij, w_ji][trees] > 0)


def test_trees_prefer_heavy_edges():
    # 0 <-> 1 heavily both ways, 1 <-> 2 heavily, 0 <-> 2 barely: the trees avoid 0-2.
    i, j = np.array([0, 1, 0]), np.array([1, 2, 2])
    trees = graph.widest_trees(i, j, np.array([50.0, 40, 1]), np.array([60.0, 30, 1]), 3)
    assert not np.isin(trees % 3, [2]).any()


def test_replicate_priors_check_rounds_that_lost_a_tree_edge():
    # Three models, everyone beat everyone at least once.
    i, j = np.array([0, 0, 1]), np.array([1, 2, 2])
    wi, wj, t = np.array([5.0, 5, 5]), np.array([5.0, 5, 5]), np.zeros(3)
    cells = np.r_[wi, wj, t]
    trees = graph.widest_trees(i, j, wi, wj, 3)
    kept = cells.copy()
    lost_a_tree_edge_still_connected = cells.copy()
    lost_a_tree_edge_still_connected[trees[0] if trees[0] < 3 else 3 + trees[0] % 3] = 0
    never_lost = cells.copy()
    never_lost[[3, 4]] = 0  # model 0 never lost to 1 or 2
    draw = np.c_[kept, lost_a_tree_edge_still_connected, never_lost].astype(np.int64)
    priors = intervals.replicate_priors(i, j, cells, draw, 3, 0.0, trees)
    assert list(priors) == [0.0, 0.0, bt.DEFAULT_PRIOR]
    assert list(intervals.replicate_priors(i, j, cells, draw, 3, 0.0, None)) == list(priors)


@pytest.mark.parametrize("seed", range(40))
def test_searches_agree_with_scipy_csgraph(seed):
    """Components and strong connectivity as scipy.sparse.csgraph finds them (random sparse
    graphs, some with isolated models and several components)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 15))
    i, j, w_ij, w_ji = _random_pairs(rng, m, rng.uniform(0.05, 0.6))
    met = (w_ij + w_ji) > 0
    i, j, w_ij, w_ji = i[met], j[met], w_ij[met], w_ji[met]
    n, labels = connected_components(coo_matrix((np.ones(i.size), (i, j)), (m, m)), False)
    ours = graph.components(i, j, m)
    assert ours.max() + 1 == n
    same = labels[:, None] == labels[None, :]
    assert np.array_equal(same, ours[:, None] == ours[None, :])
    src = np.r_[i[w_ij > 0], j[w_ji > 0]]
    dst = np.r_[j[w_ij > 0], i[w_ji > 0]]
    strong = coo_matrix((np.ones(src.size), (src, dst)), (m, m))
    expected = connected_components(strong, directed=True, connection="strong")[0] == 1
    assert graph.mle_exists(i, j, w_ij, w_ji, m) == expected
