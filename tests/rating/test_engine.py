import numpy as np
import pytest

from rating import counts, elo, engine
from rating.snapshot import dumps


def _pairs(rows, names):
    left, right, c = zip(*[(a, b, cnt) for a, b, cnt in rows])
    return counts.pair_counts(left, right, c, names)


DISCONNECTED = [(0, 1, [5, 3, 1, 0]), (1, 2, [4, 4, 2, 0]), (3, 4, [6, 2, 0, 1])]
NAMES = ["a", "b", "c", "x", "y"]


def test_disconnected_refused_with_components_named():
    with pytest.raises(engine.DisconnectedError) as err:
        engine.rate(_pairs(DISCONNECTED, NAMES), ci="none")
    assert err.value.groups == [["a", "b", "c"], ["x", "y"]]
    assert "2 components" in str(err.value) and "1: a, b, c; 2: x, y" in str(err.value)


def test_disconnected_each_and_largest():
    each = engine.rate(_pairs(DISCONNECTED, NAMES), rounds=50, components="each")
    assert sorted(each.models) == NAMES
    comp = dict(zip(each.models, each.component))
    assert comp["a"] == comp["b"] == comp["c"] == 0 and comp["x"] == comp["y"] == 1
    for c in (0, 1):
        assert np.mean(each.rating[each.component == c]) == pytest.approx(1000)
    assert all("component" in row for row in each.rows())
    largest = engine.rate(_pairs(DISCONNECTED, NAMES), ci="none", components="largest")
    assert sorted(largest.models) == ["a", "b", "c"]
    assert largest.meta["components"]["dropped"] == ["x", "y"]


def test_min_battles_kept_out_and_counted():
    rows = [
        (0, 1, [50, 40, 10, 0]),
        (1, 2, [30, 30, 5, 0]),
        (0, 2, [20, 25, 5, 0]),
        (0, 3, [1, 1, 0, 0]),
    ]
    r = engine.rate(_pairs(rows, ["a", "b", "c", "rare"]), ci="none", min_battles=10)
    assert "rare" not in r.models
    assert r.meta["excluded"] == {"count": 1, "models": ["rare"], "reason": "fewer than 10 battles"}
    assert r.meta["models_rated"] == 3


def test_same_input_and_seed_give_identical_json():
    rng = np.random.default_rng(30)
    a = rng.integers(0, 6, 3000)
    b = (a + rng.integers(1, 6, 3000)) % 6
    out = rng.integers(0, 4, 3000)
    names = [f"m{k}" for k in range(6)]
    t1 = counts.aggregate(np.array(names)[a], np.array(names)[b], out)
    perm = rng.permutation(3000)  # battle order must not matter
    t2 = counts.aggregate(np.array(names)[a][perm], np.array(names)[b][perm], out[perm])
    j1 = engine.rate(t1.select(), rounds=200, seed=7).to_json(replicates=True)
    j2 = engine.rate(t2.select(), rounds=200, seed=7).to_json(replicates=True)
    j3 = engine.rate(t2.select(), rounds=200, seed=8).to_json(replicates=True)
    assert j1 == j2
    assert j1 != j3


def test_aggregate_positions_and_scopes():
    t = counts.aggregate(
        ["a", "a", "b", "a"],
        ["b", "b", "a", "c"],
        [0, 1, 2, 3],
        left=[True, False, True, True],
        category=["x", "x", "y", "y"],
        source=["human", "judge:j", "human", "human"],
    )
    allp = t.select()
    assert allp.total == 4 and allp.positional
    # battle 2: a (shown right) lost to b (shown left): left win for b.
    row = {
        (allp.models[l], allp.models[r]): list(c)
        for l, r, c in zip(allp.left, allp.right, allp.counts)
    }
    assert row[("a", "b")] == [1, 0, 0, 0]
    assert row[("b", "a")] == [1, 0, 1, 0]
    assert row[("a", "c")] == [0, 0, 0, 1]
    assert t.select(category="x").total == 2
    assert t.select(source="judge:j").total == 1
    assert t.select(category="nope").total == 0
    scopes = engine.rate_scopes(t, ci="none")
    assert ("", "", "") in scopes and ("x", "", "") in scopes and ("", "human", "") in scopes
    assert scopes[("", "judge:j", "")].meta["scope"]["source"] == "judge:j"
    stats = allp.per_model()
    assert list(stats["battles"]) == [4, 3, 1]


@pytest.mark.parametrize("scoped", [False, True])
def test_aggregate_unweighted_equals_weights_of_one(scoped):
    """Without weights the counts are the same floats as with a weight of 1 per battle, in one
    scope (the key skips the scope codes) and in several."""
    rng = np.random.default_rng(3)
    n, m = 500, 6
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    out = rng.integers(0, 4, n)
    scope = {"category": rng.choice(["x", "y"], n), "source": rng.choice(["h", "j"], n)}
    kw = {"models": [f"m{k}" for k in range(m)], **(scope if scoped else {})}
    plain = counts.aggregate(a, b, out, **kw)
    ones = counts.aggregate(a, b, out, weight=np.ones(n), **kw)
    assert plain.counts.dtype == ones.counts.dtype == np.float64
    for name in ("category", "source", "group", "left", "right", "counts"):
        assert np.array_equal(getattr(plain, name), getattr(ones, name))
    assert plain.counts.sum() == n and len(plain.categories) == (2 if scoped else 1)


