"""The ``arena`` command line: one entry point, a group of subcommands.

Each subcommand lives in its own module and is added here.
"""

from __future__ import annotations

import click

from arena import __version__


class ArenaGroup(click.Group):
    """Turns a bad setting, or a database or Redis failure, in any command into one line."""

    def invoke(self, ctx):
        from redis.exceptions import ConnectionError as RedisConnectionError
        from sqlalchemy.exc import SQLAlchemyError

        from arena.cli.common import database_error
        from arena.config import ConfigError

        try:
            return super().invoke(ctx)
        except SQLAlchemyError as exc:
            raise database_error(exc) from None
        except RedisConnectionError as exc:
            raise click.ClickException(f"cannot reach Redis: {exc}") from None
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=ArenaGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="arena")
def main() -> None:
    """Arena: pairwise battles, votes and ratings for language models.

    Every command takes --config FILE (default: $ARENA_CONFIG, else
    ./config.toml when present). ARENA_DATABASE_URL, ARENA_REDIS_URL,
    ARENA_SECRET_KEY and ARENA_INSTANCE override the file.
    """


def _register() -> None:
    from arena.cli import db, import_signals, imports, judge, rank, rate, run

    for module in (db, imports, import_signals, run, rate, judge, rank):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
