"""How trustworthy is a judge? The report's database reads (the statistics are in
:mod:`rating.judging`).

:func:`report` reads each judge's calls (``judge_calls``) and votes (source
``judge:NAME``), the human votes (source ``human``), the answers' lengths and the
models' families, and returns one dict per judge:

``agreement.same_prompt``  the judge's vote against the human majority on the same
                           prompt and model pair (accuracy, Cohen's kappa, both
                           with a 95% interval from a bootstrap over prompts)
``agreement.pair_only``    against the human majority on the model pair over all
                           prompts, where no human voted on that prompt: kept apart
``human_baseline``         on the same items, how often one human agrees with the
                           majority of the OTHER humans (the ceiling for a judge)
``position``               consistency between the two orders (from the calls) and
                           between items shown both ways (from the votes, so for
                           imported judges too); the first-position win rate; the
                           Davidson left advantage fitted to the judge's votes
``self_preference``        the judge's win share for models of its own family minus
                           the humans' on the same items (families from ``models``)
``length_preference``      how often the longer answer wins, judge vs humans
``calibration``            agreement by confidence (JudgeLM's score gap, the gap
                           between Prometheus absolute grades)
``calls``                  tokens, cost (``price_per_million_input/output``),
                           latency, truncation, HTTP failures, and parse failures by
                           order and by the verdict a retry recovered
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from arena.models import Answer, Battle, JudgeCall, Model, Vote
from rating import judging as J


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


class Store:
    """What every judge's report reads once: human votes, answer lengths, families."""

    def __init__(self, session: Session):
        self.session = session
        self.humans = _votes(session, "human")
        self.lengths = {
            (p, m): int(n or 0)
            for p, m, n in session.execute(
                select(Answer.prompt_id, Answer.model_id, func.length(Answer.text))
            )
        }
        self.families = dict(session.execute(select(Model.id, Model.family)).all())
        by_item = defaultdict(list)
        for _, choice, prompt, left, right in self.humans:
            by_item[(prompt, min(left, right), max(left, right))].append(
                J.outcome(choice, left, right)
            )
        self.by_item = by_item
        by_pair = defaultdict(list)
        for (_, a, b), v in by_item.items():
            by_pair[(a, b)] += v
        self.majority_item = {k: J.majority(v) for k, v in by_item.items()}
        self.majority_pair = {k: J.majority(v) for k, v in by_pair.items()}


def _interval(prompts, stat, rounds, seed) -> dict:
    return J.bootstrap_over_prompts(np.asarray(prompts), stat, rounds=rounds, seed=seed)


def _agreement(store: Store, votes: list[tuple], confidence: dict, rounds: int, seed: int):
    """Same-prompt agreement, pair-only agreement, the human baseline, and calibration."""
    same, pair_only = [], []
    for battle_id, choice, prompt, left, right in votes:
        a, b = min(left, right), max(left, right)
        o = J.outcome(choice, left, right)
        if (prompt, a, b) in store.majority_item:
            same.append((prompt, o, store.majority_item[(prompt, a, b)], battle_id, (a, b)))
        elif (a, b) in store.majority_pair:
            pair_only.append((prompt, o, store.majority_pair[(a, b)]))
    p = np.array([r[0] for r in same], dtype=int)
    j = np.array([r[1] for r in same], dtype=int)
    h = np.array([r[2] for r in same], dtype=int)
    out = {
        "same_prompt": {
            "compared": int(j.size),
            "accuracy": _interval(p, lambda i: J.accuracy(j[i], h[i]), rounds, seed),
            "kappa": _interval(p, lambda i: J.cohen_kappa(j[i], h[i], 3), rounds, seed),
        },
        "pair_only": {
            "compared": len(pair_only),
            "accuracy": J.accuracy(
                np.array([r[1] for r in pair_only]), np.array([r[2] for r in pair_only])
            ),
        },
    }
    # the human baseline on the same items: one human against the majority of the others
    items = sorted({(r[0], *r[4]) for r in same})
    hp, hk, hl = [], [], []
    for k, item in enumerate(items):
        for label in store.by_item[item]:
            hp.append(item[0])
            hk.append(k)
            hl.append(label)
    loo = J.leave_one_out_agreement(np.array(hk, dtype=int), np.array(hl, dtype=int))
    keep = ~np.isnan(loo)
    hp_kept, loo_kept = np.array(hp, dtype=int)[keep], loo[keep]
    baseline = _interval(
        hp_kept, lambda i: float(loo_kept[i].mean()) if i.size else None, rounds, seed
    )
    baseline["items"] = len({hk[i] for i in np.flatnonzero(keep)})
    conf = np.array([confidence.get(r[3], np.nan) for r in same], dtype=float)
    calibration = J.calibration_bins(conf, (j == h).astype(float))
    return out, baseline, calibration


