"""How many votes each adjacent rank rests on.

For two models adjacent in the table, ``u`` above ``l`` with a gap
``theta_u - theta_l > 0``, removing one battle moves the fitted parameters
by about ``-H^-1 s_b`` (the influence function: ``H`` the information of the
fit, ``s_b = w_b (y_b - p_b) x_b`` the battle's score, ``x_b = (e_a - e_b,
z_b)``), so the gap by about ``-c^T s_b`` with ``c = H^-1 (e_u - e_l)``. The
battles that shrink the gap most are ``u``'s wins and ``l``'s losses against
the models that weigh most on the contrast; removing them in that order, the
first-order estimate of the smallest number of votes whose removal swaps the
pair is the shortest prefix whose summed effect exceeds the gap (Broderick,
Giordano and Meager's "approximate maximum influence perturbation"). The
estimate is checked by an exact refit without those votes for the top of the
table: when the refit does not yet swap the pair, more votes of the same
order are removed until it does; when it does, fewer are tried (bisection,
a few refits) down to the fewest in that order that still swap it. The
verified count is an exact upper bound of the true minimum (these votes do
swap the pair); the first-order estimate is a guide that can err either way,
since removing votes also changes the information.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.special import expit

from rating import style_fit, style_rows
from rating.errors import RatingError

DEFAULT_VERIFY_TOP = 10


def _rows_with_outcome(battles: style_rows.StyleBattles, z: np.ndarray):
    # Merge on (a, b, z, y): every battle of a row then has the same score.
    m = len(battles.models)
    zy = np.column_stack([z, battles.outcome])
    flip = battles.a > battles.b
    # merge_rows negates z of flipped battles; the outcome column must flip as 1 - y
    zy[flip, -1] = battles.outcome[flip] - 1.0  # becomes 1 - y after negation
    return style_rows.merge_rows(battles.a, battles.b, battles.outcome, zy, battles.weight, m)


def votes_to_swap(
    battles: style_rows.StyleBattles,
    models_in_order: list,
    *,
    penalty: float = 0.0,
    style_control: bool = False,
    verify_top: int = DEFAULT_VERIFY_TOP,
    prior: float | None = None,
) -> list[dict]:
    """For each adjacent pair of the table, the votes whose removal would swap it.

    Parameters
    ----------
    battles : StyleBattles
        The battles rated (``z`` ignored unless ``style_control``).
    models_in_order : list of str
        The table's models, best first (each must be in ``battles.models``).
    penalty : float
        The style penalty used by the fit.
    style_control : bool
        Fit with the style features (as :func:`rating.style.rate_style`) or
        plain Bradley-Terry.
    verify_top : int
        Verify this many adjacent pairs from the top by exact refits.

    Returns
    -------
    list of dict
        One per adjacent pair, top first: ``upper``, ``lower``, ``gap`` (rating
        points), ``estimate`` (votes, first order; ``None`` if removing every
        vote that helps the upper one is not enough), and for verified pairs
        ``verified`` = ``{"votes", "swapped", "gap_after", "minimal"}``: the votes
        removed in the refit, whether that swapped the pair, the gap then, and
        whether ``votes - 1`` in the same order was checked not to swap it.
    """
    from rating import bt

    index = {name: k for k, name in enumerate(battles.models)}
    try:
        order = [index[name] for name in models_in_order]
    except KeyError as exc:
        raise RatingError(f"model {exc.args[0]!r} is not among the battles") from None
    fit_battles = _for_fit(battles, style_control)
    model = _Influence(fit_battles, penalty, prior)
    out = []
    for pos in range(len(order) - 1):
        u, l = order[pos], order[pos + 1]
        gap, effect = model.effects(u, l)
        entry = {
            "upper": models_in_order[pos],
            "lower": models_in_order[pos + 1],
            "gap": float(gap * bt.POINTS_PER_LOG_UNIT),
            "estimate": _smallest_prefix(effect, model.rows.count, gap),
        }
        if pos < verify_top:
            entry["verified"] = _verify(
                fit_battles, model.rows, effect, entry["estimate"], u, l, penalty, model.prior
            )
        out.append(entry)
    return out


def _for_fit(battles: style_rows.StyleBattles, style_control: bool) -> style_rows.StyleBattles:
    if style_control:
        return battles
    return style_rows.StyleBattles(
        battles.a,
        battles.b,
        battles.outcome,
        np.zeros((battles.a.size, 0)),
        battles.weight,
        battles.models,
        (),
    )


class _Influence:
    """The fit, its inverse information and each merged row's per-battle score."""

    def __init__(self, battles: style_rows.StyleBattles, penalty: float, prior):
        m = len(battles.models)
        k = battles.z.shape[1]
        fit = style_fit.fit_style(battles, penalty=penalty, ci="none", prior=prior)
        self.x = np.r_[fit.theta, fit.gamma]
        self.prior = fit.prior
        z, _, _ = style_rows.standardize(battles.z)
        rows = _rows_with_outcome(battles, z)
        self.rows = rows
        self.zr = np.ascontiguousarray(rows.z[:, :k])
        y = rows.z[:, k]  # the outcome of every battle of the row, oriented a < b
        sub = dataclasses.replace(rows, z=self.zr)
        p = expit(style_fit.logits(sub, self.x))
        pen = style_fit.penalties(m, k, penalty, self.prior)
        h = style_fit.information(sub, sub.mass * p * (1.0 - p), pen)
        h[:m, :m] += 1.0
        self.h_inv = np.linalg.inv(h)
        self.score = sub.mass / sub.count * (y - p)  # one battle's score, times x_row
        self.m = m

    def effects(self, u: int, l: int):
        """The gap ``theta_u - theta_l`` and, per row, how much removing one of its
        battles lowers it (first order)."""
        m, rows = self.m, self.rows
        c = self.h_inv[:, u] - self.h_inv[:, l]
        effect = self.score * (c[rows.a] - c[rows.b] + self.zr @ c[m:])
        return float(self.x[u] - self.x[l]), effect


