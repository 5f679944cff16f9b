"""rating.special computes what scipy.special does for what the engine asks of it: the same
bits where numpy's exp and log are the C library's, within 2 units in the last place where
numpy uses its own vectorized ones (AVX-512 CPUs)."""

import math

import numpy as np
import pytest
from scipy import special as scipy_special

from rating import special


def _numpy_math_is_libms() -> bool:
    """Whether numpy's exp and log give the C library's bits on this CPU (a probe)."""
    x = np.random.default_rng(2).uniform(-700, 700, 20_000)
    pos = np.abs(x) + 1e-3
    return np.array_equal(np.exp(x), [math.exp(v) for v in x]) and np.array_equal(
        np.log(pos), [math.log(v) for v in pos]
    )


EXACT = _numpy_math_is_libms()


def same(ours, theirs) -> None:
    """Bit for bit when numpy's exp and log are libm's; else within 2 ulp."""
    if EXACT:
        assert np.array_equal(ours, theirs, equal_nan=True)
    else:
        np.testing.assert_array_max_ulp(ours, theirs, maxulp=2)


def test_expit_is_scipys():
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            rng.normal(0, 3, 200_000),
            rng.uniform(-750, 750, 50_000),
            rng.normal(0, 1e-3, 50_000),
            [0.0, -0.0, 1e-300, -1e-300, 36.7, -36.7, 709.0, -709.0, 710.0, -745.0, -800.0],
            [np.inf, -np.inf],
        ]
    )
    same(special.expit(x), scipy_special.expit(x))
    grid = x[:600].reshape(20, 30)  # any shape, as the replicate solver passes
    same(special.expit(grid), scipy_special.expit(grid))
    assert np.isnan(special.expit(np.nan))


def test_gammaln_of_every_whole_number_up_to_two_million_is_scipys():
    x = np.arange(1.0, 2_000_001.0)
    same(special.gammaln_whole(x), scipy_special.gammaln(x))
    big = np.array([2.5e6, 1e7, 123456789.0, 1e8, 1e8 + 1, 3e9, 1e15])
    same(special.gammaln_whole(big), scipy_special.gammaln(big))
    shuffled = np.random.default_rng(1).permutation(x[:5000]).reshape(50, 100)
    same(special.gammaln_whole(shuffled), scipy_special.gammaln(shuffled))


@pytest.mark.parametrize("bad", [[0.0], [2.5], [-3.0]])
def test_gammaln_whole_refuses_what_it_does_not_cover(bad):
    with pytest.raises(ValueError):
        special.gammaln_whole(bad)
