"""The two special functions a Bradley-Terry fit and its bootstrap need, without
importing :mod:`scipy.special`.

``scipy.special`` takes about 0.13 s to import (its array-API wrappers of
every function), a tenth of a whole ``arena rate --input`` run. These compute what
scipy's own functions compute, for what the engine asks of them:

* :func:`expit` is ``1 / (1 + exp(-x))``, the formula scipy's ``expit`` computes;
* :func:`gammaln_whole` is the Cephes ``lgam`` algorithm that scipy's
  ``gammaln`` runs, for whole numbers ``x >= 1`` (the Poisson tables of
  :mod:`rating.resample` ask for ``log((k)!)`` only).

They give scipy's bits where numpy's ``exp`` and ``log`` are the C library's. On a CPU
with AVX-512, numpy uses vectorized ``exp`` and ``log`` of its own, and results differ
from scipy's (which calls the C library per element) by up to 2 units in the last place
(measured on an AMD EPYC, 2026-12-02: 89 of the two million ``gammaln`` values, 4,715 of
250,000 ``expit`` values). ``tests/rating/test_special.py`` checks both against scipy:
within 2 units in the last place always, bit for bit where numpy's ``exp`` and ``log``
agree with the C library's (``gammaln_whole`` on every whole number up to two million).
Everything else (``ndtri``, ``logsumexp``, ``softmax``) is imported from scipy where it is
used.
"""

from __future__ import annotations

import numpy as np

# Cephes lgam: the coefficients of its Stirling correction for 13 <= x < 1000, and
# log(sqrt(2*pi)).
_STIRLING = (
    8.11614167470508450300e-4,
    -5.95061904284301438324e-4,
    7.93650340457716943945e-4,
    -2.77777777730099687205e-3,
    8.33333333333331927722e-2,
)
_LOG_SQRT_2PI = 0.91893853320467274178


def expit(x):
    """The logistic function ``1 / (1 + exp(-x))``, elementwise."""
    with np.errstate(over="ignore"):  # exp(-x) = inf for x below -709: the answer is 0
        return 1.0 / (1.0 + np.exp(-x))


def gammaln_whole(x) -> np.ndarray:
    """``log(Gamma(x))`` for whole numbers ``x >= 1``, as Cephes ``lgam`` computes it.

    Parameters
    ----------
    x : array_like of float
        Whole numbers, at least 1.

    Returns
    -------
    numpy.ndarray
    """
    x = np.asarray(x, float)
    if x.size and (x.min() < 1.0 or not np.all(x == np.floor(x))):
        raise ValueError("gammaln_whole takes whole numbers >= 1")
    out = np.empty_like(x)
    small = x < 13.0
    for k in np.unique(x[small]):  # log((k-1)!) from the product Cephes forms
        z, u = 1.0, k
        while u >= 3.0:
            u -= 1.0
            z *= u
        out[x == k] = np.log(z)
    big = x[~small]
    q = (big - 0.5) * np.log(big) - big + _LOG_SQRT_2PI
    p = 1.0 / (big * big)
    far = big >= 1000.0
    # Cephes: for x >= 1000 a shorter series; past 1e8 none.
    correction = np.empty_like(big)
    pf = p[far]
    correction[far] = (
        (7.9365079365079365079365e-4 * pf - 2.7777777777777777777778e-3) * pf
        + 0.0833333333333333333333
    ) / big[far]
    pn = p[~far]
    poly = np.full_like(pn, _STIRLING[0])
    for c in _STIRLING[1:]:  # polevl: Horner's rule
        poly = poly * pn + c
    correction[~far] = poly / big[~far]
    out[~small] = np.where(big > 1.0e8, q, q + correction)
    return out
