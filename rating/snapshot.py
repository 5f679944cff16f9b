"""The result of a rating run and its deterministic JSON form.

JSON layout (the composite rank and the web pages read exactly this)::

    {"meta": {...},
     "models": [{"model", "rating", "ci_low", "ci_high", "rank_ub", "tier",
                 "battles", "wins", "losses", "ties"}, ...],      # best first
     "bootstrap": {"models": [...], "ratings": [[...], ...]},    # optional
     "matrices": {"models": [...], "win_probability": [[...]],
                  "significantly_above": [[0/1, ...]]}}          # optional

``bootstrap.models`` lists the models in the order of ``models``; every row of
``bootstrap.ratings`` is one replicate in that order. The text is built with
fixed key order and fixed rounding, so equal inputs and seed give equal bytes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

RATING_DECIMALS = 6
REPLICATE_DECIMALS = 3


def _num(x, decimals):
    x = float(x)
    if not math.isfinite(x):
        return None
    r = round(x, decimals)
    if r == int(r) and abs(r) < 2**53 and decimals == 0:
        return int(r)
    return r


def plain_number(x):
    """``x`` as an int when it is whole (JSON then shows ``3``, not ``3.0``), else a float."""
    x = float(x)
    return int(x) if x == int(x) else x


def _count(x):
    x = float(x)
    return int(x) if x == int(x) else round(x, 6)


@dataclass
class Result:
    """Ratings of one scope, best first.

    All arrays have one entry per rated model, in the order of ``models``.
    ``replicates`` (bootstrap only) has shape (rounds, len(models)).
    ``component`` is set when disconnected components were rated separately:
    ratings are comparable only inside a component.
    """

    method: str
    models: list
    rating: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    rank_ub: np.ndarray
    tier: np.ndarray
    battles: np.ndarray
    wins: np.ndarray
    losses: np.ndarray
    ties: np.ndarray
    meta: dict = field(default_factory=dict)
    replicates: np.ndarray | None = None
    component: np.ndarray | None = None

    def win_probability(self) -> np.ndarray:
        """``P[i, j]`` = P(model i beats model j) under Bradley-Terry on the rating scale."""
        d = self.rating[None, :] - self.rating[:, None]
        return 1.0 / (1.0 + 10.0 ** (d / 400.0))

    def significantly_above(self, confidence: float | None = None) -> np.ndarray:
        """``S[i, j]`` True when i is above j in the bootstrap: the lower
        ``(1 - confidence)/2`` quantile of ``rating_i - rating_j`` over the replicates is > 0."""
        if self.replicates is None:
            raise ValueError("significance needs bootstrap replicates")
        conf = self.meta.get("confidence", 0.95) if confidence is None else confidence
        reps = self.replicates
        out = np.zeros((reps.shape[1], reps.shape[1]), bool)
        for k in range(reps.shape[1]):  # one row at a time: O(rounds x models) memory
            out[k] = np.quantile(reps[:, [k]] - reps, (1.0 - conf) / 2.0, axis=0) > 0
        return out

    def rows(self) -> list[dict]:
        out = []
        for k, name in enumerate(self.models):
            row = {
                "model": name,
                "rating": _num(self.rating[k], RATING_DECIMALS),
                "ci_low": _num(self.ci_low[k], RATING_DECIMALS),
                "ci_high": _num(self.ci_high[k], RATING_DECIMALS),
                "rank_ub": int(self.rank_ub[k]),
                "tier": int(self.tier[k]),
                "battles": _count(self.battles[k]),
                "wins": _count(self.wins[k]),
                "losses": _count(self.losses[k]),
                "ties": _count(self.ties[k]),
            }
            if self.component is not None:
                row["component"] = int(self.component[k])
            out.append(row)
        return out

    def matrices(self) -> dict:
        """``{"models", "win_probability", "significantly_above"}`` (the last needs replicates)."""
        out = {
            "models": list(self.models),
            "win_probability": [
                [_num(v, 6) for v in row] for row in self.win_probability().tolist()
            ],
        }
        if self.replicates is not None:
            out["significantly_above"] = self.significantly_above().astype(int).tolist()
        return out

    def to_dict(self, replicates: bool = False, matrices: bool = False) -> dict:
        data = {"meta": self.meta, "models": self.rows()}
        if matrices:
            data["matrices"] = self.matrices()
        if replicates and self.replicates is not None:
            data["bootstrap"] = {
                "models": list(self.models),
                "ratings": [
                    [_num(v, REPLICATE_DECIMALS) for v in row] for row in self.replicates.tolist()
                ],
            }
        return data

    def to_json(
        self, replicates: bool = False, indent: int | None = None, matrices: bool = False
    ) -> str:
        return dumps(self.to_dict(replicates, matrices), indent=indent)


def dumps(data, indent: int | None = None) -> str:
    """Deterministic JSON text: insertion order kept, no NaN (``null`` instead)."""
    return json.dumps(
        _clean(data),
        indent=indent,
        ensure_ascii=False,
        allow_nan=False,
        separators=(",", ":") if indent is None else (",", ": "),
    )


def _clean(value):
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_clean(v) for v in value.tolist()]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    return value