def _preferences(store: Store, votes: list[tuple], family: str | None, rounds: int, seed: int):
    """Self-preference and length preference, judge vs humans on the same items."""
    judged_items = {(p, min(lf, r), max(lf, r)) for _, _, p, lf, r in votes}
    humans = [v for v in store.humans if (v[2], min(v[3], v[4]), max(v[3], v[4])) in judged_items]

    def rows(vs, side_of_item):
        prompts, outcomes, sides = [], [], []
        for _, choice, prompt, left, right in vs:
            side = side_of_item(prompt, min(left, right), max(left, right))
            if side is None:
                continue
            prompts.append(prompt)
            outcomes.append(J.outcome(choice, left, right))
            sides.append(side)
        return np.array(prompts, dtype=int), np.array(outcomes, dtype=int), np.array(sides)

    def compare(side_of_item) -> dict:
        jp, jo, js = rows(votes, side_of_item)
        hp, ho, hs = rows(humans, side_of_item)
        judge = _interval(jp, lambda i: J.win_share(jo[i], js[i]), rounds, seed)
        human = _interval(hp, lambda i: J.win_share(ho[i], hs[i]), rounds, seed)
        # the difference, resampling prompts for both at once
        prompts = np.r_[jp, hp]
        is_judge = np.r_[np.ones(jp.size, bool), np.zeros(hp.size, bool)]
        o, s = np.r_[jo, ho], np.r_[js, hs]

        def diff(i):
            a, b = i[is_judge[i]], i[~is_judge[i]]
            if not a.size or not b.size:
                return None
            return J.win_share(o[a], s[a]) - J.win_share(o[b], s[b])

        return {
            "judge": judge,
            "human": human,
            "difference": _interval(prompts, diff, rounds, seed),
        }

    def own(prompt, a, b):
        fa, fb = (
            J.in_family(family, store.families.get(a)),
            J.in_family(family, store.families.get(b)),
        )
        return None if fa == fb else (0 if fa else 1)

    def longer(prompt, a, b):
        la, lb = store.lengths.get((prompt, a)), store.lengths.get((prompt, b))
        return None if la is None or lb is None or la == lb else (0 if la > lb else 1)

    self_pref = compare(own) if (family or "").strip() else None
    return self_pref, compare(longer)


def _calls(session: Session, name: str, prices: tuple[float, float]) -> dict:
    calls = (
        session.execute(select(JudgeCall).where(JudgeCall.judge == name).order_by(JudgeCall.id))
        .scalars()
        .all()
    )
    out: dict = {"calls": len(calls)}
    finals: dict[int, dict[str, JudgeCall]] = defaultdict(dict)
    for c in calls:  # per battle and order, the call that decided it
        kept = finals[c.battle_id].get(c.call_order)
        if kept is None or kept.verdict is None or c.verdict is not None:
            finals[c.battle_id][c.call_order] = c
    replied = [c for c in calls if c.raw_reply is not None]
    failed = [c for c in replied if (c.error or "").startswith("parse:")]
    by_order = {}
    for order in ("ab", "ba"):
        n = [c for c in replied if c.call_order == order]
        k = [c for c in failed if c.call_order == order]
        by_order[order] = {"failures": len(k), "replies": len(n), "rate": J.ratio(len(k), len(n))}
    recovered: dict[str, int] = defaultdict(int)
    for c in failed:  # which verdict the retries of that order finally gave
        final = finals[c.battle_id].get(c.call_order)
        recovered[(final.verdict if final is not None and final.verdict else "never")] += 1
    tokens_in = sum(c.prompt_tokens or 0 for c in calls)
    tokens_out = sum(c.completion_tokens or 0 for c in calls)
    decided = [c.verdict for c in calls if c.verdict in ("first", "second")]
    both = [
        (o["ab"].verdict, o["ba"].verdict)
        for o in finals.values()
        if "ab" in o
        and "ba" in o
        and o["ab"].verdict
        and o["ba"].verdict
        and o["ab"].verdict != "score"
    ]
    latencies = [c.latency_ms for c in calls if c.latency_ms is not None]
    confidence = {}
    for battle_id, orders in finals.items():
        if set(orders) != {"ab", "ba"}:
            continue
        ab, ba = orders["ab"], orders["ba"]
        if ab.score is not None and ba.score is not None:
            confidence[battle_id] = abs(ab.score - ba.score)
        elif ab.confidence is not None and ba.confidence is not None:
            confidence[battle_id] = (ab.confidence + ba.confidence) / 2
    out.update(
        parse_failures={
            "failures": len(failed),
            "replies": len(replied),
            "rate": J.ratio(len(failed), len(replied)),
            "by_order": by_order,
            "by_recovered_verdict": dict(recovered),
        },
        truncated_calls=sum(1 for c in calls if c.truncated),
        http_failures=sum(1 for c in calls if (c.error or "").startswith("http:")),
        refused=sum(1 for c in calls if (c.error or "").startswith("refused:")),
        mean_latency_ms=float(np.mean(latencies)) if latencies else None,
        first_position_win_rate=J.ratio(decided.count("first"), len(decided)),
        order_consistency=J.ratio(
            sum(J.side_of("ab", a) == J.side_of("ba", b) for a, b in both), len(both)
        ),
        tokens={"input": tokens_in, "output": tokens_out},
        cost=(tokens_in * prices[0] + tokens_out * prices[1]) / 1e6 if any(prices) else None,
        served_models=sorted({c.served_model for c in calls if c.served_model}),
        formats=sorted({f"{c.format} {c.format_version}" for c in calls if c.format}),
    )
    return out, confidence


