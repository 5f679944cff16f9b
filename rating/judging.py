"""Judge verdicts and the statistics of how trustworthy a judge is (pure NumPy).

Both the judge job (:mod:`workers.judge`, which turns two verdicts into a vote)
and the report (:mod:`arena.judge_report`, which reads the store) use these;
nothing here reads a file or a database.

Outcomes are coded independently of the side shown: 0 the pair's model with the
lower id won, 1 the other, 2 a tie (``both_bad`` counts as a tie). Intervals are
percentile bootstraps over *prompts*: whole prompts are drawn with replacement,
so votes on the same prompt stay together.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

TIE = 2
N_OUTCOMES = 3


# --- verdicts ------------------------------------------------------------------------------


def side_of(order: str, verdict: str) -> str:
    """A verdict on the order shown (``first``/``second``/``tie``) as a side of the battle.

    Order ``ab`` showed the battle's left answer first; ``ba`` the right one.
    """
    if verdict == "tie":
        return "tie"
    return "left" if (verdict == "first") == (order == "ab") else "right"


def combine(ab: str | None, ba: str | None, on_disagreement: str) -> str | None:
    """The battle's choice (``left``/``right``/``tie``) from the two orders' verdicts.

    None (no vote) when an order has no verdict, or when they disagree and
    ``on_disagreement`` is ``"none"`` (``"tie"`` makes them a tie).
    """
    if ab is None or ba is None:
        return None
    a, b = side_of("ab", ab), side_of("ba", ba)
    if a == b:
        return a
    return "tie" if on_disagreement == "tie" else None


def combine_scores(left: float | None, right: float | None) -> str | None:
    """The choice from two absolute grades (the left answer's and the right one's)."""
    if left is None or right is None:
        return None
    return "left" if left > right else "right" if right > left else "tie"


def in_family(family: str | None, *families: str | None) -> bool:
    """Whether one of ``families`` is ``family``, ignoring case and surrounding spaces.

    An empty ``family`` is no family: nothing is in it.
    """
    family = (family or "").strip().casefold()
    return bool(family) and family in {(f or "").strip().casefold() for f in families}


def outcome(choice: str, left_id: int, right_id: int) -> int:
    """A vote's choice as an outcome code (0: lower id won, 1: higher id won, 2: tie)."""
    if choice in ("tie", "both_bad"):
        return TIE
    winner = left_id if choice == "left" else right_id
    return 0 if winner == min(left_id, right_id) else 1


# --- plain statistics ----------------------------------------------------------------------


def ratio(k: float, n: float) -> float | None:
    """``k / n``, or None when ``n`` is 0."""
    return float(k) / float(n) if n else None


def accuracy(x: np.ndarray, y: np.ndarray) -> float | None:
    """The share of positions where two label arrays agree (None when empty)."""
    x, y = np.asarray(x), np.asarray(y)
    return float(np.mean(x == y)) if x.size else None


def cohen_kappa(x: np.ndarray, y: np.ndarray, n_labels: int) -> float | None:
    """Cohen's kappa of two raters' integer labels in ``0..n_labels-1``.

    ``(p_o - p_e) / (1 - p_e)`` with ``p_o`` the observed agreement and ``p_e``
    the agreement expected from the raters' label frequencies. None when empty
    or when ``p_e`` is 1 (both raters always give the same label).
    """
    x, y = np.asarray(x, dtype=int), np.asarray(y, dtype=int)
    if x.size == 0:
        return None
    po = np.mean(x == y)
    px = np.bincount(x, minlength=n_labels) / x.size
    py = np.bincount(y, minlength=n_labels) / y.size
    pe = float(px @ py)
    if np.isclose(pe, 1.0):
        return None
    return float((po - pe) / (1.0 - pe))


def majority(labels: np.ndarray, n_labels: int = N_OUTCOMES, tie_label: int = TIE) -> int:
    """The most frequent label; ``tie_label`` when two or more labels share the top count."""
    counts = np.bincount(np.asarray(labels, dtype=int), minlength=n_labels)
    top = np.flatnonzero(counts == counts.max())
    return int(top[0]) if top.size == 1 else int(tie_label)


def choice_rates(choices: list[str]) -> tuple[float | None, float | None]:
    """The tie rate (``both_bad`` counts as a tie) and, of the votes naming a winner, the
    left-win rate; None where there is nothing to divide by."""
    left, right = choices.count("left"), choices.count("right")
    return (
        ratio(sum(c in ("tie", "both_bad") for c in choices), len(choices)),
        ratio(left, left + right),
    )


def calibration_bins(confidence: np.ndarray, agree: np.ndarray, max_bins: int = 5) -> list[dict]:
    """Agreement by confidence.

    With at most ``max_bins`` distinct confidence values each value is a bin;
    otherwise the bins are quantile ranges. Each bin: ``low``, ``high``, ``n``
    and ``agreement`` (the mean of ``agree`` in it).
    """
    c = np.asarray(confidence, dtype=float)
    a = np.asarray(agree, dtype=float)
    keep = ~np.isnan(c)
    c, a = c[keep], a[keep]
    if c.size == 0:
        return []
    values = np.unique(c)
    if values.size <= max_bins:
        edges = None
        index = np.searchsorted(values, c)
        spans = [(float(v), float(v)) for v in values]
    else:
        edges = np.unique(np.quantile(c, np.linspace(0, 1, max_bins + 1)))
        index = np.clip(np.searchsorted(edges, c, side="right") - 1, 0, edges.size - 2)
        spans = [(float(edges[i]), float(edges[i + 1])) for i in range(edges.size - 1)]
    out = []
    for i, (low, high) in enumerate(spans):
        sel = index == i
        if sel.any():
            out.append(
                {"low": low, "high": high, "n": int(sel.sum()), "agreement": float(a[sel].mean())}
            )
    return out


