"""How each signal moved one model's composite."""

from __future__ import annotations

import numpy as np

from rating.composite.blend import competition_rank, point_scores


def explain(result, model: str) -> dict:
    """Per-signal account of one model's score.

    For every weighted signal: its raw value, normalized value, the weight it
    actually carried for this model (missing signals carry none; the others
    are rescaled), its contribution to the score, how far that contribution
    is above or below what the pool's average value on that signal would
    have given (``moved``), and the rank the model would have without the
    signal (its weight spread over the other signals, for every model).

    Raises ``KeyError`` when the model is not ranked.
    """
    names = [n.lower() for n in result.names]
    key = model.strip().lower()
    if key not in names:
        raise KeyError(f"model {model!r} is not in the pool")
    i = names.index(key)
    b = result.blend
    if not b.eligible[i]:
        reason = next(
            (e["reason"] for e in result.meta["excluded"] if e["model"].lower() == key),
            "not ranked",
        )
        raise KeyError(f"model {result.names[i]!r} is not ranked: {reason}")
    elig = b.eligible
    row = next(r for r in result.rows if r["model"].lower() == key)
    cov = b.weight_present[i]
    lines = []
    for name, w in b.weights.items():
        x = b.scaled[name]
        mine = x[i]
        pool_mean = float(np.nanmean(x[elig])) if np.isfinite(x[elig]).any() else float("nan")
        without = point_scores(
            {k: np.where(elig, v, np.nan) for k, v in b.scaled.items()}, b.weights, drop=name
        )
        without = np.where(elig, without, np.nan)
        rank_without = int(competition_rank(without)[i]) if np.isfinite(without[i]) else None
        if np.isnan(mine):
            lines.append(
                {
                    "signal": name,
                    "raw": None,
                    "normalized": None,
                    "weight": w,
                    "share": 0.0,
                    "contribution": 0.0,
                    "moved": 0.0,
                    "pool_mean": pool_mean,
                    "rank_without": rank_without,
                    "note": "missing: its weight was spread over the signals it has",
                }
            )
            continue
        share = w / cov
        lines.append(
            {
                "signal": name,
                "raw": row["signals"][name]["raw"],
                "normalized": float(mine),
                "weight": w,
                "share": float(share),
                "contribution": float(share * mine),
                "moved": float(share * (mine - pool_mean)),
                "pool_mean": pool_mean,
                "rank_without": rank_without,
            }
        )
    lines.sort(key=lambda d: -abs(d["moved"]))
    return {
        "model": result.names[i],
        "score": row["score"],
        "ci_low": row["ci_low"],
        "ci_high": row["ci_high"],
        "rank": row["rank"],
        "rank_ub": row["rank_ub"],
        "tier": row["tier"],
        "coverage": row["coverage"],
        "ranked": int(elig.sum()),
        "signals": lines,
    }


def explain_text(info: dict) -> str:
    """A readable account of :func:`explain`'s answer."""
    out = [
        f"{info['model']}: score {info['score']:.4f} "
        f"[{info['ci_low']:.4f}, {info['ci_high']:.4f}], rank {info['rank']} "
        f"of {info['ranked']} (rank UB {info['rank_ub']}, tier {info['tier']}), "
        f"coverage {info['coverage']:.2f}"
    ]
    for s in info["signals"]:
        if s["normalized"] is None:
            out.append(
                f"  {s['signal']:<16} missing (weight {s['weight']:.3f} spread over the "
                f"others); rank without it: {s['rank_without']}"
            )
            continue
        direction = "up" if s["moved"] >= 0 else "down"
        out.append(
            f"  {s['signal']:<16} raw {_fmt(s['raw'])}, normalized {s['normalized']:.3f} "
            f"(pool mean {s['pool_mean']:.3f}), weight {s['weight']:.3f} -> share "
            f"{s['share']:.3f}: contributes {s['contribution']:.4f}, moved it {direction} "
            f"{abs(s['moved']):.4f}; rank without it: {s['rank_without']}"
        )
    return "\n".join(out)


def _fmt(raw) -> str:
    if isinstance(raw, dict):
        return "{" + ", ".join(f"{k}={v}" for k, v in raw.items() if v is not None) + "}"
    if isinstance(raw, float):
        return f"{raw:.4g}"
    return str(raw)
