"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import functools

import click

from arena import runtime
from arena.config import ConfigError, load


def config_option(func):
    """Add ``--config FILE`` and pass the resolved :class:`Runtime` as ``rt``."""

    @click.option("--config", "config_path", type=click.Path(dir_okay=False),
                  default=None, help="Settings file (default: $ARENA_CONFIG or ./config.toml).")
    @functools.wraps(func)
    def wrapper(*args, config_path=None, **kwargs):
        try:
            settings = load(config_path)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        return func(*args, rt=runtime.configure(settings), **kwargs)

    return wrapper
