"""``arena import ...``: load models, prompts, answers and votes."""

from __future__ import annotations

import click


@click.group("import")
def import_group() -> None:
    """Import data from files (JSONL, the LLMFAO layout, benchmark exports)."""


COMMANDS = [import_group]
