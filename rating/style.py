"""Style control: Bradley-Terry with per-battle style covariates (contextual BT).

Model, for a battle of model ``a`` against model ``b`` with style features ``z``::

    P(a beats b) = sigmoid(theta_a - theta_b + gamma · z)

``z`` holds one relative difference ``(a - b) / (a + b)`` per feature (answer
length in tokens, Markdown headers, list items, bold spans: LMArena's "V1"
set, :mod:`rating.style_features`), scaled over the data set to root mean
square 1 (not centred: see :func:`standardize`). ``theta`` is then a model's
strength *at equal style*, and
``gamma_k`` is the log-odds a vote moves per standard deviation of feature
``k``. Ties count half a win each way (as in the plain BT fit), battle weights
multiply each battle's log-likelihood.

Objective (maximised): ``sum_b w_b [y_b d_b - log(1 + e^{d_b})] -
penalty/2 · |gamma|^2`` with ``d_b`` the logit above. The L2 penalty is on
``gamma`` only and is in units of the *summed* log-likelihood: the default
:data:`DEFAULT_PENALTY` = 1 is a N(0, 1) prior on each coefficient (a
standardized feature moving the log-odds by more than 2 is implausible), whose
pull on the estimate is ``O(1/N)``. arena-rank's ``reg`` acts on the *mean*
log-likelihood, i.e. ``penalty = reg · N``: its default ``reg = 1`` on 200k
battles is a prior with sd 0.002 and shrinks a planted 0.35 to about 0.04.

Speed: rows with the same ``(a, b, z)`` (after orienting every battle so
``a < b``) are merged into sufficient statistics (win mass, battle mass and
the second moments the sandwich needs), then damped Newton steps use the full
``(m + k) x (m + k)`` information, built with ``bincount`` over pairs and
rows: a few passes over the rows per step. Intervals:

* ``"sandwich"`` (the default for style control, as LMArena): ``H^-1 M H^-1``
  with ``H`` the penalised information and ``M`` the sum of outer products of
  the per-battle scores (centred by the penalty's gradient, as arena-rank);
* ``"bootstrap"``: battles resampled with replacement (multinomial over the
  merged rows), each replicate refitted by chord steps from the point fit with
  the point fit's information held fixed; percentile intervals;
* ``"none"``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, ndtri

from rating import __version__, bt, graph
from rating.blas import single_threaded
from rating.errors import RatingError
from rating.snapshot import Result, plain_number
from rating.style_features import FEATURES
from rating.tiers import assign_tiers, rank_upper_bound

#: L2 penalty on the standardized style coefficients, on the summed log-likelihood.
DEFAULT_PENALTY = 1.0
CI_METHODS = ("sandwich", "bootstrap", "none")


@dataclass
class StyleBattles:
    """Battles with style features, one row per battle.

    Attributes
    ----------
    a, b : numpy.ndarray of int, shape (n,)
        Indices into ``models`` of the two sides.
    outcome : numpy.ndarray of float, shape (n,)
        1 when ``a`` won, 0 when ``b`` won, 0.5 for a tie.
    z : numpy.ndarray, shape (n, k)
        Raw relative style differences ``(a - b)/(a + b)`` (not yet standardized).
    weight : numpy.ndarray, shape (n,)
        Battle weights (1 = one vote).
    models : list of str
    features : tuple of str
    """

    a: np.ndarray
    b: np.ndarray
    outcome: np.ndarray
    z: np.ndarray
    weight: np.ndarray
    models: list
    features: tuple = FEATURES

    def __post_init__(self):
        self.a = np.asarray(self.a, np.int64)
        self.b = np.asarray(self.b, np.int64)
        self.outcome = np.asarray(self.outcome, float)
        self.z = np.asarray(self.z, float).reshape(self.a.size, -1)
        self.weight = (
            np.ones(self.a.size) if self.weight is None else np.asarray(self.weight, float)
        )
        n = self.a.size
        if not (self.b.size == self.outcome.size == self.weight.size == self.z.shape[0] == n):
            raise RatingError("style battles: a, b, outcome, z and weight differ in length")
        if self.z.shape[1] != len(self.features):
            raise RatingError(
                f"style battles: {self.z.shape[1]} feature columns for {len(self.features)} names"
            )
        if np.any(self.a == self.b):
            raise RatingError("style battles: a model cannot battle itself")
        if not np.all(np.isin(self.outcome, (0.0, 0.5, 1.0))):
            raise RatingError("style battles: outcome must be 1 (a won), 0 (b won) or 0.5 (tie)")
        if not np.all(np.isfinite(self.z)):
            raise RatingError("style battles: style features must be finite numbers")
        if np.any(self.weight < 0) or not np.all(np.isfinite(self.weight)):
            raise RatingError("style battles: weights must be finite and non-negative")

    def subset(self, rows) -> StyleBattles:
        """The battles at ``rows`` (a boolean mask or indices), same model list."""
        return StyleBattles(
            self.a[rows],
            self.b[rows],
            self.outcome[rows],
            self.z[rows],
            self.weight[rows],
            self.models,
            self.features,
        )


@dataclass
class Rows:
    """Merged rows: sufficient statistics of battles sharing ``(a, b, z)``, ``a < b``.

    When rows were merged they are sorted by pair, and per-pair sums are
    ``np.add.reduceat`` over contiguous blocks (``starts``); when nothing
    would merge, rows are the battles in input order and per-pair sums are
    ``bincount`` over ``pair``. ``win`` = sum of w·y, ``mass`` = sum of w,
    ``w2``, ``w2y``, ``w2y2`` = sums of w², w²y, w²y² (the sandwich's meat),
    ``count`` = battles. ``pa``, ``pb`` are the pairs' models; ``of_battle``
    maps each input battle to its row.
    """

    a: np.ndarray
    b: np.ndarray
    z: np.ndarray
    win: np.ndarray
    mass: np.ndarray
    w2: np.ndarray
    w2y: np.ndarray
    w2y2: np.ndarray
    count: np.ndarray
    starts: np.ndarray | None
    pa: np.ndarray
    pb: np.ndarray
    of_battle: np.ndarray
    m: int
    pair: np.ndarray | None = None

    def per_pair(self, values: np.ndarray) -> np.ndarray:
        """Sums of ``values`` (shape (rows,) or (rows, c)) over each pair's rows."""
        if self.starts is not None:  # rows sorted by pair
            return np.add.reduceat(values, self.starts, axis=0)
        q = self.pa.size
        if values.ndim == 1:
            return np.bincount(self.pair, values, q)
        return np.stack(
            [np.bincount(self.pair, values[:, c], q) for c in range(values.shape[1])], 1
        )

    def per_model(self, per_pair: np.ndarray) -> np.ndarray:
        """Per-pair values (``+`` for ``a``, ``-`` for ``b``) summed per model."""
        m = self.m
        if per_pair.ndim == 1:
            return np.bincount(self.pa, per_pair, m) - np.bincount(self.pb, per_pair, m)
        out = np.zeros((m, per_pair.shape[1]))
        np.add.at(out, self.pa, per_pair)
        np.subtract.at(out, self.pb, per_pair)
        return out

    def scatter(self, step: np.ndarray) -> np.ndarray:
        """``x_rowᵀ step`` for every row, with ``x = (e_a - e_b, z)``."""
        m = self.m
        return step[:m][self.a] - step[:m][self.b] + self.z @ step[m:]


def feature_scale(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means (reported only) and root mean squares (the scale) of ``z``."""
    if not z.shape[0]:
        return np.zeros(z.shape[1]), np.ones(z.shape[1])
    mean = z.mean(axis=0)
    sd = np.sqrt(np.einsum("ij,ij->j", z, z) / z.shape[0])
    return mean, np.where(sd > 0, sd, 1.0)


def standardize(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Columns of ``z`` divided by their root mean square over the battles.

    The columns are *not* centred, and the scale is the root mean square (the
    sd about 0), so both are unchanged when battles are listed the other way
    round: a battle listed the other way round
    (``a``/``b`` swapped, outcome flipped, ``z`` negated) must give the same
    fit, and subtracting a mean would add a constant side advantage
    ``-gamma·mean`` to every logit. (arena-rank centres and divides by the sd;
    on data whose sides are random the mean is ~0 and the two agree.) An
    all-zero column keeps scale 1.

    Returns
    -------
    z_std, mean, sd : the scaled columns, the column means (reported only) and sds.
    """
    mean, sd = feature_scale(z)
    return z / sd, mean, sd


def _group_rows(pair: np.ndarray, z: np.ndarray, q: int):
    """Order the battles by pair, then by a hash of ``z``; label runs of equal ``(pair, z)``.

    The sort key puts the pair in the high bits and a 64-bit hash of the
    feature bits in the low bits; rows that share a key are then checked for
    equal features, and an (astronomically unlikely) hash collision falls back
    to an exact lexicographic sort.

    Returns
    -------
    order : battles in row order; gid : row of each battle in that order;
    first : the position in that order of each row's first battle.
    """
    n = pair.size
    zz = np.ascontiguousarray(z + 0.0)  # -0.0 and 0.0 are one value
    shift = np.uint64(max(1, int(q).bit_length()))
    key = pair.astype(np.uint64) << (np.uint64(64) - shift)
    if zz.shape[1]:
        # A random projection of the features, its bits mixed: equal rows get equal
        # keys; unequal rows sharing a key are caught by the check below.
        proj = zz @ np.random.default_rng(0).uniform(1.0, 2.0, zz.shape[1])
        h = proj.view(np.uint64)
        with np.errstate(over="ignore"):
            h = (h ^ (h >> np.uint64(31))) * np.uint64(0x9E3779B97F4A7C15)
        key |= h >> shift
    order = np.argsort(key, kind="stable")
    ks = key[order]
    new = np.empty(n, bool)
    new[:1] = True
    np.not_equal(ks[1:], ks[:-1], out=new[1:])
    first = np.flatnonzero(new)
    if first.size == n:  # every row is unique
        return order, np.arange(n), first
    gid = np.cumsum(new) - 1
    if zz.shape[1]:
        zs = zz[order]
        if not np.array_equal(zs, zs[first][gid]):  # a hash collision
            order = np.lexsort(tuple(zz.T[::-1]) + (pair,))
            ps, zs = pair[order], zz[order]
            new[1:] = (ps[1:] != ps[:-1]) | np.any(zs[1:] != zs[:-1], axis=1)
            gid = np.cumsum(new) - 1
            first = np.flatnonzero(new)
    return order, gid, first


def _pair_ids(code: np.ndarray, m: int):
    """Unique pair codes ``a*m + b`` and each battle's index among them."""
    if m * m <= 1 << 24:  # a dense look-up table beats sorting
        seen = np.zeros(m * m, bool)
        seen[code] = True
        pid = np.flatnonzero(seen)
        lookup = np.zeros(m * m, np.int64)
        lookup[pid] = np.arange(pid.size)
        return pid, lookup[code]
    pid, inv = np.unique(code, return_inverse=True)
    return pid, inv.ravel()


def _worth_merging(pair: np.ndarray, z: np.ndarray, sample: int = 20000) -> bool:
    """True when a sample of the battles has repeated ``(pair, z)`` rows (>= 5 %)."""
    n = pair.size
    if n <= sample:
        return True
    idx = np.random.default_rng(0).choice(n, sample, replace=False)
    key = np.column_stack([pair[idx].astype(float), z[idx]]) + 0.0
    view = np.ascontiguousarray(key).view(np.dtype((np.void, key.itemsize * key.shape[1])))
    return np.unique(view).size < 0.95 * sample


def merge_rows(a, b, y, z, w, m: int, scale=None, merge: bool | None = None) -> Rows:
    """Orient every battle so ``a < b`` and merge identical ``(a, b, z)`` rows.

    Parameters
    ----------
    scale : numpy.ndarray, shape (k,), optional
        Divide the features by it (done in the same pass as the orientation).
    merge : bool, optional
        Merge identical rows (sorted by pair) or keep the battles as rows.
        Default: merge when a sample of the battles has repeated rows.
    """
    flip = a > b
    a2 = np.where(flip, b, a)
    b2 = np.where(flip, a, b)
    y2 = np.where(flip, 1.0 - y, y)
    sign = 1.0 - 2.0 * flip
    z2 = z * (sign[:, None] if scale is None else sign[:, None] / scale)
    pid, pair = _pair_ids(a2 * m + b2, m)
    if merge is None:
        merge = _worth_merging(pair, z2)
    unweighted = bool(np.all(w == 1.0))
    if not merge:
        mass = np.ones_like(y2) if unweighted else np.asarray(w, float)
        win = y2 if unweighted else w * y2
        if unweighted:
            w2, w2y, w2y2 = mass, win, y2 * y2
        else:
            w2, w2y = w * w, w * win
            w2y2 = w2y * y2
        return Rows(
            a2, b2, np.ascontiguousarray(z2), win, mass, w2, w2y, w2y2, np.ones_like(y2),
            None, pid // m, pid % m, np.arange(a.size), m, pair,
        )  # fmt: skip
    order, gid, first = _group_rows(pair, z2, pid.size)
    r = first.size
    if r == a.size:  # nothing merged: the sums are the battles themselves
        sums = lambda v: v[order]  # noqa: E731 (a one-line local helper)
    else:
        sums = lambda v: np.bincount(gid, v[order], r)  # noqa: E731 (a one-line local helper)
    src = order[first]
    of_battle = np.empty(a.size, np.int64)
    of_battle[order] = gid
    rp = pair[src]
    starts = np.flatnonzero(np.r_[True, rp[1:] != rp[:-1]])
    win, mass = sums(w * y2), sums(w)
    if unweighted:
        w2, w2y, w2y2, count = mass, win, sums(y2 * y2), mass
    else:
        ww = w * w
        w2, w2y, w2y2, count = sums(ww), sums(ww * y2), sums(ww * y2 * y2), sums(np.ones_like(w))
    return Rows(
        a2[src],
        b2[src],
        np.ascontiguousarray(z2[src]),
        win,
        mass,
        w2,
        w2y,
        w2y2,
        count,
        starts,
        pid // m,
        pid % m,
        of_battle,
        m,
        rp,
    )


def _logits(rows: Rows, x):
    m = rows.m
    return x[:m][rows.a] - x[:m][rows.b] + rows.z @ x[m:]


def _penalties(m, k, penalty, prior):
    return np.r_[np.full(m, float(prior)), np.full(k, float(penalty))]


def _gradient(rows, win, mass, x, pen, p):
    r = win - mass * p
    g_theta = rows.per_model(rows.per_pair(r))
    return np.concatenate([g_theta, rows.z.T @ r]) - pen * x


def information(rows: Rows, v: np.ndarray, pen=None) -> np.ndarray:
    """``sum_rows v · x xᵀ`` (+ ``diag(pen)``) with ``x = (e_a - e_b, z)``: (m+k, m+k)."""
    m, k = rows.m, rows.z.shape[1]
    buf = np.empty((v.size, k + 1))
    buf[:, 0] = v
    vz = buf[:, 1:]
    np.multiply(rows.z, v[:, None], out=vz)
    pp = rows.per_pair(buf)
    vq = pp[:, 0]
    h = np.zeros((m + k, m + k))
    hm = h[:m, :m]
    np.add.at(hm, (rows.pa, rows.pb), -vq)
    np.add.at(hm, (rows.pb, rows.pa), -vq)
    hm[np.diag_indices(m)] += np.bincount(rows.pa, vq, m) + np.bincount(rows.pb, vq, m)
    cross = rows.per_model(pp[:, 1:])
    h[:m, m:] = cross
    h[m:, :m] = cross.T
    h[m:, m:] = rows.z.T @ vz
    if pen is not None:
        h[np.diag_indices(m + k)] += pen
    return h


def fit_rows(rows: Rows, penalty, prior=0.0, x0=None, win=None, mass=None, tol=1e-9):
    """Damped Newton ascent of the penalised contextual BT likelihood on merged rows.

    Each step solves ``(H + F) δ = g`` (``F`` pins the common shift of theta)
    and halves the step until the objective does not fall; the logits of the
    accepted point are reused for the next gradient (one pass over the rows
    for the logits, one for the objective, one for gradient and information).

    Returns
    -------
    x : numpy.ndarray, shape (m + k,)
        Centred ``theta`` then ``gamma``.
    iterations : int
    grad_norm : float
    """
    m, k = rows.m, rows.z.shape[1]
    win = rows.win if win is None else win
    mass = rows.mass if mass is None else mass
    pen = _penalties(m, k, penalty, prior)
    x = np.zeros(m + k) if x0 is None else np.array(x0, float)
    x[:m] -= x[:m].mean()
    fixed = np.zeros((m + k, m + k))
    fixed[:m, :m] = 1.0

    def objective(x, d):
        return float(win @ d - mass @ np.logaddexp(0.0, d) - 0.5 * (pen * x) @ x)

    d = _logits(rows, x)
    ll = objective(x, d)
    it = 0
    for it in range(1, 101):
        p = expit(d)
        g = _gradient(rows, win, mass, x, pen, p)
        if np.linalg.norm(g) <= tol:
            it -= 1
            break
        step = np.linalg.solve(information(rows, mass * p * (1.0 - p), pen) + fixed, g)
        dstep = rows.scatter(step)
        t = 1.0
        while True:
            cand_d = d + t * dstep
            cand = x + t * step
            ll_new = objective(cand, cand_d)
            if ll_new >= ll - 1e-12 * max(1.0, abs(ll)) or t < 1e-8:
                break
            t *= 0.5
        x, d, ll = cand, cand_d, ll_new
        if np.max(np.abs(t * step)) < 1e-14:
            break
    x[:m] -= x[:m].mean()
    g = _gradient(rows, win, mass, x, pen, expit(_logits(rows, x)))
    return x, it, float(np.linalg.norm(g))


def sandwich(rows: Rows, x, penalty, prior, n_battles) -> np.ndarray:
    """Sandwich covariance ``H^-1 M H^-1`` of ``(theta, gamma)``, shape (m+k, m+k).

    ``M`` sums each battle's outer product of scores ``w (y - p) x``, from the
    rows' second moments, minus the penalty gradient's share
    ``(penalty·gamma)(penalty·gamma)ᵀ / n`` (the scores then sum to 0, as in
    arena-rank). The common shift of ``theta`` is pinned (sum 0).
    """
    m, k = rows.m, rows.z.shape[1]
    pen = _penalties(m, k, penalty, prior)
    p = expit(_logits(rows, x))
    bread = information(rows, rows.mass * p * (1.0 - p), pen)
    s2 = rows.w2y2 - 2.0 * p * rows.w2y + p * p * rows.w2
    meat = information(rows, s2)
    meat -= np.outer(pen * x, pen * x) / max(n_battles, 1.0)
    bread[:m, :m] += 1.0
    inv = np.linalg.inv(bread)
    return inv @ meat @ inv


def bootstrap(
    rows: Rows,
    x_hat,
    penalty,
    prior,
    *,
    rounds,
    seed,
    tol=1e-5,
    max_chord=30,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """``(theta, gamma)`` of ``rounds`` battle-resampling replicates, shape (rounds, m+k).

    Each round draws ``n`` battles with replacement (a multinomial over the
    merged rows, proportional to their battle counts), then takes chord steps
    ``H0^-1 g`` from the point fit with the point fit's information ``H0``
    fixed (the first step is linear in the draw: no logits needed). The chord
    method contracts the error by a factor ``rho`` per step (the relative
    difference between a replicate's information and ``H0``, a few percent),
    so a replicate stops when the error left, estimated as
    ``|step|·rho/(1 - rho)`` with ``rho`` the ratio of the last two steps, is
    below ``tol`` (1e-5 natural-log units = 0.002 rating points); a replicate
    still moving after ``max_chord`` steps is finished by Newton steps.
    """
    m = rows.m
    rng = np.random.default_rng(seed)
    n = int(np.rint(rows.count.sum()))
    unit = np.divide(rows.mass, rows.count, out=np.zeros_like(rows.mass), where=rows.count > 0)
    unit_win = np.divide(rows.win, rows.count, out=np.zeros_like(rows.win), where=rows.count > 0)
    battle_row = np.repeat(np.arange(rows.count.size), rows.count.astype(np.int64))
    pen = _penalties(m, rows.z.shape[1], penalty, prior)
    p0 = expit(_logits(rows, x_hat))
    h0 = information(rows, rows.mass * p0 * (1.0 - p0), pen)
    h0[:m, :m] += 1.0
    h0_inv = np.linalg.inv(h0)
    out = np.empty((rounds, x_hat.size))
    # At the point fit every row's score per battle is e = unit_win - unit·p0: the
    # first step of every replicate is linear in its battle counts.
    e0 = unit_win - unit * p0
    merged = rows.count.size < n
    for r in range(rounds):
        draw = rng.integers(0, n, n)
        times = np.bincount(battle_row[draw] if merged else draw, minlength=rows.count.size)
        mass, win = unit * times, unit_win * times
        te = times * e0
        g = np.concatenate([rows.per_model(rows.per_pair(te)), rows.z.T @ te]) - pen * x_hat
        step = h0_inv @ g
        x = x_hat + step
        last = float(np.abs(step).max())
        for _ in range(max_chord):
            step = h0_inv @ _gradient(rows, win, mass, x, pen, expit(_logits(rows, x)))
            size = float(np.abs(step).max())
            step /= max(1.0, size)
            x += step
            # the chord method contracts by about rho per step: what is left is
            # about size·rho/(1 - rho)
            rho = min(size / last, 0.5) if last > 0 else 0.0
            if size * rho / (1.0 - rho) < tol or size < 1e-12:
                break
            last = size
        else:
            x, _, _ = fit_rows(rows, penalty, prior, x0=x, win=win, mass=mass)
        x[:m] -= x[:m].mean()
        out[r] = x
        if progress is not None:
            progress(1)
    return out


def _needs_prior(rows: Rows) -> bool:
    """True when some model never won or never lost (plain BT's maximum is then infinite)."""
    m = rows.m
    w_ab = rows.per_pair(rows.win)
    w_ba = rows.per_pair(rows.mass) - w_ab
    won = np.bincount(rows.pa, w_ab, m) + np.bincount(rows.pb, w_ba, m)
    lost = np.bincount(rows.pa, w_ba, m) + np.bincount(rows.pb, w_ab, m)
    played = (won + lost) > 0
    if np.any(played & ((won <= 0) | (lost <= 0))):
        return True
    return not graph.mle_exists(rows.pa, rows.pb, w_ab, w_ba, m)


@dataclass
class StyleFit:
    """A point fit with its covariance or replicates (natural-log units, centred theta)."""

    theta: np.ndarray
    gamma: np.ndarray
    cov: np.ndarray | None
    replicates: np.ndarray | None
    iterations: int
    grad_norm: float
    prior: float
    mean: np.ndarray
    sd: np.ndarray


@single_threaded
def fit_style(
    battles: StyleBattles,
    *,
    penalty: float = DEFAULT_PENALTY,
    ci: str = "sandwich",
    rounds: int = 100,
    seed: int = 42,
    prior: float | None = None,
    progress=None,
) -> StyleFit:
    """Fit contextual Bradley-Terry to ``battles`` (every model in ``battles.models``).

    Parameters
    ----------
    battles : StyleBattles
    penalty : float
        L2 penalty on the standardized coefficients (summed log-likelihood units).
    ci : {"sandwich", "bootstrap", "none"}
    rounds, seed : bootstrap rounds and seed.
    prior : float, optional
        Ridge prior on ``theta`` (default: none, or :data:`rating.bt.DEFAULT_PRIOR`
        when a model never won or never lost).
    """
    if ci not in CI_METHODS:
        raise RatingError(f"unknown interval method {ci!r}: use one of {', '.join(CI_METHODS)}")
    if penalty < 0:
        raise RatingError("the style penalty must be >= 0")
    m = len(battles.models)
    mean, sd = feature_scale(battles.z)
    rows = merge_rows(battles.a, battles.b, battles.outcome, battles.z, battles.weight, m, sd)
    if prior is None:
        prior = bt.DEFAULT_PRIOR if _needs_prior(rows) else 0.0
    # Start from plain Bradley-Terry on the rows' pair sums (cheap: pairs, not rows).
    w_ab = rows.per_pair(rows.win)
    start = bt.fit(rows.pa, rows.pb, w_ab, rows.per_pair(rows.mass), m, prior=prior).theta
    x, it, gnorm = fit_rows(rows, penalty, prior, x0=np.r_[start, np.zeros(rows.z.shape[1])])
    cov = reps = None
    if ci == "sandwich":
        cov = sandwich(rows, x, penalty, prior, float(battles.a.size))
    elif ci == "bootstrap" and rounds > 0:
        reps = bootstrap(rows, x, penalty, prior, rounds=rounds, seed=seed, progress=progress)
    return StyleFit(x[:m], x[m:], cov, reps, it, gnorm, prior, mean, sd)


def _position(rating: np.ndarray) -> np.ndarray:
    """1 + the number of models rated strictly higher."""
    s = np.sort(rating)
    return 1 + rating.size - np.searchsorted(s, rating, side="right")


@single_threaded
def rate_style(
    battles: StyleBattles,
    *,
    ci: str = "sandwich",
    rounds: int = 100,
    seed: int = 42,
    confidence: float = 0.95,
    penalty: float = DEFAULT_PENALTY,
    anchor: tuple[str, float] | None = None,
    min_battles: float = 0,
    prior: float | None = None,
    scope: dict | None = None,
    progress=None,
) -> Result:
    """Style-controlled ratings of one scope, as a :class:`rating.snapshot.Result`.

    Ratings, intervals, rank (UB) and tiers are those of the style-controlled
    strengths; ``meta["style"]`` holds the coefficients with their intervals
    (per standardized feature), the standardization, the penalty, and per model
    the rating and position under plain BT on the same battles and weights, and
    the change in position (``+2``: two places higher with style control).
    Models with fewer than ``min_battles`` battles are left out (and their
    battles with them); the comparison graph must be connected.
    """
    if not 0 < confidence < 1:
        raise RatingError("confidence must be between 0 and 1")
    if ci == "bootstrap" and rounds <= 0:
        ci = "none"
    sub, few = _rated_battles(battles, min_battles)
    models, m = sub.models, len(sub.models)
    if anchor is not None and anchor[0] not in models:
        raise RatingError(f"anchor model {anchor[0]!r} is not among the rated models")
    fit = fit_style(
        sub, penalty=penalty, ci=ci, rounds=rounds, seed=seed, prior=prior, progress=progress
    )
    a_idx = None if anchor is None else models.index(anchor[0])
    rating = bt.to_rating(fit.theta)
    plain_rating = bt.to_rating(_plain_bt(sub, m, fit.prior))
    if a_idx is not None:
        rating += anchor[1] - rating[a_idx]
        plain_rating += anchor[1] - plain_rating[a_idx]
    low, high, reps, g_bounds = _bounds(fit, rating, a_idx, anchor, confidence)
    meta = {
        "method": "bt",
        "style_control": True,
        "ci": ci,
        "confidence": confidence,
        "bootstrap_rounds": rounds if ci == "bootstrap" else 0,
        "seed": seed if ci == "bootstrap" else None,
        "anchor": None if anchor is None else {"model": anchor[0], "rating": anchor[1]},
        "scope": scope or {"category": "", "source": "", "rater_group": ""},
        "digest": _digest(sub),
        "battles": plain_number(round(float(sub.weight.sum()), 6)),
        "battle_rows": int(sub.a.size),
        "positional": False,
        "min_battles": min_battles,
        "models_rated": m,
        "excluded": {
            "count": len(few),
            "models": few,
            "reason": f"fewer than {min_battles} battles",
        },
        "rating_scale": "1000 + 400*log10(strength)",
        "package_version": __version__,
        "prior": fit.prior,
        "iterations": fit.iterations,
        "grad_norm": fit.grad_norm,
        "style": _style_meta(sub, fit, penalty, g_bounds, rating, plain_rating),
    }
    wins, losses, ties = _tallies(sub, m)
    order = np.lexsort((np.array(models, dtype=object).astype(str), -rating))
    rank, tier = rank_upper_bound(low, high), assign_tiers(rating, low, high)
    pick = [rating, low, high, rank, tier, wins + losses + ties, wins, losses, ties]
    return Result(
        "bt",
        [models[k] for k in order],
        *(v[order] for v in pick),
        meta,
        None if reps is None else reps[:, order],
        None,
    )


def _rated_battles(battles: StyleBattles, min_battles: float):
    """The battles among models with at least ``min_battles`` (re-indexed), and the
    names of the models left out; refuses a disconnected comparison graph."""
    all_models = list(battles.models)
    n_all = len(all_models)
    played = np.bincount(battles.a, battles.weight, n_all) + np.bincount(
        battles.b, battles.weight, n_all
    )
    keep = (played > 0) & (played >= min_battles)
    few = [all_models[k] for k in np.flatnonzero((played > 0) & ~keep)]
    sel = keep[battles.a] & keep[battles.b]
    new = np.cumsum(keep) - 1
    models = [all_models[k] for k in np.flatnonzero(keep)]
    if not models or not sel.any():
        raise RatingError("no battles to rate")
    sub = StyleBattles(
        new[battles.a[sel]],
        new[battles.b[sel]],
        battles.outcome[sel],
        battles.z[sel],
        battles.weight[sel],
        models,
        battles.features,
    )
    comp = graph.components(sub.a, sub.b, len(models))
    if comp.max() > 0:
        groups = [[models[k] for k in np.flatnonzero(comp == c)] for c in range(comp.max() + 1)]
        raise RatingError(
            f"the comparison graph is not connected ({len(groups)} components); style control "
            "needs one: " + "; ".join(", ".join(g[:5]) for g in groups[:4])
        )
    return sub, few


def _bounds(fit: StyleFit, rating, a_idx, anchor, confidence):
    """Rating bounds, rating replicates (bootstrap) and the coefficients' (low, high, se)."""
    m = rating.size
    if fit.cov is not None:
        zq = ndtri(0.5 + confidence / 2.0)
        cov_r = fit.cov[:m, :m] * bt.POINTS_PER_LOG_UNIT**2
        var = np.diag(cov_r).copy()
        if a_idx is not None:
            var = var + cov_r[a_idx, a_idx] - 2.0 * cov_r[:, a_idx]
        se = np.sqrt(np.maximum(var, 0.0))
        g_se = np.sqrt(np.maximum(np.diag(fit.cov)[m:], 0.0))
        g = (fit.gamma - zq * g_se, fit.gamma + zq * g_se, g_se)
        return rating - zq * se, rating + zq * se, None, g
    if fit.replicates is not None:
        reps = bt.to_rating(fit.replicates[:, :m])
        if a_idx is not None:
            reps += (anchor[1] - reps[:, a_idx])[:, None]
        else:
            reps += rating.mean() - reps.mean(axis=1, keepdims=True)
        a = (1.0 - confidence) / 2.0
        low, high = np.quantile(reps, [a, 1 - a], axis=0)
        g_low, g_high = np.quantile(fit.replicates[:, m:], [a, 1 - a], axis=0)
        return low, high, reps, (g_low, g_high, fit.replicates[:, m:].std(axis=0, ddof=1))
    return rating.copy(), rating.copy(), None, (None, None, None)


def _style_meta(sub: StyleBattles, fit: StyleFit, penalty, g_bounds, rating, plain_rating):
    """``meta["style"]``: coefficients with intervals, the scaling, and plain BT per model."""
    g_low, g_high, g_se = g_bounds
    pos, plain_pos = _position(rating), _position(plain_rating)
    opt = lambda v, c: None if v is None else float(v[c])  # noqa: E731 (a one-line local helper)
    return {
        "features": list(sub.features),
        "penalty": penalty,
        "coefficients": {
            name: {
                "gamma": float(fit.gamma[c]),
                "ci_low": opt(g_low, c),
                "ci_high": opt(g_high, c),
                "se": opt(g_se, c),
            }
            for c, name in enumerate(sub.features)
        },
        "units": "log-odds per root mean square of (a - b)/(a + b)",
        "standardization": {
            "mean": [float(v) for v in fit.mean],
            "sd": [float(v) for v in fit.sd],
        },
        "plain_bt": {
            name: {
                "rating": float(plain_rating[k]),
                "position": int(plain_pos[k]),
                "style_position": int(pos[k]),
                "rank_change": int(plain_pos[k] - pos[k]),
            }
            for k, name in enumerate(sub.models)
        },
    }


def _digest(s: StyleBattles) -> str:
    """A short hash of the battles rated (models, outcomes, features, weights)."""
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    h.update("\x00".join(s.models).encode())
    for arr in (s.a, s.b, s.outcome, s.z, s.weight):
        h.update(np.ascontiguousarray(arr).tobytes())
    return "battles-blake2b:" + h.hexdigest()


def _plain_bt(s: StyleBattles, m: int, prior: float) -> np.ndarray:
    """Plain Bradley-Terry strengths of the same battles and weights (pair counts)."""
    lo, hi = np.minimum(s.a, s.b), np.maximum(s.a, s.b)
    pid, pair = _pair_ids(lo * m + hi, m)
    y_lo = np.where(s.a == lo, s.outcome, 1.0 - s.outcome)
    w = np.bincount(pair, s.weight * y_lo, pid.size)
    n = np.bincount(pair, s.weight, pid.size)
    return bt.fit(pid // m, pid % m, w, n, m, prior=prior).theta


def _tallies(s: StyleBattles, m: int):
    w = s.weight
    a_won = w * (s.outcome == 1.0)
    b_won = w * (s.outcome == 0.0)
    tie = w * (s.outcome == 0.5)
    wins = np.bincount(s.a, a_won, m) + np.bincount(s.b, b_won, m)
    losses = np.bincount(s.a, b_won, m) + np.bincount(s.b, a_won, m)
    ties = np.bincount(s.a, tie, m) + np.bincount(s.b, tie, m)
    return wins, losses, ties
