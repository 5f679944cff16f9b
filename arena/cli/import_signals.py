"""``arena import benchmarks|popularity|aliases|metadata FILE``: composite-rank inputs.

Each file is checked completely before anything is stored (a bad line stops
the import with the file and line named); a good file is stored in one
transaction as an upsert, so importing it again updates rows and never adds
duplicates.
"""

from __future__ import annotations

import click
from sqlalchemy.exc import SQLAlchemyError

from arena.cli.common import config_option, database_error
from arena.cli.imports import import_group
from arena.importers.aliases import import_aliases
from arena.importers.benchmarks import SignalFileError, import_benchmarks
from arena.importers.metadata import import_metadata
from arena.importers.popularity import import_popularity

COMMANDS: list = []


def _run(rt, func, path: str, kind: str) -> None:
    try:
        parsed, counts = func(rt.engine, path)
    except SignalFileError as exc:
        raise click.ClickException(str(exc)) from None
    except SQLAlchemyError as exc:
        raise database_error(exc, "nothing stored") from None
    notes = "; ".join(parsed.notes)
    click.echo(
        f"{kind} ({parsed.format}): {counts['inserted']} inserted, "
        f"{counts['updated']} updated" + (f" [{notes}]" if notes else "")
    )


@import_group.command("benchmarks")
@click.argument("path", type=click.Path(dir_okay=False))
@config_option
def import_benchmarks_cmd(path: str, rt) -> None:
    """Benchmark scores: the Open LLM Leaderboard v2 CSV export, or a long CSV
    with columns model, benchmark, subtask, score, n_items[, normalized]."""
    _run(rt, import_benchmarks, path, "benchmarks")


@import_group.command("popularity")
@click.argument("path", type=click.Path(dir_okay=False))
@config_option
def import_popularity_cmd(path: str, rt) -> None:
    """Popularity: CSV with columns model, downloads, likes, date (or the v2 export's likes)."""
    _run(rt, import_popularity, path, "popularity")


@import_group.command("aliases")
@click.argument("path", type=click.Path(dir_okay=False))
@config_option
def import_aliases_cmd(path: str, rt) -> None:
    """Aliases: CSV with columns alias, model (matched case-insensitively when ranking)."""
    _run(rt, import_aliases, path, "aliases")


@import_group.command("metadata")
@click.argument("path", type=click.Path(dir_okay=False))
@config_option
def import_metadata_cmd(path: str, rt) -> None:
    """Model metadata (parameters, precision, architecture, licence, base model, release and
    upload dates): the Open LLM Leaderboard v2 CSV export, or JSONL."""
    _run(rt, import_metadata, path, "metadata")