def test_play_itself_rejected():
    with pytest.raises(ValueError, match="plays itself"):
        counts.aggregate(["a"], ["a"], [0])


def test_elo_online_golden_and_bootstrap():
    # One battle at equal ratings: the winner gains K/2.
    r = elo.online([0], [1], [0], 2, k=4)
    assert list(r) == [1002.0, 998.0]
    r = elo.online([0, 0], [1, 1], [2, 2], 2, k=32)
    assert list(r) == [1000.0, 1000.0]
    # The vectorised replay with all-ones repeats equals the plain replay.
    rng = np.random.default_rng(31)
    a = rng.integers(0, 4, 300)
    b = (a + rng.integers(1, 4, 300)) % 4
    o = rng.integers(0, 3, 300)
    plain = elo.online(a, b, o, 4, k=4)
    rep = elo.online(a, b, o, 4, k=4, repeat=np.ones((2, 300), int))
    assert np.allclose(rep, plain)
    res = engine.rate_elo(a, b, o, ["a", "b", "c", "d"], rounds=50)
    assert res.meta["method"] == "elo" and res.replicates.shape == (50, 4)
    assert np.all(res.ci_low <= res.ci_high)


def test_dumps_has_no_nan():
    assert dumps({"x": float("nan"), "y": np.float64(1.5)}) == '{"x":null,"y":1.5}'


def test_weights_equal_repeated_battles():
    a = ["x", "x", "y", "z"]
    b = ["y", "z", "z", "x"]
    out = [0, 2, 1, 0]
    weighted = counts.aggregate(a, b, out, weight=[2, 1, 3, 1]).select()
    repeated = counts.aggregate(
        a[:1] * 2 + a[1:2] + a[2:3] * 3 + a[3:],
        b[:1] * 2 + b[1:2] + b[2:3] * 3 + b[3:],
        out[:1] * 2 + out[1:2] + out[2:3] * 3 + out[3:],
    ).select()
    assert weighted.digest() == repeated.digest()
    r1 = engine.rate(weighted, ci="none")
    r2 = engine.rate(repeated, ci="none")
    assert r1.models == r2.models and np.allclose(r1.rating, r2.rating)


def test_zero_rounds_means_no_interval():
    pc = counts.pair_counts([0, 1], [1, 0], [[3, 1, 0, 0], [2, 2, 0, 0]], ["a", "b"])
    r = engine.rate(pc, rounds=0)
    assert r.meta["ci"] == "none" and r.replicates is None
    assert np.all(r.ci_low == r.rating)


def _old_replay(left, right, outcome, m, k, repeat):
    """The per-battle replay the compiled one replaced (vectorised over replicates only)."""
    score = np.select([np.asarray(outcome) == 0, np.asarray(outcome) == 1], [1.0, 0.0], 0.5)
    reps = repeat.shape[0]
    rating = np.full((reps, m), 1000.0)
    rows = np.arange(reps)
    for t in range(len(left)):
        times = repeat[:, t]
        for c in range(1, int(times.max()) + 1):
            sel = rows[times >= c]
            ra, rb = rating[sel, left[t]], rating[sel, right[t]]
            delta = k * (score[t] - 1.0 / (1.0 + 10.0 ** ((rb - ra) / 400.0)))
            rating[sel, left[t]] = ra + delta
            rating[sel, right[t]] = rb - delta
    return rating


def test_elo_bootstrap_equals_the_old_replay_on_the_same_draws():
    rng = np.random.default_rng(5)
    n, m = 400, 6
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    o = rng.integers(0, 4, n)
    times = rng.multinomial(n, np.full(n, 1.0 / n), size=30)  # the old draw
    old = _old_replay(a, b, o, m, 8.0, times)
    new = elo.online(a, b, o, m, 8.0, repeat=times)
    assert np.abs(new - old).max() < 1e-9
    # The new draw is the same multinomial (N uniform picks counted per battle):
    # replicates draw N battles each, and the bootstrap equals the replay of its draws.
    reps = elo.bootstrap(a, b, o, m, 8.0, rounds=20, seed=3)
    draw = np.random.default_rng(3)
    counts_ = np.stack(
        [np.bincount(draw.integers(0, n, n, dtype=np.int32), minlength=n) for _ in range(20)]
    )
    assert (counts_.sum(axis=1) == n).all()
    assert np.abs(reps - _old_replay(a, b, o, m, 8.0, counts_)).max() < 1e-9
    res = engine.rate_elo(a, b, o, list("abcdef"), k=8.0, rounds=20, seed=3)
    assert np.abs(np.sort(res.replicates, axis=1) - np.sort(reps, axis=1)).max() < 1e-9


def test_elo_counts_that_do_not_fit_a_byte():
    # Two battles: 300 picks of each cannot be counted in uint8; the replay moves to int32
    # and equals the old replay of the same counts.
    a, b, o = np.array([0, 1]), np.array([1, 2]), np.array([0, 2])
    times = np.array([[300, 2], [0, 256]])
    old = _old_replay(a, b, o, 3, 4.0, times)
    assert np.abs(elo.online(a, b, o, 3, 4.0, repeat=times) - old).max() < 1e-9
    out = np.zeros(2, np.uint8)
    assert not elo._kernels()[1](np.zeros(300, np.int32), out)
