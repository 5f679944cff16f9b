"""``GET /leaderboard/judges``: each LLM judge's ranking set against the human one.

Per judge (votes of source ``judge:NAME``): the rank correlation (Spearman's
rho, Kendall's tau-b) of its stored snapshot's ratings with the human
snapshot's over the models both rank, with a bootstrap interval from the two
snapshots' stored replicates (:func:`rating.rank_agreement.rank_correlation`);
its agreement with the human majority on the same prompt and pair, the
human-human baseline, and its position bias (first-position win rate, the
consistency of its verdicts when an item is shown both ways, Davidson's left
advantage), from :func:`arena.judge_report.report` over the stored votes.

Nothing is stored for this page: its body is computed from stored snapshots and
votes on the first request after a new snapshot and kept
(:mod:`arena.web.fragments`), so a new recompute (which every new vote batch
brings) refreshes it. The report's intervals use :data:`REPORT_ROUNDS`
bootstrap rounds over prompts (``arena judge report`` defaults to 1,000).
"""

from __future__ import annotations

import numpy as np
from flask import Blueprint, render_template
from markupsafe import Markup, escape
from sqlmodel import Session

from arena.scope import HUMAN, Scope
from arena.web import fragments, snapshots
from arena.web.common import rt
from arena.web.errors import ApiError
from arena.web.extensions import limit

bp = Blueprint("judges_page", __name__)

#: Bootstrap rounds (over prompts) of the agreement and bias intervals on this page.
REPORT_ROUNDS = 200
JUDGE_PREFIX = "judge:"


def positions(ratings: np.ndarray) -> np.ndarray:
    """1 + the number of models rated strictly higher (the table's plain order)."""
    s = np.sort(ratings)
    return 1 + ratings.size - np.searchsorted(s, ratings, side="right")


def judge_sources(method: str) -> list[str]:
    """Judges with votes in the store or with a snapshot of ``method``, by name."""
    from arena.judge_report import judge_names

    with Session(rt().engine) as s:
        names = set(judge_names(s))
    for scope in snapshots.every_scope():
        if scope["method"] == method and scope["source"].startswith(JUDGE_PREFIX):
            names.add(scope["source"][len(JUDGE_PREFIX) :])
    return sorted(names)


def _rated(stored) -> tuple[dict[str, float], object]:
    """Model -> rating of a snapshot (rated models only), and its replicates (or None)."""
    rows = stored.payload().get("models", [])
    return {m["model"]: m["rating"] for m in rows if m.get("rating") is not None}, (
        stored.replicates()
    )


def _columns(replicates, names: list[str]) -> np.ndarray | None:
    if replicates is None:
        return None
    models, matrix = replicates
    index = {m: k for k, m in enumerate(models)}
    if not all(n in index for n in names):
        return None
    return matrix[:, [index[n] for n in names]]


def compare(human, judge, confidence: float) -> dict:
    """The judge snapshot's ranking against the human one, over the models both rate."""
    from rating.rank_agreement import rank_correlation

    h_rating, h_reps = _rated(human)
    j_rating, j_reps = _rated(judge)
    names = sorted(set(h_rating) & set(j_rating))
    h = np.array([h_rating[n] for n in names], dtype=float)
    j = np.array([j_rating[n] for n in names], dtype=float)
    corr = rank_correlation(
        h, j, _columns(h_reps, names), _columns(j_reps, names), confidence=confidence
    )
    h_pos, j_pos = positions(h), positions(j)
    rows = sorted(
        (
            {
                "model": n,
                "human_rating": float(h[k]),
                "judge_rating": float(j[k]),
                "human_rank": int(h_pos[k]),
                "judge_rank": int(j_pos[k]),
                "change": int(h_pos[k] - j_pos[k]),
            }
            for k, n in enumerate(names)
        ),
        key=lambda r: (r["human_rank"], r["model"]),
    )
    only_human = sorted(set(h_rating) - set(j_rating))
    only_judge = sorted(set(j_rating) - set(h_rating))
    return {
        "correlation": corr,
        "rows": rows,
        "only_human": only_human,
        "only_judge": only_judge,
    }


def _report(names: list[str]) -> dict:
    """:func:`arena.judge_report.report` for ``names`` (families from ``[judges.NAME]``)."""
    from arena.judge_report import report

    runtime = rt()
    info = {
        name: {"family": table.get("family") or ""}
        for name, table in runtime.settings["judges"].items()
    }
    return report(
        runtime.engine,
        names,
        info,
        rounds=REPORT_ROUNDS,
        seed=int(runtime.settings["rating"]["seed"]),
    )


def page_data(method: str) -> dict:
    """Everything the page shows, JSON-ready."""
    human = snapshots.latest(method, Scope(source=HUMAN))
    names = judge_sources(method)
    confidence = float(rt().settings["rating"]["confidence"])
    report = _report(names) if names else {"human": {}, "judges": {}}
    judges = []
    for name in names:
        stored = snapshots.latest(method, Scope(source=JUDGE_PREFIX + name))
        found = report["judges"].get(name, {})
        judges.append(
            {
                "name": name,
                "snapshot": snapshots.citation(stored) if stored else None,
                "ranking": compare(human, stored, confidence) if (human and stored) else None,
                "votes": found.get("votes", 0),
                "agreement": (found.get("agreement") or {}).get("same_prompt"),
                "baseline": found.get("human_baseline"),
                "tie_rate": found.get("tie_rate"),
                "left_win_rate": found.get("left_win_rate"),
                "position": found.get("position") or {},
            }
        )
    return {
        "method": method,
        "human": snapshots.citation(human) if human else None,
        "human_votes": report["human"],
        "judges": judges,
        "report_rounds": REPORT_ROUNDS,
        "confidence": confidence,
    }


def _chart(judges: list[dict]) -> dict:
    """Per judge: the models' human rank (x) and judge rank (y), for the scatter."""
    return {
        j["name"]: {
            "models": [r["model"] for r in j["ranking"]["rows"]],
            "x": [r["human_rank"] for r in j["ranking"]["rows"]],
            "y": [r["judge_rank"] for r in j["ranking"]["rows"]],
        }
        for j in judges
        if j["ranking"] and j["ranking"]["rows"]
    }


@bp.get("/leaderboard/judges")
@limit("reads")
def page():
    """The page: tables first, the rank-against-rank chart as enhancement."""
    try:
        method = snapshots.request_method()
    except ApiError as exc:
        body = Markup(f"<h1>Judges against humans</h1><p>{escape(exc.reason)}</p>")
        return render_template("judges.html", body=body, charted=False), 400
    key = ("judges", fragments.version(), method)
    body, charted = fragments.cached(key, lambda: _body(method))
    return render_template("judges.html", body=body, charted=charted)


def _body(method: str) -> tuple[Markup, bool]:
    data = page_data(method)
    chart = _chart(data["judges"])
    html = render_template("_judges_body.html", d=data, chart=chart)
    return Markup(html), bool(chart)
