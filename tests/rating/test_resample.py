"""The exact multinomial sampler: right totals, right distribution, reproducible."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from rating import resample


def _chi2_pvalue(observed, expected):
    keep = expected > 0
    return stats.chisquare(observed[keep], expected[keep] * observed.sum() / expected.sum()).pvalue


def test_columns_sum_to_n_and_empty_cells_stay_empty():
    cells = np.array([0.0, 3, 1, 0, 250, 7, 40, 0])
    x = resample.MultinomialSampler(cells).draw(np.random.default_rng(1), 500)
    assert x.shape == (8, 500)
    assert np.all(x.sum(axis=0) == 301)
    assert np.all(x[[0, 3, 7]] == 0) and x.min() >= 0
    assert np.all(x == np.round(x))


def test_same_seed_same_draws_other_seed_other_draws():
    cells = np.arange(1.0, 30.0)
    a = resample.MultinomialSampler(cells).draw(np.random.default_rng(7), 20)
    b = resample.MultinomialSampler(cells).draw(np.random.default_rng(7), 20)
    c = resample.MultinomialSampler(cells).draw(np.random.default_rng(8), 20)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_joint_distribution_is_exactly_multinomial_on_a_small_case():
    # 4 battles over 3 cells: every outcome's frequency against the multinomial pmf.
    # Small n makes |S - n| large next to n, so both fix-ups (adding battles and
    # removing them, with repeated removal picks) run in most rounds.
    cells = np.array([1.0, 2.0, 1.0])
    n, p = 4, cells / cells.sum()
    rounds = 40_000
    x = resample.MultinomialSampler(cells).draw(np.random.default_rng(3), rounds).astype(int)
    outcomes = [c for c in itertools.product(range(n + 1), repeat=3) if sum(c) == n]
    index = {c: k for k, c in enumerate(outcomes)}
    observed = np.bincount([index[tuple(col)] for col in x.T], minlength=len(outcomes))
    expected = np.array([stats.multinomial.pmf(c, n, p) for c in outcomes])
    assert _chi2_pvalue(observed, expected) > 1e-4


def test_moments_match_the_multinomial_on_arena_like_counts():
    rng = np.random.default_rng(5)
    cells = np.r_[rng.integers(1, 12, 40), rng.integers(100, 3000, 20)].astype(float)
    n, p = cells.sum(), cells / cells.sum()
    x = resample.MultinomialSampler(cells).draw(np.random.default_rng(6), 20_000)
    assert np.all(x.sum(axis=0) == n)
    se_mean = np.sqrt(n * p * (1 - p) / x.shape[1])
    assert np.abs((x.mean(axis=1) - n * p) / se_mean).max() < 5
    cov = np.cov(x)
    theory = n * (np.diag(p) - np.outer(p, p))
    assert np.allclose(np.diag(cov) / np.diag(theory), 1, atol=0.08)
    # The fix-up makes cells negatively correlated exactly as in the multinomial.
    big = np.argsort(cells)[-2:]
    assert cov[big[0], big[1]] == pytest.approx(theory[big[0], big[1]], rel=0.3)


def test_weighted_cells_draw_round_of_the_total_in_proportion():
    cells = np.array([0.5, 2.25, 7.0])
    x = resample.MultinomialSampler(cells).draw(np.random.default_rng(9), 4000)
    assert np.all(x.sum(axis=0) == 10)  # round(9.75)
    assert np.allclose(x.mean(axis=1), 10 * cells / cells.sum(), atol=0.15)


@pytest.mark.parametrize("lam", [0.3, 4.0, 57.0, 12_345.0])
def test_poisson_tables_match_the_poisson_pmf(lam):
    x = resample.PoissonTables(np.array([lam])).draw(np.random.default_rng(11), 50_000)[0]
    lo, hi = int(x.min()), int(x.max())
    support = np.arange(lo, hi + 1)
    observed = np.bincount(x - lo, minlength=support.size)
    # Pool the tails so every expected count is at least 5.
    cdf = stats.poisson.cdf(support, lam)
    expected = np.diff(np.r_[0.0, cdf])
    expected[-1] += stats.poisson.sf(hi, lam)
    expected[0] += stats.poisson.cdf(lo - 1, lam)
    keep = expected * x.size >= 5
    pooled_o = np.r_[observed[keep], observed[~keep].sum()]
    pooled_e = np.r_[expected[keep], expected[~keep].sum()]
    assert _chi2_pvalue(pooled_o, pooled_e) > 1e-4


@pytest.mark.parametrize("lam", [0.01, 1.0, 37.0, 1e3, 1e5, 1e7])
def test_table_windows_leave_out_less_than_the_tail_bound(lam):
    t = resample.PoissonTables(np.array([lam]))
    lo = int(t.offset[0])  # the value of the first entry
    hi = lo + int(t.end[0])
    assert stats.poisson.cdf(lo - 1, lam) < 10 * resample.TAIL
    assert stats.poisson.sf(hi, lam) < 10 * resample.TAIL
    assert t.cdf[t.end[0]] == t.slots[0, 0]  # the last entry holds the whole mass


def test_categorical_frequencies():
    p = np.array([0.5, 0.0, 1e-3, 0.25, 0.249])
    x = resample.Categorical(p).draw(np.random.default_rng(13), 200_000)
    observed = np.bincount(x, minlength=p.size)
    assert observed[1] == 0
    assert _chi2_pvalue(observed, p) > 1e-4


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 40), min_size=1, max_size=12),
    st.integers(1, 30),
    st.integers(0, 2**32 - 1),
)
def test_any_counts_give_valid_replicates(counts, rounds, seed):
    cells = np.array(counts, float)
    x = resample.MultinomialSampler(cells).draw(np.random.default_rng(seed), rounds)
    assert x.shape == (cells.size, rounds)
    assert np.all(x.sum(axis=0) == cells.sum())
    assert np.all(x[cells == 0] == 0) and x.min() >= 0


def test_rounds_drawn_ahead_in_a_thread_are_the_same_rounds():
    """The bootstrap draws the next chunk in a second thread: same generator, same order."""
    from rating import intervals

    cells = np.array([0.0, 3, 1, 0, 250, 7, 40, 0, 12, 9])
    serial = list(intervals.multinomial_rounds(cells, 230, seed=5))
    ahead = list(intervals.drawn_ahead(intervals.multinomial_rounds(cells, 230, seed=5)))
    assert len(ahead) == len(serial) == 5
    assert all(np.array_equal(a, b) for a, b in zip(ahead, serial, strict=True))


def test_drawing_ahead_raises_its_error_and_stops_when_the_reader_stops():
    import threading

    from rating import intervals

    def failing():
        yield np.zeros((2, 3))
        raise ValueError("bad draw")

    got = []
    with pytest.raises(ValueError, match="bad draw"):
        for draw in intervals.drawn_ahead(failing()):
            got.append(draw)
    assert len(got) == 1

    made = []

    def endless():
        while True:
            made.append(1)
            yield np.zeros(1)

    before = threading.active_count()
    draws = intervals.drawn_ahead(endless())
    next(draws)
    draws.close()  # the reader stops: the drawing thread ends, nothing more is drawn
    assert threading.active_count() == before
    count = len(made)
    assert count <= 3 and len(made) == count
