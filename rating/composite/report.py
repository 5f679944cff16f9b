"""JSON-ready rows and the variants table of a composite rank."""

from __future__ import annotations

import math

import numpy as np

from rating.composite.blend import Blend, Signal
from rating.composite.pool import Pool
from rating.composite.signals import bytes_per_parameter
from rating.composite.uncertainty import interval


def num(x) -> float | None:
    """A finite float rounded to 6 places, else ``None``."""
    if x is None:
        return None
    x = float(x)
    return round(x, 6) if math.isfinite(x) else None


def _with_interval(sig: Signal | None, confidence: float) -> tuple[np.ndarray, ...] | None:
    if sig is None or np.isnan(sig.value).all():
        return None
    if sig.draws is None:
        return sig.value, sig.value, sig.value
    lo, hi = interval(sig.draws, confidence)
    return sig.value, np.minimum(lo, sig.value), np.maximum(hi, sig.value)


def goodness_blocks(sigs: dict[str, Signal], n: int, confidence: float) -> list[dict | None]:
    """Per model: goodness with its interval and per subdomain."""
    parts = {
        k: v
        for k in sorted(sigs)
        if (k == "goodness" or k.startswith("goodness."))
        and (v := _with_interval(sigs[k], confidence))
    }
    out: list[dict | None] = []
    for i in range(n):
        if "goodness" not in parts or np.isnan(parts["goodness"][0][i]):
            out.append(None)
            continue
        value, lo, hi = (num(a[i]) for a in parts["goodness"])
        subs = {
            k.split(".", 1)[1]: {"value": num(v[i]), "ci_low": num(lo_[i]), "ci_high": num(hi_[i])}
            for k, (v, lo_, hi_) in parts.items()
            if k != "goodness" and not np.isnan(v[i])
        }
        out.append({"value": value, "ci_low": lo, "ci_high": hi, "subdomains": subs})
    return out


def _signal_entries(i: int, result: Blend, sigs: dict[str, Signal], lists: dict) -> dict:
    """The row's ``signals``; ``lists`` holds the per-model arrays as Python lists (indexing
    a list is ten times cheaper than a numpy array, for 4,623 models x 5 signals)."""
    entry: dict = {}
    present = lists["weight_present"][i]
    for key, w in result.weights.items():
        sig = sigs.get(key)
        raw_val = None
        if sig is not None:
            raw_val = sig.raw[i] if sig.raw is not None else num(lists["value"][key][i])
        norm = lists["scaled"][key][i]
        known = not math.isnan(norm)
        entry[key] = {
            "raw": raw_val,
            "normalized": num(norm),
            "weight": round(w, 6),
            "contribution": num(w / present * norm) if known else None,
        }
    return entry


def build_rows(pool: Pool, result: Blend, sigs: dict[str, Signal], confidence: float) -> list:
    """One row per ranked model, best first."""
    good = goodness_blocks(sigs, pool.size, confidence)
    fast = _with_interval(sigs["efficiency"], confidence)
    lists = {
        "weight_present": np.asarray(result.weight_present, dtype=float).tolist(),
        "scaled": {k: np.asarray(v, dtype=float).tolist() for k, v in result.scaled.items()},
        "value": {k: np.asarray(s.value, dtype=float).tolist() for k, s in sigs.items()},
    }
    rows = []
    for i in np.flatnonzero(result.eligible):
        facts = pool.facts[i]
        row = {
            "model": pool.names[i],
            "score": num(result.score[i]),
            "ci_low": num(result.ci_low[i]),
            "ci_high": num(result.ci_high[i]),
            "rank": int(result.rank[i]),
            "rank_ub": int(result.rank_ub[i]),
            "rank_low": int(result.rank_low[i]),
            "tier": int(result.tier[i]),
            "coverage": num(result.coverage[i]),
            "missing_signals": [k for k in result.weights if math.isnan(lists["scaled"][k][i])],
            "signals": _signal_entries(i, result, sigs, lists),
            "goodness": good[i],
            "fastness": None
            if fast is None or np.isnan(fast[0][i])
            else {"value": num(fast[0][i]), "ci_low": num(fast[1][i]), "ci_high": num(fast[2][i])},
            "vram_gb": num(pool.vram[i]),
            "parameters_b": facts.parameters_b if facts else None,
            "precision": facts.precision if facts else None,
            "architecture": facts.architecture if facts else None,
            "license": facts.license if facts else None,
            "base_model": pool.names[pool.base_of[i]] if i in pool.base_of else None,
        }
        if i in pool.inherited:
            row["inherited_from"] = pool.names[pool.inherited[i]]
        rows.append(row)
    rows.sort(key=lambda r: (r["rank"], r["model"].lower()))
    return rows


def _precision_class(precision: str | None) -> float:
    return bytes_per_parameter(precision)[0]


def variants_table(pool: Pool, rows: list[dict], sigs: dict[str, Signal]) -> dict:
    """Variants (quantized or derived) side by side with their base.

    ``penalty`` is the base's benchmark average minus the variant's (v2
    points): ``measured`` when both have scores; else ``assumed``: the median
    measured penalty of the pool's variants with the same bytes per weight,
    or 0 (equal to the base) when none is measured, and the rule says which.
    """
    ranked = {r["model"]: r for r in rows}
    bench = sigs["benchmarks"].value
    measured: dict[float, list[float]] = {}
    for child, parent in pool.base_of.items():
        if np.isfinite(bench[child]) and np.isfinite(bench[parent]):
            cls = _precision_class(pool.facts[child].precision if pool.facts[child] else None)
            measured.setdefault(cls, []).append(float(bench[parent] - bench[child]))

    def side(i: int, base: int | None) -> dict:
        r = ranked.get(pool.names[i])
        precision = pool.facts[i].precision if pool.facts[i] else None
        out = {
            "model": pool.names[i],
            "precision": precision,
            "vram_gb": num(pool.vram[i]),
            "benchmarks": num(bench[i]),
            "score": r["score"] if r else None,
            "rank": r["rank"] if r else None,
            "inherited": i in pool.inherited,
        }
        if base is None:
            return out
        if np.isfinite(bench[i]) and np.isfinite(bench[base]):
            out["penalty"] = {"value": num(bench[base] - bench[i]), "kind": "measured"}
            return out
        same = measured.get(_precision_class(precision), [])
        out["penalty"] = {
            "value": num(np.median(same)) if same else 0.0,
            "kind": "assumed",
            "rule": (
                f"median measured penalty of {len(same)} variants with the same bytes per weight"
                if same
                else "no variant of this precision measured: assumed equal to its base"
            ),
        }
        return out

    table: dict[str, list[dict]] = {}
    for child, parent in pool.base_of.items():
        group = table.setdefault(pool.names[parent], [side(parent, None)])
        group.append(side(child, parent))
    return table