# --- bootstrap over prompts ----------------------------------------------------------------


def bootstrap_over_prompts(
    prompts: np.ndarray,
    statistic: Callable[[np.ndarray], float | None],
    *,
    rounds: int,
    seed: int,
    confidence: float = 0.95,
) -> dict:
    """``statistic`` on every row, with a percentile interval from resampling prompts.

    Parameters
    ----------
    prompts : array of int
        The prompt of each row.
    statistic : callable
        Takes an array of row indices (repeats allowed) and returns a number or None.
    rounds, seed, confidence
        Bootstrap replicates, their random seed, and the interval's coverage.

    Returns
    -------
    dict
        ``value``, ``low``, ``high`` (None where undefined), ``n`` rows and ``prompts``.
    """
    prompts = np.asarray(prompts)
    rows = np.arange(prompts.size)
    value = statistic(rows) if rows.size else None
    out = {"value": value, "low": None, "high": None, "n": int(rows.size)}
    keys, inverse = np.unique(prompts, return_inverse=True)
    out["prompts"] = int(keys.size)
    if value is None or keys.size < 2 or rounds < 1:
        return out
    members = [rows[inverse == k] for k in range(keys.size)]
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(rounds):
        picked = rng.integers(0, keys.size, keys.size)
        v = statistic(np.concatenate([members[k] for k in picked]))
        if v is not None:
            draws.append(v)
    if draws:
        alpha = (1.0 - confidence) / 2.0
        out["low"], out["high"] = (float(q) for q in np.quantile(draws, [alpha, 1.0 - alpha]))
    return out


def leave_one_out_agreement(items: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """For each vote, whether it agrees with the majority of the OTHER votes on its item.

    NaN for a vote that is alone on its item. This is the human-human baseline:
    how often one human agrees with the majority of the others.
    """
    items, labels = np.asarray(items), np.asarray(labels, dtype=int)
    out = np.full(items.size, np.nan)
    keys, inverse = np.unique(items, return_inverse=True)
    for k in range(keys.size):
        idx = np.flatnonzero(inverse == k)
        if idx.size < 2:
            continue
        counts = np.bincount(labels[idx], minlength=N_OUTCOMES)
        for i in idx:
            others = counts.copy()
            others[labels[i]] -= 1
            top = np.flatnonzero(others == others.max())
            ref = int(top[0]) if top.size == 1 else TIE
            out[i] = float(labels[i] == ref)
    return out


def win_share(outcomes: np.ndarray, of: np.ndarray) -> float | None:
    """The share of votes won by the side ``of`` (0 or 1 per vote), ties counting a half."""
    o, side = np.asarray(outcomes, dtype=int), np.asarray(of, dtype=int)
    if o.size == 0:
        return None
    return float(np.mean(np.where(o == TIE, 0.5, (o == side).astype(float))))


def position_consistency(keys: np.ndarray, left_first: np.ndarray, outcomes: np.ndarray) -> dict:
    """How often a judge names the same outcome when the same item is shown both ways.

    ``keys`` identify an item (prompt and pair), ``left_first`` whether the
    pair's lower-id model was shown left, ``outcomes`` the outcome codes. Items
    shown only one way do not count. Each item shown both ways contributes the
    share of (one way, other way) vote pairs that agree.
    """
    keys, lf, o = np.asarray(keys), np.asarray(left_first, dtype=bool), np.asarray(outcomes)
    shares = []
    uniq, inverse = np.unique(keys, return_inverse=True)
    for k in range(uniq.size):
        idx = np.flatnonzero(inverse == k)
        one, two = o[idx[lf[idx]]], o[idx[~lf[idx]]]
        if one.size and two.size:
            shares.append(float(np.mean(one[:, None] == two[None, :])))
    return {"items": len(shares), "value": float(np.mean(shares)) if shares else None}


def davidson_left_advantage(left: np.ndarray, right: np.ndarray, choices: list[str]) -> dict:
    """The left advantage of Davidson's model fitted to one judge's votes.

    ``left``/``right`` are model ids as shown (only the models that appear are
    fitted), ``choices`` the votes' choices (``left``, ``right``, ``tie``,
    ``both_bad``). Returns ``value`` (in rating points), its 95% sandwich
    interval ``low``/``high``, and
    ``left_win_probability_equal`` (how often the left one of two equal models
    wins); or ``error`` when the model has no finite fit on these votes.
    """
    from rating.counts import pair_counts
    from rating.errors import RatingError
    from rating.fits import fit_davidson_scope

    codes = {"left": 0, "right": 1, "tie": 2, "both_bad": 3}
    counts = np.zeros((len(choices), 4))
    counts[np.arange(len(choices)), [codes[c] for c in choices]] = 1.0
    if not len(choices):
        return {"value": None, "low": None, "high": None, "error": "no votes"}
    # only the models that appear: an absent model would have no finite strength
    used, codes_lr = np.unique(np.r_[left, right], return_inverse=True)
    left, right = codes_lr[: len(left)], codes_lr[len(left) :]
    pairs = pair_counts(left, right, counts, tuple(str(k) for k in used))
    try:
        fit = fit_davidson_scope(
            pairs,
            ci="sandwich",
            rounds=0,
            seed=0,
            confidence=0.95,
            prior=None,
            left_advantage=True,
            progress=None,
        )
    except RatingError as exc:
        return {"value": None, "low": None, "high": None, "error": str(exc)}
    p = fit.meta["parameters"]
    low, high = p.get("left_advantage_ci", (None, None))
    return {
        "value": float(p["left_advantage"]),
        "low": low,
        "high": high,
        "left_win_probability_equal": p["left_win_probability_equal"],
    }
