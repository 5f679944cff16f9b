"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

import click

from arena.config import ConfigError, load

_config_path = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Settings file (default: $ARENA_CONFIG or ./config.toml).",
)


def config_option(func):
    """Add ``--config FILE`` and pass the resolved :class:`Runtime` as ``rt``."""

    @_config_path
    @functools.wraps(func)
    def wrapper(*args, config_path=None, **kwargs):
        from arena import runtime  # database and Redis clients: imported when a command runs

        return func(*args, rt=runtime.configure(_load(config_path)), **kwargs)

    return wrapper


def settings_option(func):
    """Add ``--config FILE`` and pass the loaded settings as ``settings`` (no database or
    Redis client is made: for commands that may not need one)."""

    @_config_path
    @functools.wraps(func)
    def wrapper(*args, config_path=None, **kwargs):
        return func(*args, settings=_load(config_path), **kwargs)

    return wrapper


def _load(config_path):
    try:
        return load(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def database_error(exc: Exception, done: str | None = None) -> click.ClickException:
    """One line for a failed database call: the driver's first line and what to check.

    ``done`` says what became of the command's work (e.g. "nothing was imported").
    """
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = lines[0] if lines else type(exc).__name__
    note = f"{done}; " if done else ""
    return click.ClickException(
        f"database error: {first} ({note}is the database reachable "
        "and its schema current? run `arena db upgrade`)"
    )


def write_output(text: str, output: str) -> None:
    """Write ``text`` to the file ``output`` whole or not at all (temporary file, then rename).

    The file gets the permissions a plain ``open()`` would give it.
    """
    path = Path(output)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}."
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def text_table(
    head: list[str], rows: list[list[str]], left: set[int] = frozenset({0}), rule: bool = True
) -> list[str]:
    """Aligned text columns: ``left`` flush left, the others right; a rule under the head."""
    widths = [max(len(row[k]) for row in [head, *rows]) for k in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if k in left else c.rjust(w) for k, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    return (
        [line(head)]
        + ([line(["-" * w for w in widths])] if rule else [])
        + [line(row) for row in rows]
    )
