"""``arena import ...``: load models, prompts, answers and votes."""

from __future__ import annotations

import time

import click
from sqlalchemy.exc import SQLAlchemyError

from arena.cli.common import config_option, database_error


@click.group("import")
def import_group() -> None:
    """Import data from files (JSONL, the LLMFAO layout, benchmark exports)."""


def _jsonl_command(kind: str, help_text: str):
    @import_group.command(kind, help=help_text)
    @click.argument("file", type=click.Path(dir_okay=False))
    @config_option
    def command(file: str, rt) -> None:
        from arena.importers import jsonl

        try:
            result = jsonl.import_file(rt.engine, kind, file)
        except jsonl.ImportFileError as exc:
            raise click.ClickException(f"{exc} (nothing was imported)") from None
        except SQLAlchemyError as exc:
            raise database_error(exc, "nothing was imported") from None
        click.echo(f"{file}: {result}")

    return command


_jsonl_command("models", "Import models from a JSONL FILE (upsert by name).")
_jsonl_command("prompts", "Import prompts from a JSONL FILE (upsert by id).")
_jsonl_command(
    "answers",
    "Import answers from a JSONL FILE (upsert by prompt and model; "
    "the prompts and models must exist).",
)


@import_group.command("llmfao")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option(
    "--include-gpt3", is_flag=True, help="Also import gpt3-comparisons.csv as judge:gpt-3.5 votes."
)
@config_option
def llmfao(directory: str, include_gpt3: bool, rt) -> None:
    """Import the LLMFAO data set in DIRECTORY: prompts, models, answers and votes.

    Crowd votes are stored with source human, GPT-4's with judge:gpt-4. A
    repeated import adds nothing.
    """
    from arena.importers import jsonl
    from arena.importers import llmfao as importer

    started = time.perf_counter()
    try:
        summary = importer.import_dir(rt.engine, directory, include_gpt3=include_gpt3)
    except jsonl.ImportFileError as exc:
        raise click.ClickException(f"{exc} (nothing was imported)") from None
    except SQLAlchemyError as exc:
        raise database_error(
            exc, "each file is its own transaction; a re-run adds only what is missing"
        ) from None
    for line in summary.lines():
        click.echo(line)
    click.echo(f"done in {time.perf_counter() - started:.1f} s")


COMMANDS = [import_group]
