"""Online Elo in time order, for comparison with the maximum-likelihood fits.

Each battle moves both ratings by ``K·(score − expected)`` with
``expected = 1 / (1 + 10^((R_other − R_self)/400))``; a tie scores 1/2.
Unlike Bradley-Terry the result depends on the order of the battles and on K,
so it needs the battles themselves (O(battles)), not the aggregated counts.

The replay is a loop over battles that no array operation can express (each
update reads the ratings the previous one wrote), so it is compiled with
numba (:func:`_replay`): 1.67 M battles take about 25 ms per bootstrap round.
The bootstrap draws N battles with replacement per round (a multinomial over
the battles, drawn as N uniform picks counted per battle) and replays each
replicate in the original time order, a battle drawn ``c`` times applied
``c`` times in a row; :data:`CHUNK` rounds are replayed side by side.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

BASE = 10.0
POINTS_PER_BASE = 400.0  # rating points per factor BASE in the odds (Elo's "400")
INIT = 1000.0
CHUNK = 16  # bootstrap rounds replayed together: (battles x CHUNK) int32 counts in memory


def scores(outcome) -> np.ndarray:
    """Score of the left model: 1 (left won), 0 (right won) or 1/2 (outcome 2 or 3, a tie)."""
    outcome = np.asarray(outcome)
    return np.select([outcome == 0, outcome == 1], [1.0, 0.0], 0.5)


def online(
    left, right, outcome, m: int, k: float = 4.0, *, init: float = INIT, repeat=None
) -> np.ndarray:
    """Online Elo ratings after playing the battles in the given order.

    Parameters
    ----------
    left, right : array_like of int, shape (N,)
        The two models of each battle, in time order.
    outcome : array_like of int, shape (N,)
        0 = ``left`` won, 1 = ``right`` won, 2 or 3 = tie.
    m : int
        Number of models.
    k : float
        The K factor (default 4).
    repeat : numpy.ndarray of int, shape (R, N), optional
        For a bootstrap: how often each battle occurs in each of R replicates.
        The replicates are played side by side, each battle applied as many
        times as it was drawn, in time order.

    Returns
    -------
    numpy.ndarray, shape (m,) or (R, m)
    """
    left = np.ascontiguousarray(left, np.int64)
    right = np.ascontiguousarray(right, np.int64)
    score = scores(outcome)
    single = repeat is None
    if single:
        times = np.ones((1, left.size), np.uint8)
    else:
        times = np.asarray(repeat)
        if times.dtype.kind not in "iu" or times.dtype.itemsize > 4:
            times = times.astype(np.int32)
    rating = np.full((times.shape[0], m), float(init))
    _kernels()[0](left, right, score, times, rating, float(k), np.log(BASE) / POINTS_PER_BASE)
    return rating[0] if single else rating


def bootstrap(
    left,
    right,
    outcome,
    m: int,
    k: float = 4.0,
    *,
    rounds: int,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Online Elo of ``rounds`` bootstrap replicates of the battles, shape (rounds, m).

    Each replicate draws N battles with replacement (one seeded
    ``numpy.random.Generator``; the same battles and seed give the same
    replicates) and replays them in time order (:func:`online` with ``repeat``).
    """
    n = np.asarray(left).size
    rng = np.random.default_rng(seed)
    out = np.empty((rounds, m))
    # Counts as bytes (a round's counts stay in cache while they are made); a count that
    # would pass 255 (Poisson(1) tails make that all but impossible) moves them to int32.
    times = np.empty((min(CHUNK, rounds), n), np.uint8)
    count = _kernels()[1]
    for start in range(0, rounds, CHUNK):
        size = min(CHUNK, rounds - start)
        times[:size] = 0
        for r in range(size):
            picks = rng.integers(0, n, n, dtype=np.int32)
            if not count(picks, times[r]):
                times = times.astype(np.int32)
                times[r] = 0
                count(picks, times[r])
        out[start : start + size] = online(left, right, outcome, m, k, repeat=times[:size])
        if progress:
            progress(size)
    return out


_COMPILED = None


def _kernels():
    """:func:`_replay` and :func:`_count` compiled by numba (imported on first use: Elo only)."""
    global _COMPILED
    if _COMPILED is None:
        import numba

        jit = numba.njit(cache=True, nogil=True)
        _COMPILED = (jit(_replay), jit(_count))
    return _COMPILED


def _count(picks, out):  # pragma: no cover
    """``out[k]`` += how often ``k`` was picked (``np.bincount`` without its int64 copy);
    False, with ``out`` partly counted, if a count would pass what ``out``'s type holds."""
    top = np.iinfo(out.dtype).max
    for k in picks:
        if out[k] == top:
            return False
        out[k] += 1
    return True


def _replay(left, right, score, times, rating, k, ln_base_per_point):  # pragma: no cover
    """Play battle ``t`` ``times[r, t]`` times on ``rating[r]``, for every t in order.

    Pure loops, for numba: ``rating`` (R, m) is updated in place.
    """
    rounds = rating.shape[0]
    for t in range(left.size):
        a = left[t]
        b = right[t]
        s = score[t]
        for r in range(rounds):
            for _ in range(times[r, t]):
                ra = rating[r, a]
                rb = rating[r, b]
                delta = k * (s - 1.0 / (1.0 + np.exp(ln_base_per_point * (rb - ra))))
                rating[r, a] = ra + delta
                rating[r, b] = rb - delta
