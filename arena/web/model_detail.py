"""One model across the stored snapshots: what ``/models/<name>`` and
``GET /api/v1/models/<name>`` show.

* ``history``: its rating, interval, rank (UB) and tier in every kept snapshot
  of the method and scope (``[rating] keep_snapshots`` are kept), oldest first;
* ``categories``: its row in the newest snapshot of each category (same method,
  source and rater group);
* ``head_to_head``: wins, losses and ties against each opponent (observed, from
  ``pair_counts``) and P(this model beats the opponent) from the newest
  snapshot's ratings, with an interval from its bootstrap replicates;
* ``sample_answers``: a few of its stored answers (by prompt key, cut to length).
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import select
from sqlmodel import Session

from arena.models import Answer, Model, Prompt
from arena.scope import Scope
from arena.web import pairs, snapshots
from arena.web.common import rt
from arena.web.errors import ApiError

ROW_KEYS = ("rating", "ci_low", "ci_high", "rank_ub", "tier", "battles")


def _row(payload: dict, name: str) -> dict | None:
    return next((m for m in payload.get("models", []) if m["model"] == name), None)


def _p_beats(payload: dict, name: str, replicates=None) -> dict[str, dict]:
    """Opponent -> {"p", "low", "high"}: P(name beats opponent) on the rating scale."""
    rows = {m["model"]: m for m in payload.get("models", [])}
    if name not in rows or rows[name].get("rating") is None:
        return {}
    conf = payload.get("meta", {}).get("confidence") or 0.95
    others = [o for o, row in rows.items() if o != name and row.get("rating") is not None]
    ratings = np.array([rows[o]["rating"] for o in others], dtype=float)
    point = 1.0 / (1.0 + 10 ** (-(rows[name]["rating"] - ratings) / 400.0))
    low = high = [None] * len(others)
    if replicates is not None and others:
        rep_models, matrix = replicates
        index = {m: k for k, m in enumerate(rep_models)}
        if name in index and all(o in index for o in others):
            diff = matrix[:, [index[name]]] - matrix[:, [index[o] for o in others]]
            p = 1.0 / (1.0 + 10 ** (-diff / 400.0))  # one column per opponent
            low, high = np.quantile(p, [(1 - conf) / 2, (1 + conf) / 2], axis=0)
            low, high = [round(float(v), 4) for v in low], [round(float(v), 4) for v in high]
    return {
        o: {"p": round(float(point[k]), 4), "low": low[k], "high": high[k]}
        for k, o in enumerate(others)
    }


def model_info(name: str) -> dict:
    with Session(rt().engine) as s:
        model = s.execute(select(Model).where(Model.name == name)).scalar_one_or_none()
        if model is None:
            raise ApiError(404, f"no model named {name!r}", "no_model")
        return {
            "name": model.name,
            "organization": model.organization,
            "license": model.license,
            "state": model.state,
            "parameters_b": model.parameters_b,
            "family": model.family,
            "release_date": model.release_date.isoformat() if model.release_date else None,
        }


SAMPLE_ANSWERS = 3
PROMPT_CHARS, ANSWER_CHARS = 600, 2000


def sample_answers(name: str, category: str = "") -> list[dict]:
    """A few of the model's stored answers (one per prompt, by prompt key), cut to length."""
    stmt = (
        select(Prompt.key, Prompt.category, Prompt.text, Answer.text)
        .join(Answer, Answer.prompt_id == Prompt.id)
        .join(Model, Model.id == Answer.model_id)
        .where(Model.name == name)
        .order_by(Prompt.key)
        .limit(SAMPLE_ANSWERS)
    )
    if category:
        stmt = stmt.where(Prompt.category == category)
    with Session(rt().engine) as s:
        rows = s.execute(stmt).all()
    return [
        {
            "prompt_key": key,
            "category": cat,
            "prompt": prompt[:PROMPT_CHARS],
            "answer": answer[:ANSWER_CHARS],
            "cut": len(answer) > ANSWER_CHARS,
        }
        for key, cat, prompt, answer in rows
    ]


def detail(name: str, method: str, scope: Scope) -> dict:
    """Everything the model page shows, as JSON-ready data (404 for an unknown model)."""
    info = model_info(name)
    history = []
    for stored in snapshots.history(method, scope):
        row = _row(stored.payload(), name)
        if row is not None:
            history.append(
                {
                    "snapshot": stored.id,
                    "created_at": stored.created_at.isoformat(timespec="seconds"),
                    **{k: row.get(k) for k in ROW_KEYS},
                }
            )
    categories = []
    for s in snapshots.every_scope():
        if (
            s["method"] == method
            and s["category"]
            and s["source"] == scope.source
            and s["rater_group"] == scope.rater_group
        ):
            cat_scope = Scope(s["category"], scope.source, scope.rater_group)
            stored = snapshots.latest(method, cat_scope)
            row = stored and _row(stored.payload(), name)
            if row is not None:
                categories.append(
                    {"category": s["category"], "snapshot": stored.id}
                    | {k: row.get(k) for k in ROW_KEYS}
                )
    latest = snapshots.latest(method, scope)
    beats = _p_beats(latest.payload(), name, latest.replicates()) if latest else {}
    record = pairs.head_to_head(scope, name, latest.key if latest else None)
    head = [
        {
            "opponent": other,
            **record.get(other, {"wins": 0, "losses": 0, "ties": 0}),
            "p_beats": beats.get(other, {}).get("p"),
            "p_low": beats.get(other, {}).get("low"),
            "p_high": beats.get(other, {}).get("high"),
        }
        for other in sorted(set(record) | set(beats))
    ]
    current = _row(latest.payload(), name) if latest else None
    return {
        "snapshot": snapshots.citation(latest) if latest else None,
        "model": info,
        "current": None if current is None else {k: current.get(k) for k in ROW_KEYS},
        "history": history,
        "categories": categories,
        "head_to_head": head,
        "sample_answers": sample_answers(name, scope.category),
    }
