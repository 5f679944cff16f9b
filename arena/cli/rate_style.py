"""``arena rate`` with per-battle options: ``--style-control``, ``--reweight``, ``--dedup``,
``--max-votes-per-rater-day``, ``--robustness`` (from a file or the database)."""

from __future__ import annotations

import os

import click
import numpy as np

from arena.cli.common import text_table
from arena.style_rating import Options, VoteColumns, needs_battles, rate_battles
from rating.errors import RatingError
from rating.snapshot import Result

__all__ = ["Options", "needs_battles", "rate_from_source", "table_text"]


def rate_from_source(
    input_path,
    engine,
    opts: Options,
    method,
    category,
    source=None,
    include_leaked: bool = False,
    **options,
) -> Result:
    """Rate a file's or the database's battles with ``opts``; click errors for bad input."""
    if method != "bt":
        raise click.UsageError(
            "--style-control, --reweight, --dedup, --max-votes-per-rater-day and --robustness "
            "work with --method bt"
        )
    if options.get("ci") is None:
        options["ci"] = "sandwich" if (opts.style_control or opts.reweight) else "bootstrap"
    if options["ci"] != "bootstrap":
        options["rounds"] = 0
    scope = {"category": category or "", "source": source or "", "rater_group": ""}
    if input_path:
        from arena.importers.style_battles import StyleFileError, read_style_file

        try:
            data = read_style_file(input_path, need_features=opts.style_control)
        except StyleFileError as exc:
            raise click.ClickException(str(exc)) from None
        battles = data.battles
        cols = VoteColumns(data.prompt, data.rater, data.day, data.order, data.anonymous)
        if category is not None or source is not None:
            keep = np.ones(battles.a.size, bool)
            if category is not None:
                keep &= data.category == category
            if source is not None:
                keep &= data.source == source
            if not keep.any():
                raise click.ClickException("no battles in this scope")
            battles = battles.subset(keep)
            cols = VoteColumns(
                data.prompt[keep],
                data.rater[keep],
                data.day[keep],
                data.order[keep],
                data.anonymous[keep],
            )
        origin = {"file": os.path.basename(str(input_path)), "features": data.feature_source}
    else:
        from arena.scope import Scope
        from arena.style_store import load_battles

        chosen = Scope.of(category, source)  # the database: human votes unless asked
        scope = chosen.stored()
        try:
            battles, cols, origin = load_battles(
                engine,
                category=chosen.filters[0],
                source=chosen.filters[1],
                include_leaked=include_leaked,
            )
        except RatingError as exc:
            raise click.ClickException(str(exc)) from None
    try:
        result = rate_battles(battles, cols, opts, scope=scope, **options)
    except RatingError as exc:
        raise click.ClickException(str(exc)) from None
    result.meta["input"] = origin
    return result


def table_text(result: Result) -> str:
    """The table, with a "vs plain" column (style control: places moved against plain BT)
    and a "swap" column (robustness: votes whose removal would swap a model with the next)."""
    meta = result.meta
    style = meta.get("style")
    robust = {e["upper"]: e for e in meta.get("robustness", [])}
    conf = round(100 * meta.get("confidence", 0.95))
    head = ["rank", "tier", "model", "rating", f"{conf}% CI"]
    if style:
        head.append("vs plain")
    if robust:
        head.append("swap")
    head += ["battles", "W/L/T"]
    lines = []
    for row in result.rows():
        ci = (
            "-"
            if meta.get("ci") == "none"
            else f"-{row['rating'] - row['ci_low']:.1f}/+{row['ci_high'] - row['rating']:.1f}"
        )
        cells = [str(row["rank_ub"]), str(row["tier"]), row["model"], f"{row['rating']:.1f}", ci]
        if style:
            change = style["plain_bt"][row["model"]]["rank_change"]
            cells.append(f"{change:+d}" if change else "0")
        if robust:
            e = robust.get(row["model"])
            cells.append(_swap_cell(e))
        cells += [
            _n(row["battles"]),
            f"{_n(row['wins'])}/{_n(row['losses'])}/{_n(row['ties'])}",
        ]
        lines.append(cells)
    left = {2, 4, len(head) - 1}
    out = text_table(head, lines, left)
    notes = [
        f"method bt{' with style control' if style else ''}, {meta.get('battles')} battles "
        f"(weighted), {meta.get('models_rated')} models, intervals: {meta.get('ci')}"
        + (
            f" ({meta.get('bootstrap_rounds')} rounds, seed {meta.get('seed')})"
            if meta.get("ci") == "bootstrap"
            else ""
        )
    ]
    if style:
        parts = []
        for name, c in style["coefficients"].items():
            ci_txt = (
                f" [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]" if c["ci_low"] is not None else ""
            )
            parts.append(f"{name} {c['gamma']:+.3f}{ci_txt}")
        notes.append(
            "style coefficients (log-odds per unit of scaled feature): " + "; ".join(parts)
        )
        notes.append("vs plain: places moved against plain Bradley-Terry on the same votes")
    f = meta.get("filters", {})
    dropped = []
    if f.get("not_anonymous_dropped"):
        dropped.append(f"{f['not_anonymous_dropped']} not anonymous")
    if "dedup" in f:
        dropped.append(
            f"{f['dedup']['votes_dropped']} by --dedup (threshold "
            f"{f['dedup']['threshold']:.1f} votes per prompt)"
            if f["dedup"]["threshold"] is not None
            else "0 by --dedup (no prompts known)"
        )
    if "rater_day_cap" in f:
        dropped.append(f"{f['rater_day_cap']['votes_dropped']} over the daily cap")
    if dropped:
        notes.append(f"votes: {f.get('votes_in')} read, left out: " + ", ".join(dropped))
    if "reweight" in f:
        notes.append(f"reweighted: 1/max(pair count, {f['reweight']['m']:g}), sandwich intervals")
    if robust:
        notes.append(
            "swap: votes whose removal would swap a model with the next one (first-order "
            "estimate; * = checked by an exact refit, then the votes that did swap it)"
        )
    return "\n".join(out + [""] + notes) + "\n"


def _n(x) -> str:
    """A count: whole, or with one decimal when weighted."""
    return f"{x:g}" if float(x).is_integer() else f"{x:.1f}"


def _swap_cell(e) -> str:
    if e is None:
        return ""
    if e["estimate"] is None:
        return "never"
    v = e.get("verified")
    if v is None:
        return str(e["estimate"])
    return f"{v['votes']}*" if v["swapped"] else f">{v['votes']}"
