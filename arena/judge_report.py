"""How trustworthy is a judge? Position consistency, ties, parse failures, agreement.

:func:`report` reads the judge's calls (``judge_calls``) and votes (source
``judge:NAME``) and compares its votes with human votes:

``position_consistency``  battles judged in both orders whose two verdicts
                          name the same winner (or both a tie), of those with
                          both verdicts
``tie_rate``              stored votes that are ties (``both_bad`` counts as a tie)
``parse_failure_rate``    calls with a reply that did not parse, of calls with a reply
``first_position_win_rate``  of the calls that named a winner, how often it was
                          the answer shown first (0.5 = no position bias)
``left_win_rate``         of the stored votes naming a winner, how often the left one
``agreement``             the judge's vote against the human majority on the
                          same prompt and model pair when humans voted on it,
                          else against the human majority on the model pair
                          over all prompts: accuracy and Cohen's kappa over the
                          outcomes {first model of the pair, second, tie}
``calibration``           that agreement by the judge's confidence (JudgeLM's
                          score gap, averaged over both orders)

Imported judge votes (``arena import llmfao``: GPT-4 as ``judge:gpt-4``) have
no calls; their call-based rates are None and the rest is computed the same
way. The statistics are plain NumPy functions, tested on their own.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from arena.models import Battle, JudgeCall, Model, Vote

OUTCOMES = ("a", "b", "tie")  # a/b: the pair's model with the lower/higher id won


# --- statistics (pure NumPy) ---------------------------------------------------


def ratio(k: float, n: float) -> float | None:
    """``k / n``, or None when ``n`` is 0."""
    return float(k) / float(n) if n else None


def accuracy(x: np.ndarray, y: np.ndarray) -> float | None:
    """The share of positions where two label arrays agree (None when empty)."""
    x, y = np.asarray(x), np.asarray(y)
    return float(np.mean(x == y)) if x.size else None


def cohen_kappa(x: np.ndarray, y: np.ndarray, n_labels: int) -> float | None:
    """Cohen's kappa of two raters' integer labels in ``0..n_labels-1``.

    ``(p_o - p_e) / (1 - p_e)`` with ``p_o`` the observed agreement and
    ``p_e`` the agreement expected from the raters' label frequencies. None
    when empty or when ``p_e`` is 1 (both raters always give the same label).
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


