"""``arena rate``: ratings with intervals, ranks and tiers from a file or the database."""

from __future__ import annotations

import csv
import io
import os
import sys
from contextlib import contextmanager
from datetime import UTC, datetime

import click

from arena.cli.common import settings_option, text_table, write_output
from rating.errors import RatingError
from rating.snapshot import Result, dumps, plain_number

PROGRESS_MIN_ROUNDS = 200


def _anchor(value):
    if value is None:
        return None
    name, sep, number = value.rpartition("=")
    if not sep or not name:
        raise click.BadParameter(
            "use MODEL=RATING, e.g. mixtral-8x7b-instruct-v0.1=1114", param_hint="--anchor"
        )
    try:
        return name, float(number)
    except ValueError:
        raise click.BadParameter(f"{number!r} is not a number", param_hint="--anchor") from None


@contextmanager
def _progress(total: int, enabled: bool):
    """A rich progress bar on stderr for long bootstraps (only on a terminal)."""
    if not enabled or total < PROGRESS_MIN_ROUNDS or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("bootstrap"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("bootstrap", total=total)
        yield lambda n: bar.advance(task, n)


def _table_text(result: Result) -> str:
    conf = round(100 * result.meta["confidence"])
    comp = result.component is not None
    head = (["comp"] if comp else []) + [
        "rank",
        "tier",
        "model",
        "rating",
        f"{conf}% CI",
        "battles",
        "W/L/T",
    ]
    lines = []
    for row in result.rows():
        if result.meta["ci"] == "none":
            ci = "-"
        else:
            ci = f"-{row['rating'] - row['ci_low']:.1f}/+{row['ci_high'] - row['rating']:.1f}"
        lines.append(
            ([str(row["component"] + 1)] if comp else [])
            + [
                str(row["rank_ub"]),
                str(row["tier"]),
                row["model"],
                f"{row['rating']:.1f}",
                ci,
                f"{row['battles']:g}",
                f"{row['wins']:g}/{row['losses']:g}/{row['ties']:g}",
            ]
        )
    left = {k + int(comp) for k in (2, 4, 6)}  # model, interval, W/L/T
    out = text_table(head, lines, left)
    meta = result.meta
    notes = [
        f"method {meta['method']}, {meta.get('battles')} battles, "
        f"{meta.get('models_rated')} models, intervals: {meta.get('ci')}"
        + (
            f" ({meta.get('bootstrap_rounds')} rounds, seed {meta.get('seed')})"
            if meta.get("ci") == "bootstrap"
            else ""
        )
    ]
    if meta.get("excluded", {}).get("count"):
        notes.append(
            f"left out (under {meta['min_battles']} battles): "
            f"{', '.join(meta['excluded']['models'])}"
        )
    for fit in meta.get("fits", [meta]):
        if fit.get("prior"):
            reason = fit.get("prior_reason", {})
            who = ", ".join(
                f"{k.replace('_', ' ')}: {', '.join(v)}"
                for k, v in reason.items()
                if isinstance(v, list) and v
            )
            notes.append(
                f"tiny prior N(0, 1/{fit['prior']}) on log-strength used "
                f"({who or 'forced'}): the maximum-likelihood ratings are infinite"
            )
    if meta.get("components", {}).get("count", 1) > 1:
        c = meta["components"]
        notes.append(
            f"{c['count']} components ({c['policy']}): ratings are comparable only "
            "within a component"
            if c["policy"] == "each"
            else f"{c['count']} components: kept the largest, left out "
            f"{', '.join(c.get('dropped', []))}"
        )
    params = meta.get("parameters", {})
    if "left_advantage" in params:
        lo, hi = params.get("left_advantage_ci", [None, None])
        extra = f" [{lo:.1f}, {hi:.1f}]" if lo is not None else ""
        notes.append(f"left advantage {params['left_advantage']:+.1f} rating points{extra}")
    if "tie_nu" in params:
        notes.append(f"Davidson tie parameter nu {params['tie_nu']:.4f}")
    return "\n".join(out + [""] + notes) + "\n"


def _csv_text(result: Result) -> str:
    buf = io.StringIO()
    rows = result.rows()
    writer = csv.DictWriter(
        buf, fieldnames=list(rows[0]) if rows else ["model"], lineterminator="\n"
    )
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _write(text: str, output: str | None) -> None:
    if output is None:
        click.echo(text, nl=False)
    else:
        write_output(text, output)


def _read_while_importing(path, time_order: bool):
    """The battle file, read while another thread imports the rating engine.

    polars reads the file in native code without the GIL, so the engine's imports
    (scipy: about half a second) overlap the read instead of following it. polars is
    imported first: imports hold the GIL, so importing both at once would only delay
    the start of the read. Returns ``(battles, rating.engine)``.
    """
    import importlib
    from concurrent.futures import ThreadPoolExecutor

    from arena.cli import collector

    with collector.paused():  # imports and columns: no cyclic garbage to look for
        import polars  # noqa: F401 (before the engine's imports start: see above)

        from arena.battle_files import BattleFileError, read

        with ThreadPoolExecutor(1) as pool:
            engine = pool.submit(importlib.import_module, "rating.engine")
            try:
                battles = read(path, time_order=time_order)
            except BattleFileError as exc:
                raise click.ClickException(str(exc)) from None
            return battles, engine.result()


def _from_file(path, method, category, source, group, options, elo_k, progress):
    battles, engine = _read_while_importing(path, method == "elo")
    rate_elo, elo_options, rate_counts = engine.rate_elo, engine.elo_options, engine.rate
    scope = {"category": category or "", "source": source or "", "rater_group": group or ""}
    if method == "elo":
        seq = battles.sequence
        if seq is None:
            raise click.ClickException(
                f"{path}: aggregated counts have no battle order; Elo needs the battles "
                "themselves (use --method bt or davidson)"
            )
        keep = battles.scope_mask(category, source, group)
        if not keep.any():
            raise click.ClickException("no battles in this scope")
        result = rate_elo(
            seq["left"][keep],
            seq["right"][keep],
            seq["outcome"][keep],
            battles.table.models,
            scope=scope,
            **({} if elo_k is None else {"k": elo_k}),
            progress=progress,
            **elo_options(options),
        )
        result.meta["time_ordered"] = seq["time_ordered"]
    else:
        pairs = battles.select(category, source, group)
        if pairs.total == 0:
            raise click.ClickException("no battles in this scope")
        result = rate_counts(pairs, method, scope=scope, progress=progress, **options)
    result.meta["input"] = {"file": os.path.basename(str(path)), "format": battles.format}
    if battles.sequence is not None and not battles.sequence["left_recorded"]:
        result.meta["positions"] = "assumed: model_a shown left (no 'left' column)"
    return result


def _rate_battles(
    config,
    style_opts,
    input_path,
    method,
    ci,
    rounds,
    seed,
    confidence,
    anchor,
    min_battles,
    category,
    source,
    group,
    progress,
    out,
    include_leaked=False,
) -> None:
    """Rate per battle (style control, reweighting, de-duplication, rater caps, robustness:
    :mod:`arena.cli.rate_style`) and write the result as ``out`` (format, replicates,
    matrices, timestamp, output) asks."""
    from arena.cli import rate_style

    settings = config["rating"]
    if group is not None:
        raise click.UsageError("--rater-group does not apply to these options yet")
    rounds = settings["bootstrap"] if rounds is None else rounds
    boot = ci == "bootstrap" or (
        ci is None and not (style_opts.style_control or style_opts.reweight)
    )
    with _progress(rounds if boot else 0, progress) as tick:
        result = rate_style.rate_from_source(
            input_path,
            None if input_path else _runtime(config).engine,
            style_opts,
            method,
            category,
            source,
            include_leaked=include_leaked,
            progress=tick,
            rounds=rounds,
            ci=ci,
            seed=settings["seed"] if seed is None else seed,
            confidence=settings["confidence"] if confidence is None else confidence,
            anchor=anchor,
            min_battles=plain_number(
                settings["min_battles"] if min_battles is None else min_battles
            ),
        )
    _emit(result, out, rate_style.table_text)


def _rate_options(
    settings, ci, rounds, seed, confidence, anchor, min_battles, components, solver, store
) -> dict:
    """``rate`` keyword arguments: the options given, else the ``[rating]`` settings."""
    rounds = settings["bootstrap"] if rounds is None else rounds
    return {
        "ci": ci,
        "rounds": rounds if ci == "bootstrap" else 0,
        "seed": settings["seed"] if seed is None else seed,
        "confidence": settings["confidence"] if confidence is None else confidence,
        "anchor": anchor,
        "min_battles": plain_number(
            settings["min_battles"] if min_battles is None else min_battles
        ),
        "components": components or (settings["components"] if store else "refuse"),
        "solver": solver,
    }


def _runtime(config):
    """The database (and Redis) clients, made only when the database is used."""
    from arena import runtime

    return runtime.configure(config)


def _check_method_options(method, ci, solver, left_advantage, components, elo_k) -> None:
    """Refuse options the method has no use for (one line each)."""
    if method == "elo" and ci == "sandwich":
        raise click.UsageError("Elo has no sandwich interval: use --ci bootstrap or --ci none")
    if left_advantage and method != "davidson":
        raise click.UsageError("--left-advantage needs --method davidson")
    if solver != "exact" and method != "bt":
        raise click.UsageError("--solver choix applies to Bradley-Terry only (--method bt)")
    if components is not None and method == "elo":
        raise click.UsageError("--components does not apply to Elo (it rates every battle)")
    if elo_k is not None and method != "elo":
        raise click.UsageError("--elo-k needs --method elo")


def _refuse_with_store(input_path, fmt, output, replicates, matrices, timestamp) -> None:
    """``--store`` prints a report of what it stored: output options have nothing to shape."""
    if input_path:
        raise click.UsageError("--store works on the database, not with --input")
    given = [
        name
        for name, used in (
            ("--format", fmt != "table"),
            ("--output", output is not None),
            ("--replicates", replicates),
            ("--matrices", matrices),
            ("--timestamp", timestamp),
        )
        if used
    ]
    if given:
        raise click.UsageError(
            f"{', '.join(given)} shape a printed rating; --store prints what it stored "
            "(read a snapshot with GET /api/v1/leaderboard)"
        )


def _store(rt, settings, method, options, elo_k, scope, progress, style_control) -> None:
    """Recompute and store snapshots with these options (and the style-controlled ones with
    ``style_control``); print one line per scope."""
    from arena import rating_store

    scopes = None if all(v is None for v in scope) else [scope]
    with _progress(options["rounds"], progress) as tick:
        try:
            report = rating_store.recompute(
                rt.engine,
                settings,
                scopes,
                method=method,
                progress=tick,
                options=options,
                elo_k=elo_k,
            )
        except RatingError as exc:
            raise click.ClickException(str(exc)) from None
    if style_control:
        from arena.style_store import recompute_style

        report += recompute_style(rt.engine, {**settings, "min_battles": options["min_battles"]})
    for line in report:
        where = "/".join(x or "*" for x in (line["category"], line["source"], line["rater_group"]))
        if "error" in line:
            click.echo(f"{where}: not stored: {line['error']}")
        else:
            click.echo(
                f"{where}: snapshot {line['snapshot']} ({line['models']} models, "
                f"{line['votes']} votes)" + (f" [{line['method']}]" if "method" in line else "")
            )
    if not report:
        click.echo("no votes in the database: nothing stored")


@click.command("rate")
@click.option(
    "--input",
    "input_path",
    type=click.Path(dir_okay=False),
    help="Battle file (CSV, JSONL, Parquet, FastChat JSON, LMArena's releases or "
    "aggregated {models,X,Y}); default: the database.",
)
@click.option(
    "--method",
    type=click.Choice(["bt", "davidson", "elo"]),
    default=None,
    help="Bradley-Terry, Davidson (ties as outcome) or online Elo (default: [rating] method).",
)
@click.option(
    "--ci",
    type=click.Choice(["bootstrap", "sandwich", "none"]),
    default=None,
    help="Interval method (default: sandwich with --style-control or --reweight, as LMArena; "
    "else bootstrap).",
)
@click.option(
    "--bootstrap",
    "rounds",
    type=click.IntRange(0),
    default=None,
    help="Bootstrap rounds (default: [rating] bootstrap).",
)
@click.option("--seed", type=int, default=None, help="Bootstrap seed (default: [rating] seed).")
@click.option(
    "--confidence",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    help="Interval coverage (default: [rating] confidence).",
)
@click.option(
    "--anchor",
    callback=lambda c, p, v: _anchor(v),
    metavar="MODEL=RATING",
    help="Shift ratings so MODEL has RATING (default: mean 1000).",
)
@click.option(
    "--category",
    default=None,
    help="Only this category (files: also a category flag such as math or is_code).",
)
@click.option("--source", default=None, help="Only this source (human, judge:NAME).")
@click.option("--rater-group", "group", default=None, help="Only this rater group.")
@click.option(
    "--min-battles",
    type=float,
    default=None,
    help="Leave out models with fewer battles (default: [rating] min_battles).",
)
@click.option(
    "--components",
    type=click.Choice(["refuse", "each", "largest"]),
    default=None,
    help="What to do when the comparison graph is not connected "
    "(default: refuse; with --store, [rating] components).",
)
@click.option(
    "--solver",
    type=click.Choice(["exact", "choix"]),
    default="exact",
    show_default=True,
    help="Bradley-Terry solver: our Newton, or choix's ILSR (which has no prior: "
    "refused when the counts need one).",
)
@click.option(
    "--left-advantage",
    is_flag=True,
    help="Davidson: fit and report the first-position (left) advantage.",
)
@click.option("--elo-k", type=float, default=None, help="Elo K factor (default 4).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
)
@click.option(
    "--replicates",
    is_flag=True,
    help='JSON: include the bootstrap replicates ("bootstrap": {models, ratings}).',
)
@click.option(
    "--matrices",
    is_flag=True,
    help='JSON: include P(i beats j) and, with the bootstrap, "i significantly above j" matrices.',
)
@click.option(
    "--timestamp",
    is_flag=True,
    help="Add the wall-clock time to meta (then equal runs differ in that field).",
)
@click.option("--output", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
@click.option(
    "--store",
    is_flag=True,
    help="Database: recompute and store snapshots for overall, each category, "
    "source and rater group (what the recompute job does), or only the scope "
    "--category/--source/--rater-group name; the rating options are honoured and "
    "recorded in each snapshot's meta.",
)
@click.option(
    "--progress/--no-progress",
    default=True,
    show_default=True,
    help="Progress bar for long bootstraps (on a terminal).",
)
@click.option(
    "--style-control",
    is_flag=True,
    help="Bradley-Terry controlled for answer length, headers, lists and bold (per battle).",
)
@click.option(
    "--style-penalty",
    type=click.FloatRange(0),
    default=None,
    help="L2 penalty on the style coefficients (default 1.0: a N(0, 1) prior; see docs).",
)
@click.option(
    "--reweight",
    is_flag=True,
    help="LMArena's weights 1/max(pair count, --min-pair-count), sandwich intervals.",
)
@click.option(
    "--min-pair-count",
    type=click.FloatRange(0, min_open=True),
    default=50,
    show_default=True,
    help="The floor m of --reweight.",
)
@click.option(
    "--dedup",
    is_flag=True,
    help="Down-sample prompts with more votes than the 99.9th percentile to it.",
)
@click.option(
    "--max-votes-per-rater-day",
    type=click.IntRange(1),
    default=None,
    help="Count at most N votes per rater and UTC day (the first ones).",
)
@click.option(
    "--robustness",
    is_flag=True,
    help="Votes whose removal would swap each model with the next (a column and "
    'JSON "meta.robustness"; the top 10 pairs checked by exact refits).',
)
@click.option(
    "--include-leaked",
    is_flag=True,
    help="Database: also count the votes left out by default: on live battles whose "
    "answers gave a model's identity away, and votes cast after the reveal.",
)
@settings_option
def rate_command(
    input_path,
    method,
    ci,
    rounds,
    seed,
    confidence,
    anchor,
    category,
    source,
    group,
    min_battles,
    components,
    solver,
    left_advantage,
    elo_k,
    fmt,
    replicates,
    matrices,
    timestamp,
    output,
    store,
    progress,
    style_control,
    style_penalty,
    reweight,
    min_pair_count,
    dedup,
    max_votes_per_rater_day,
    robustness,
    include_leaked,
    settings,
):
    """Rate models from battles: exact Bradley-Terry (ties = half a win), Davidson or Elo,
    with bootstrap or sandwich intervals, rank (UB) and tiers.

    Without --input it reads the aggregated pair counts from the database (and, with
    --include-leaked, the votes kept out of them).
    """
    config, settings = settings, settings["rating"]
    method = method or settings["method"]
    per_battle = bool(
        style_control or reweight or dedup or max_votes_per_rater_day or robustness
    )  # rate_style.needs_battles, without importing the style engine when it is not asked
    if store and (reweight or dedup or max_votes_per_rater_day or robustness):
        raise click.UsageError(
            "--store stores plain and (with --style-control or [rating] style_control) "
            "style-controlled snapshots; --reweight, --dedup, --max-votes-per-rater-day and "
            "--robustness are not stored yet: run them without --store"
        )
    if include_leaked and (input_path or store):
        raise click.UsageError(
            "--include-leaked reads the votes in the database; it does not apply to "
            "--input files or to the stored snapshots (--store)"
        )
    if per_battle and not store:
        from arena.cli import rate_style

        style_opts = rate_style.Options(
            style_control=style_control,
            reweight=reweight,
            min_pair_count=min_pair_count,
            dedup=dedup,
            max_votes_per_rater_day=max_votes_per_rater_day,
            robustness=robustness,
            **({} if style_penalty is None else {"penalty": style_penalty}),
        )
        _rate_battles(
            config,
            style_opts,
            input_path,
            method,
            ci,
            rounds,
            seed,
            confidence,
            anchor,
            min_battles,
            category,
            source,
            group,
            progress,
            (fmt, replicates, matrices, timestamp, output),
            include_leaked,
        )
        return
    ci = ci or "bootstrap"
    options = _rate_options(
        settings, ci, rounds, seed, confidence, anchor, min_battles, components, solver, store
    )
    options["left_advantage"] = left_advantage
    _check_method_options(method, ci, solver, left_advantage, components, elo_k)
    if store:
        _refuse_with_store(input_path, fmt, output, replicates, matrices, timestamp)
        _store(
            _runtime(config),
            settings,
            method,
            options,
            elo_k,
            (category, source, group),
            progress,
            style_control or settings["style_control"],
        )
        return
    with _progress(options["rounds"], progress) as tick:
        try:
            if input_path:
                result = _from_file(
                    input_path, method, category, source, group, options, elo_k, tick
                )
            else:
                from arena import rating_store

                result = rating_store.compute(
                    _runtime(config).engine,
                    method,
                    category,
                    source,
                    group,
                    elo_k=elo_k,
                    progress=tick,
                    include_leaked=include_leaked,
                    **options,
                )
        except RatingError as exc:
            raise click.ClickException(str(exc)) from None
    _emit(result, (fmt, replicates, matrices, timestamp, output), _table_text)


def _emit(result, out, table_text) -> None:
    """Write ``result`` as ``out`` (format, replicates, matrices, timestamp, output) asks;
    ``table_text`` renders the table format."""
    fmt, replicates, matrices, timestamp, output = out
    if timestamp:
        result.meta["created_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    if fmt == "json":
        text = dumps(result.to_dict(replicates=replicates, matrices=matrices), indent=None) + "\n"
    elif fmt == "csv":
        text = _csv_text(result)
    else:
        text = table_text(result)
    _write(text, output)


rate = rate_command
COMMANDS = [rate_command]