def judge_report(
    store: Store, name: str, *, family: str, prices: tuple[float, float], rounds: int, seed: int
) -> dict:
    """The report for judge ``name`` (source ``judge:NAME``); see the module doc."""
    s = store.session
    source = f"judge:{name}"
    votes = _votes(s, source)
    battles = s.execute(
        select(Battle.left_model_id, Battle.right_model_id).where(Battle.origin == source)
    ).all()
    calls, confidence = _calls(s, name, prices)
    tie_rate, left_win_rate = J.choice_rates([v[1] for v in votes])
    agreement, baseline, calibration = _agreement(store, votes, confidence, rounds, seed)
    self_pref, length_pref = _preferences(store, votes, family, rounds, seed)
    keys = [(p, min(lf, r), max(lf, r)) for _, _, p, lf, r in votes]
    item_code = {k: i for i, k in enumerate(sorted(set(keys)))}
    by_votes = J.position_consistency(
        np.array([item_code[k] for k in keys], dtype=int),
        np.array([lf < r for _, _, _, lf, r in votes], dtype=bool),
        np.array([J.outcome(c, lf, r) for _, c, _, lf, r in votes], dtype=int),
    )
    davidson = J.davidson_left_advantage(
        np.array([v[3] for v in votes], dtype=int),
        np.array([v[4] for v in votes], dtype=int),
        [v[1] for v in votes],
    )
    return {
        "judge": name,
        "family": family or None,
        "votes": len(votes),
        "battles": len(battles),
        "skipped_own_family": sum(
            J.in_family(family, store.families.get(a), store.families.get(b)) for a, b in battles
        )
        if (family or "").strip()
        else None,
        "tie_rate": tie_rate,
        "left_win_rate": left_win_rate,
        "agreement": agreement,
        "human_baseline": baseline,
        "position": {
            "order_consistency": calls.pop("order_consistency"),
            "first_position_win_rate": calls.pop("first_position_win_rate"),
            "consistency_across_items": by_votes,
            "davidson_left_advantage": davidson,
        },
        "self_preference": self_pref,
        "length_preference": length_pref,
        "calibration": calibration,
        "calls": calls,
    }


def report(
    engine: Engine,
    judges: list[str] | None = None,
    info: dict[str, dict] | None = None,
    *,
    rounds: int = 1000,
    seed: int = 0,
) -> dict:
    """Reports for ``judges`` (default: every judge in the store) plus the human summary.

    ``info`` gives per judge ``family`` and ``prices`` (input, output per million
    tokens), from ``[judges.NAME]`` or the command line.
    """
    info = info or {}
    with Session(engine) as s:
        names = judges if judges else judge_names(s)
        store = Store(s)
        tie_rate, left_win_rate = J.choice_rates([r[1] for r in store.humans])
        out = {
            "human": {
                "votes": len(store.humans),
                "tie_rate": tie_rate,
                "left_win_rate": left_win_rate,
            },
            "bootstrap": {"rounds": rounds, "seed": seed, "over": "prompts", "confidence": 0.95},
            "judges": {},
        }
        for n in names:
            meta = info.get(n) or {}
            out["judges"][n] = judge_report(
                store,
                n,
                family=meta.get("family") or "",
                prices=tuple(meta.get("prices") or (0.0, 0.0)),
                rounds=rounds,
                seed=seed,
            )
        return out
