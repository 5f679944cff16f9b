"""rating.composite.ranks against scipy.stats.rankdata (the function it replaces)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.stats import rankdata as scipy_rankdata

from rating.composite.ranks import rankdata

values = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=7),
    elements=st.sampled_from([-np.inf, -1.5, 0.0, 0.0, 2.0, 3.25, np.inf]),
)


@settings(max_examples=300, deadline=None)
@given(values, st.sampled_from(["min", "average"]))
def test_same_as_scipy(x, method):
    ours = rankdata(x, method)
    if x.size == 0:
        assert ours.shape == x.shape
        return
    theirs = scipy_rankdata(x, method=method, axis=-1)
    np.testing.assert_array_equal(ours, theirs)
    assert ours.dtype.kind == ("i" if method == "min" else "f")


def test_replicate_rows_with_many_ties():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 20, size=(200, 500)).astype(float)
    for method in ("min", "average"):
        np.testing.assert_array_equal(
            rankdata(x, method), scipy_rankdata(x, method=method, axis=-1)
        )


def test_bad_method():
    with pytest.raises(ValueError):
        rankdata(np.array([1.0]), "dense")
