"""Style-controlled snapshots next to plain Bradley-Terry: what ``/leaderboard`` and
``GET /api/v1/leaderboard?style_control=true`` show.

The recompute job stores style-controlled snapshots (method
:data:`arena.style_store.STYLE_METHOD`, ``"bt-style"``) of human votes, overall
and per category, when ``[rating] style_control`` is on (or ``arena rate
--store --style-control`` is run). Each row's "Rank (StyleCtrl)" is its
rank (UB) in that snapshot; its change is its rank (UB) in the newest plain
``bt`` snapshot of the same scope minus that (``+2``: two places higher with
style control), so the change is the difference of the two rank columns shown.
``meta.style`` carries the style coefficients γ with their intervals.
"""

from __future__ import annotations

from arena.scope import Scope
from arena.style_store import STYLE_METHOD
from arena.web import snapshots

#: The plain method style control is compared against.
PLAIN_METHOD = "bt"
#: What each style feature counts (``rating.style_features``).
FEATURE_TEXT = {
    "tokens": "answer length (tokens)",
    "headers": "Markdown headers",
    "lists": "list items",
    "bold": "bold spans",
}


def wanted(value: str | None) -> bool:
    """Whether a ``style_control`` query value turns style control on."""
    return (value or "").lower() in ("1", "true", "yes", "on")


def latest(method: str, scope: Scope):
    """The newest style-controlled snapshot of ``scope`` when ``method`` is plain BT, else None."""
    if method != PLAIN_METHOD:
        return None
    return snapshots.latest(STYLE_METHOD, scope)


def ranks(plain_rows: list[dict], style_rows: list[dict]) -> dict[str, dict]:
    """Model -> ``rank_style``, ``rank_plain`` and ``rank_change`` (None where one side
    does not rank the model)."""
    plain = {m["model"]: m.get("rank_ub") for m in plain_rows}
    style = {m["model"]: m.get("rank_ub") for m in style_rows}
    out = {}
    for name in plain.keys() | style.keys():
        p, s = plain.get(name), style.get(name)
        out[name] = {
            "rank_style": s,
            "rank_plain": p,
            "rank_change": None if p is None or s is None else int(p - s),
        }
    return out


def coefficients(meta: dict) -> list[dict]:
    """``meta.style``'s coefficients as rows: feature, what it counts, γ and its interval."""
    style = meta.get("style") or {}
    return [
        {
            "feature": name,
            "label": FEATURE_TEXT.get(name, name),
            "gamma": c.get("gamma"),
            "ci_low": c.get("ci_low"),
            "ci_high": c.get("ci_high"),
        }
        for name, c in (style.get("coefficients") or {}).items()
    ]


def page_rows(rows: list[dict], style_payload: dict) -> list[dict]:
    """The leaderboard's rows with style control on: each model's style-controlled rating,
    interval and tier, its Rank (StyleCtrl), its plain Rank (UB) and the change; ordered
    by the style-controlled rank (models the style fit left out last)."""
    by_name = {m["model"]: m for m in style_payload.get("models", [])}
    change = ranks(rows, style_payload.get("models", []))
    out = []
    for row in rows:
        s = by_name.get(row["model"])
        merged = {**row, **change[row["model"]], "style_rated": s is not None}
        if s is not None and s.get("rating") is not None:
            rating = s["rating"]
            merged.update(
                rating=rating,
                ci_low=s.get("ci_low"),
                ci_high=s.get("ci_high"),
                tier=s.get("tier"),
                plus=None if s.get("ci_high") is None else s["ci_high"] - rating,
                minus=None if s.get("ci_low") is None else rating - s["ci_low"],
            )
        out.append(merged)
    out.sort(key=lambda r: (r["rank_style"] is None, r["rank_style"] or 0, -(r["rating"] or 0)))
    return out


def api_body(style_stored, plain_stored) -> dict:
    """``GET /api/v1/leaderboard?style_control=true``: the style-controlled snapshot as
    ``arena rate`` JSON, each row with ``rank_plain`` and ``rank_change`` against the
    newest plain BT snapshot (``compared_to``; null when there is none)."""
    payload = style_stored.payload()
    plain_rows = plain_stored.payload().get("models", []) if plain_stored else []
    change = ranks(plain_rows, payload.get("models", []))
    models = [
        {
            **m,
            "rank_plain": change[m["model"]]["rank_plain"],
            "rank_change": change[m["model"]]["rank_change"],
        }
        for m in payload.get("models", [])
    ]
    return {
        "snapshot": snapshots.citation(style_stored),
        "compared_to": snapshots.citation(plain_stored) if plain_stored else None,
        **{k: v for k, v in payload.items() if k != "models"},
        "models": models,
    }