def gap_effects(battles: style_rows.StyleBattles, u: int, l: int, *, penalty=0.0, prior=None):
    """Merged rows (on ``(a, b, z, outcome)``) and the first-order effect on the
    gap of ``u`` over ``l`` of removing one battle of each row.

    ``battles`` is fitted with its features (pass no feature columns for plain
    Bradley-Terry).
    """
    model = _Influence(battles, penalty, prior)
    return model.rows, model.effects(u, l)[1]


def _smallest_prefix(effect, count, gap):
    """Fewest battles, taken from the rows that raise the gap most (the gap
    falls when they are removed), whose summed first-order effect reaches the gap."""
    if gap <= 0:
        return 0
    helps = effect > 0  # removing such a battle lowers the gap by `effect`
    if not helps.any():
        return None
    idx = np.flatnonzero(helps)
    idx = idx[np.argsort(-effect[idx], kind="stable")]
    total = np.cumsum(effect[idx] * count[idx])
    r = int(np.searchsorted(total, gap))
    if r >= idx.size:
        return None
    before = total[r - 1] if r > 0 else 0.0
    need = int(np.ceil((gap - before) / effect[idx[r]] - 1e-9))
    return int(count[idx[:r]].sum()) + max(need, 1)


def removal_order(effect, count):
    """Battle rows in the order their battles are removed, with their counts."""
    idx = np.flatnonzero(effect > 0)
    idx = idx[np.argsort(-effect[idx], kind="stable")]
    return idx, count[idx].astype(np.int64)


def _drop_mask(battles, rows, effect, votes):
    """Mask of battles kept when the first ``votes`` battles in removal order go."""
    idx, cnt = removal_order(effect, rows.count)
    keep = np.ones(battles.a.size, bool)
    left = votes
    # battles of each row, in input order
    by_row = np.argsort(rows.of_battle, kind="stable")
    starts = np.r_[0, np.cumsum(np.bincount(rows.of_battle, minlength=rows.count.size))]
    for r_idx, c in zip(idx, cnt):
        if left <= 0:
            break
        take = min(int(c), left)
        keep[by_row[starts[r_idx] : starts[r_idx] + take]] = False
        left -= take
    return keep


def _verify(battles, rows, effect, estimate, u, l, penalty, prior, max_tries=12, search=6):
    """Refit without the first ``estimate`` votes in removal order; if that does not
    swap the pair, remove ~10 % more at a time until it does; if it does, bisect down
    (at most ``search`` refits) for the fewest votes in that order that still swap it."""
    from rating import bt

    if estimate is None:
        return None
    total = int(rows.count[effect > 0].sum())

    def gap_without(votes):
        keep = _drop_mask(battles, rows, effect, votes)
        fit = style_fit.fit_style(battles.subset(keep), penalty=penalty, ci="none", prior=prior)
        return float(fit.theta[u] - fit.theta[l])

    votes = max(int(estimate), 1)
    gap = gap_without(votes)
    tries = 1
    while gap >= 0 and votes < total and tries < max_tries:
        votes = min(total, int(np.ceil(votes * 1.1)) + 1)
        gap = gap_without(votes)
        tries += 1
    if gap >= 0:
        return {
            "votes": votes,
            "swapped": False,
            "gap_after": gap * bt.POINTS_PER_LOG_UNIT,
            "minimal": False,
        }
    lo, hi, best = 0, votes, gap  # hi swaps; find the fewest that do, in this order
    for _ in range(search):
        if hi - lo <= 1:
            break
        mid = (lo + hi) // 2
        g = gap_without(mid)
        if g < 0:
            hi, best = mid, g
        else:
            lo = mid
    return {
        "votes": hi,
        "swapped": True,
        "gap_after": best * bt.POINTS_PER_LOG_UNIT,
        "minimal": hi - lo <= 1,
    }
