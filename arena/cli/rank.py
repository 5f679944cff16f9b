"""``arena rank``: the composite rank (arena rating blended with benchmarks,
popularity, recency and efficiency), with an interval, rank (UB) and tiers.

Reads the database (the newest human-vote rating snapshot and the imported
signals), or files alone when any of ``--ratings``, ``--benchmarks``, ``--popularity``,
``--aliases``, ``--models``, ``--efficiency`` is given (no database is opened
then). Defaults come from ``[rank]`` in the settings.
"""

from __future__ import annotations

import csv
import io
import json
import sys

import click

from arena import __version__
from arena.cli.common import database_error, settings_option, text_table, write_output
from arena.files import FileError
from arena.rank_options import arena_source, rank_options
from rating.composite import WeightError, rank_models
from rating.composite.aggregate import AGGREGATORS
from rating.composite.explain import explain, explain_text
from rating.composite.normalize import METHODS


def _fmt(x, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def render_table(result) -> str:
    names = list(result.meta["weights"])
    conf = f"{100 * result.meta.get('confidence', 0.95):g}%"
    head = ["rank", "rank_ub", "tier", "model", "score", f"{conf} interval", "coverage"] + names
    lines = []
    for r in result.rows:
        lines.append(
            [
                str(r["rank"]),
                str(r["rank_ub"]),
                str(r["tier"]),
                r["model"] + (" (inherited)" if r.get("inherited_from") else ""),
                _fmt(r["score"]),
                f"{_fmt(r['ci_low'])}..{_fmt(r['ci_high'])}",
                _fmt(r["coverage"], 2),
            ]
            + [_fmt(r["signals"][k]["normalized"], 3) for k in names]
        )
    out = text_table(head, lines, left={3}, rule=False)
    meta = result.meta
    out.append("")
    out.append(
        "weights: "
        + ", ".join(f"{k}={v:.3f}" for k, v in meta["weights"].items())
        + f"; normalize={meta['normalization']}, aggregate={meta['aggregate']}, "
        f"arena mode={meta['arena_mode']}"
    )
    for src, missing in meta["missing"].items():
        if missing:
            out.append(f"not in {src}: {len(missing)} of {meta['pool']} models")
    if meta["excluded"]:
        out.append(f"left out: {len(meta['excluded'])} (see --format json)")
    if meta["signals_without_data"]:
        out.append("no data for: " + ", ".join(meta["signals_without_data"]))
    out.append(
        f"name joins: {len(meta['matched_names'])}, refused: {len(meta['refused_matches'])} "
        "(see --show-matches)"
    )
    return "\n".join(out)


def render_matches(result) -> str:
    """Every join of two spellings and why, the refused candidates and the unmatched."""
    meta = result.meta
    out = [f"joined ({len(meta['matched_names'])}):"]
    for j in meta["matched_names"]:
        out.append(f"  {j['input']:<11} {j['name']}  ->  {j['model']}   [{j['why']}]")
    out.append(f"refused ({len(meta['refused_matches'])}):")
    for r in meta["refused_matches"]:
        out.append(f"  {r['name']}  x  {r['candidate']}   [{r['why']}]")
    for src, missing in meta["missing"].items():
        out.append(f"not in {src} ({len(missing)} of {meta['pool']}):")
        out.extend(f"  {m}" for m in missing)
    return "\n".join(out)


def render_csv(result) -> str:
    names = list(result.meta["weights"])
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(
        ["rank", "rank_ub", "rank_low", "tier", "model", "score", "ci_low", "ci_high"]
        + ["coverage", "missing_signals"]
        + [f"{k}_normalized" for k in names]
    )
    for r in result.rows:
        writer.writerow(
            [
                r["rank"],
                r["rank_ub"],
                r["rank_low"],
                r["tier"],
                r["model"],
                r["score"],
                r["ci_low"],
                r["ci_high"],
                r["coverage"],
                " ".join(r["missing_signals"]),
            ]
            + [
                "" if r["signals"][k]["normalized"] is None else r["signals"][k]["normalized"]
                for k in names
            ]
        )
    return buf.getvalue()


def _json(data) -> str:
    """Indented JSON, except that a top-level list of objects (the models) has one object
    per line: ``json.dumps(indent=...)`` runs json's pure-Python encoder, which took 4 s
    of the 12 s ``arena rank`` spent on the v2 file's 4,623 models; each line here is
    written by the C encoder."""
    if not isinstance(data, dict):
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    parts = []
    for key, value in data.items():
        name = json.dumps(key, ensure_ascii=False)
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            lines = ",\n".join("    " + json.dumps(v, ensure_ascii=False) for v in value)
            parts.append(f"  {name}: [\n{lines}\n  ]")
        else:
            text = json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")
            parts.append(f"  {name}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def render(result, fmt: str, show_matches: bool, explain_model: str | None) -> str:
    """The text ``arena rank`` writes: the matches, an explanation, or the ranking."""
    if show_matches:
        keys = ("matched_names", "refused_matches", "missing")
        if fmt == "json":
            return _json({k: result.meta[k] for k in keys})
        return render_matches(result) + "\n"
    if explain_model:
        try:
            info = explain(result, explain_model)
        except KeyError as exc:
            raise click.ClickException(exc.args[0]) from None
        return _json(info) if fmt == "json" else explain_text(info) + "\n"
    if fmt == "json":
        return _json({"meta": result.meta, "models": result.rows})
    if fmt == "csv":
        return render_csv(result)
    return render_table(result) + "\n"


def _db_inputs(settings, category, vote_source, rater_group):
    from sqlalchemy.exc import SQLAlchemyError

    from arena import runtime
    from arena.composite_db import load_db_inputs

    try:
        return load_db_inputs(
            runtime.configure(settings).engine,
            settings["rating"]["method"],
            category or "",
            arena_source(settings, vote_source),
            rater_group,
        )
    except SQLAlchemyError as exc:
        raise database_error(exc, "nothing ranked") from None


@click.command("rank")
@click.option(
    "--ratings",
    type=click.Path(dir_okay=False),
    help="Ratings file: `arena rate --format json` output, or the lmsys CSV.",
)
@click.option(
    "--benchmarks",
    type=click.Path(dir_okay=False),
    help="Benchmarks file: Open LLM Leaderboard v2 CSV or long CSV.",
)
@click.option(
    "--popularity",
    type=click.Path(dir_okay=False),
    help="Popularity CSV: model, downloads, likes, date.",
)
@click.option("--aliases", type=click.Path(dir_okay=False), help="Aliases CSV: alias, model.")
@click.option(
    "--models",
    "models_file",
    type=click.Path(dir_okay=False),
    help="Model metadata: JSONL or the Open LLM Leaderboard v2 CSV.",
)
@click.option(
    "--efficiency",
    type=click.Path(dir_okay=False),
    help="Speed facts JSONL (LLMFAO results.jsonl works as is).",
)
@click.option(
    "--weight",
    "weights",
    multiple=True,
    metavar="SIGNAL=W",
    help="Weight of a signal (repeatable): arena, benchmarks, benchmarks.<name>, "
    "popularity, recency, efficiency, goodness, goodness.<subdomain>.",
)
@click.option(
    "--normalize",
    type=click.Choice(METHODS),
    default=None,
    help="Per-signal normalization (default: [rank] normalize).",
)
@click.option(
    "--aggregate",
    type=click.Choice(AGGREGATORS),
    default=None,
    help="Aggregator (default: [rank] aggregate).",
)
@click.option(
    "--category",
    default=None,
    help="Category sub-rank: the category's arena ratings and benchmarks.",
)
@click.option(
    "--source",
    "vote_source",
    default=None,
    help="DB mode: the vote source of the arena rating snapshot "
    "(default: [rank] arena_source, 'human'; 'judge:NAME'; 'all' = every vote).",
)
@click.option("--rater-group", default="", help="DB mode: the rater group of the snapshot.")
@click.option(
    "--max-vram-gb", type=float, default=None, help="Keep only models whose estimated VRAM fits."
)
@click.option(
    "--arena-mode",
    type=click.Choice(["rating", "tier"]),
    default="rating",
    show_default=True,
    help="Use the arena rating, or its tier's mean rating.",
)
@click.option(
    "--min-coverage",
    type=click.FloatRange(0, 1),
    default=None,
    help="Least share of the weight a model must have signals for.",
)
@click.option(
    "--half-life-days",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Half-life of the recency boost (default: [rank] recency_half_life_days).",
)
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Reference day for recency (default: today).",
)
@click.option(
    "--inherit-base",
    is_flag=True,
    help="A variant with no arena rating inherits its base model's (marked).",
)
@click.option(
    "--replicates",
    type=click.IntRange(0, 100000),
    default=None,
    help="Replicates for the interval (default: [rank] replicates; 0 = none).",
)
@click.option("--seed", type=int, default=None, help="Random seed (default: [rating] seed).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write to FILE instead of standard output.",
)
@click.option(
    "--by",
    type=click.Choice(["composite", "goodness", "fastness"]),
    default="composite",
    show_default=True,
    help="Rank by the composite, by benchmark goodness alone, or by fastness alone.",
)
@click.option(
    "--subdomain",
    default=None,
    help="With --by goodness: one subdomain (reasoning, knowledge, math, "
    "instruction_following, coding).",
)
@click.option(
    "--show-matches",
    is_flag=True,
    help="List every name join and why, the refused candidates and the unmatched models.",
)
@click.option(
    "--explain",
    "explain_model",
    default=None,
    metavar="MODEL",
    help="Say how each signal moved MODEL.",
)
@settings_option
def rank(
    ratings,
    benchmarks,
    popularity,
    aliases,
    models_file,
    efficiency,
    weights,
    normalize,
    aggregate,
    category,
    vote_source,
    rater_group,
    max_vram_gb,
    arena_mode,
    min_coverage,
    half_life_days,
    as_of,
    inherit_base,
    replicates,
    seed,
    by,
    subdomain,
    show_matches,
    fmt,
    output,
    explain_model,
    settings,
) -> None:
    """Rank models by a composite of arena rating, benchmarks, popularity, recency
    and efficiency, with an interval ([rating] confidence, default 95%), rank (UB) and tiers."""
    files = any([ratings, benchmarks, popularity, aliases, models_file, efficiency])
    try:
        if files:  # no database or Redis client in file mode (each costs start-up time)
            from arena.composite_files import load_file_inputs

            inputs, inputs_meta = load_file_inputs(
                ratings, benchmarks, popularity, aliases, models_file, efficiency
            )
        else:
            inputs, inputs_meta = _db_inputs(settings, category, vote_source, rater_group)
    except (FileError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    if subdomain and by != "goodness":
        raise click.UsageError("--subdomain goes with --by goodness")
    try:
        opts = rank_options(
            settings,
            weights=weights,
            normalize=normalize,
            aggregate=aggregate,
            min_coverage=min_coverage,
            half_life_days=half_life_days,
            arena_mode=arena_mode,
            category=category,
            max_vram_gb=max_vram_gb,
            replicates=replicates,
            seed=seed,
            as_of=as_of.date() if as_of else None,
            inherit_base=inherit_base,
            by=f"goodness.{subdomain}" if subdomain else by,
        )
    except WeightError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        result = rank_models(inputs, opts)
    except (ValueError, WeightError) as exc:
        raise click.UsageError(str(exc)) from None
    result.meta = {
        "version": __version__,
        "mode": "files" if files else "database",
        "inputs": inputs_meta,
        **result.meta,
    }
    text = render(result, fmt, show_matches, explain_model)
    if output:
        write_output(text, output)
        click.echo(f"wrote {len(result.rows)} models to {output}", err=True)
    else:
        sys.stdout.write(text)


COMMANDS = [rank]