def majority(labels: np.ndarray, n_labels: int, tie_label: int) -> int:
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
    otherwise the bins are quantile ranges. Each bin: ``low``, ``high``,
    ``n`` and ``agreement`` (the mean of ``agree`` in it).
    """
    c = np.asarray(confidence, dtype=float)
    a = np.asarray(agree, dtype=float)
    keep = ~np.isnan(c)
    c, a = c[keep], a[keep]
    if c.size == 0:
        return []
    values = np.unique(c)
    if values.size <= max_bins:
        return [
            {
                "low": float(v),
                "high": float(v),
                "n": int(np.sum(c == v)),
                "agreement": float(np.mean(a[c == v])),
            }
            for v in values
        ]
    edges = np.unique(np.quantile(c, np.linspace(0, 1, max_bins + 1)))
    index = np.clip(np.searchsorted(edges, c, side="right") - 1, 0, edges.size - 2)
    out = []
    for i in range(edges.size - 1):
        sel = index == i
        if sel.any():
            out.append(
                {
                    "low": float(edges[i]),
                    "high": float(edges[i + 1]),
                    "n": int(sel.sum()),
                    "agreement": float(np.mean(a[sel])),
                }
            )
    return out


# --- reading the store ---------------------------------------------------------


@dataclass
class JudgeReport:
    judge: str
    votes: int = 0
    battles: int = 0
    calls: int = 0
    skipped_own_family: int | None = None
    position_consistency: float | None = None
    tie_rate: float | None = None
    parse_failure_rate: float | None = None
    first_position_win_rate: float | None = None
    left_win_rate: float | None = None
    truncated_calls: int = 0
    http_failures: int = 0
    mean_latency_ms: float | None = None
    agreement: dict = field(default_factory=dict)
    calibration: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def in_family(family: str | None, *families: str | None) -> bool:
    """Whether one of ``families`` is ``family``, ignoring case and surrounding spaces.

    An empty ``family`` is no family: nothing is in it.
    """
    family = (family or "").strip().casefold()
    return bool(family) and family in {(f or "").strip().casefold() for f in families}


def side_of(order: str, verdict: str) -> str:
    """A verdict on the order shown to a judge (``first``/``second``/``tie``) as a side.

    Order ``ab`` showed the battle's left answer first; ``ba`` the right one.
    """
    if verdict == "tie":
        return "tie"
    return "left" if (verdict == "first") == (order == "ab") else "right"


def outcome(choice: str, left_id: int, right_id: int) -> int:
    """The vote as an index into :data:`OUTCOMES`, independent of the side shown."""
    if choice in ("tie", "both_bad"):
        return 2
    winner = left_id if choice == "left" else right_id
    return 0 if winner == min(left_id, right_id) else 1


def _votes(session: Session, source: str) -> list[tuple]:
    rows = session.execute(
        select(
            Vote.battle_id,
            Vote.choice,
            Battle.prompt_id,
            Battle.left_model_id,
            Battle.right_model_id,
        )
        .join(Battle, Battle.id == Vote.battle_id)
        .where(Vote.source == source)
    ).all()
    return [tuple(r) for r in rows]


def human_reference(rows: list[tuple]) -> tuple[dict, dict]:
    """Human majority outcome per (prompt, pair) and per pair."""
    by_prompt, by_pair = defaultdict(list), defaultdict(list)
    for _, choice, prompt, left, right in rows:
        pair = (min(left, right), max(left, right))
        o = outcome(choice, left, right)
        by_prompt[(prompt, *pair)].append(o)
        by_pair[pair].append(o)
    return (
        {k: majority(v, 3, 2) for k, v in by_prompt.items()},
        {k: majority(v, 3, 2) for k, v in by_pair.items()},
    )


def _final_calls(calls: list[JudgeCall]) -> dict[int, dict[str, JudgeCall]]:
    """Per battle and order, the call that decided it (the last with a verdict, else the last)."""
    out: dict[int, dict[str, JudgeCall]] = defaultdict(dict)
    for c in calls:  # in id order
        kept = out[c.battle_id].get(c.call_order)
        if kept is None or kept.verdict is None or c.verdict is not None:
            out[c.battle_id][c.call_order] = c
    return out


def judge_report(
    session: Session,
    name: str,
    reference: tuple[dict, dict] | None = None,
    family: str | None = None,
) -> JudgeReport:
    """The report for judge ``name`` (source ``judge:NAME``)."""
    source = f"judge:{name}"
    rep = JudgeReport(judge=name)
    votes = _votes(session, source)
    rep.votes = len(votes)
    battles = session.execute(
        select(Battle.left_model_id, Battle.right_model_id).where(Battle.origin == source)
    ).all()
    rep.battles = len(battles)
    calls = (
        session.execute(select(JudgeCall).where(JudgeCall.judge == name).order_by(JudgeCall.id))
        .scalars()
        .all()
    )
    rep.calls = len(calls)
    if (family or "").strip():
        families = dict(session.execute(select(Model.id, Model.family)).all())
        rep.skipped_own_family = sum(
            in_family(family, families.get(left), families.get(right)) for left, right in battles
        )

    confidence = {}
    if calls:
        replied = [c for c in calls if c.raw_reply is not None]
        parse_failed = [c for c in replied if (c.error or "").startswith("parse:")]
        rep.parse_failure_rate = ratio(len(parse_failed), len(replied))
        rep.truncated_calls = sum(1 for c in calls if c.truncated)
        rep.http_failures = sum(1 for c in calls if (c.error or "").startswith("http:"))
        latencies = [c.latency_ms for c in calls if c.latency_ms is not None]
        rep.mean_latency_ms = float(np.mean(latencies)) if latencies else None
        decided = [c.verdict for c in calls if c.verdict in ("first", "second")]
        rep.first_position_win_rate = ratio(decided.count("first"), len(decided))
        finals = _final_calls(calls)
        both = [
            (o["ab"].verdict, o["ba"].verdict)
            for o in finals.values()
            if "ab" in o and "ba" in o and o["ab"].verdict and o["ba"].verdict
        ]
        rep.position_consistency = ratio(
            sum(side_of("ab", a) == side_of("ba", b) for a, b in both), len(both)
        )
        for battle_id, orders in finals.items():
            values = [c.confidence for c in orders.values() if c.confidence is not None]
            if values and len(values) == len(orders):
                confidence[battle_id] = float(np.mean(values))

    rep.tie_rate, rep.left_win_rate = choice_rates([v[1] for v in votes])

    by_prompt, by_pair = reference if reference is not None else ({}, {})
    judged, humans, conf, level = [], [], [], []
    for battle_id, choice, prompt, left, right in votes:
        pair = (min(left, right), max(left, right))
        if (prompt, *pair) in by_prompt:
            ref, where = by_prompt[(prompt, *pair)], "prompt"
        elif pair in by_pair:
            ref, where = by_pair[pair], "pair"
        else:
            continue
        judged.append(outcome(choice, left, right))
        humans.append(ref)
        conf.append(confidence.get(battle_id, np.nan))
        level.append(where)
    j, h = np.array(judged, dtype=int), np.array(humans, dtype=int)
    rep.agreement = {
        "compared": int(j.size),
        "same_prompt": level.count("prompt"),
        "pair_only": level.count("pair"),
        "accuracy": accuracy(j, h),
        "kappa": cohen_kappa(j, h, 3),
        "accuracy_without_ties": accuracy(j[(j != 2) & (h != 2)], h[(j != 2) & (h != 2)]),
    }
    rep.calibration = calibration_bins(np.array(conf, dtype=float), (j == h).astype(float))
    return rep


def judge_names(session: Session) -> list[str]:
    """Judges that have votes or calls in the store."""
    names = {
        s.split(":", 1)[1]
        for (s,) in session.execute(
            select(Vote.source).where(Vote.source.like("judge:%")).distinct()
        )
    }
    names |= {n for (n,) in session.execute(select(JudgeCall.judge).distinct())}
    return sorted(names)


def human_summary(rows: list[tuple]) -> dict:
    """The human votes' tie rate and left-win rate, the baseline for the judges'.

    ``rows`` are the human votes as :func:`human_reference` takes them.
    """
    tie_rate, left_win_rate = choice_rates([r[1] for r in rows])
    return {"votes": len(rows), "tie_rate": tie_rate, "left_win_rate": left_win_rate}


def report(
    engine: Engine, judges: list[str] | None = None, families: dict[str, str] | None = None
) -> dict:
    """Reports for ``judges`` (default: every judge in the store) plus the human baseline."""
    families = families or {}
    with Session(engine) as s:
        names = judges if judges else judge_names(s)
        humans = _votes(s, "human")
        reference = human_reference(humans)
        return {
            "human": human_summary(humans),
            "judges": {n: judge_report(s, n, reference, families.get(n)).to_dict() for n in names},
        }


__all__ = [
    "OUTCOMES",
    "JudgeReport",
    "accuracy",
    "calibration_bins",
    "choice_rates",
    "cohen_kappa",
    "human_reference",
    "in_family",
    "judge_names",
    "judge_report",
    "majority",
    "outcome",
    "ratio",
    "report",
]
