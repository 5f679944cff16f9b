"""The ``arena`` command line: one entry point, a group of subcommands.

Each subcommand lives in its own module, named in :data:`_COMMAND_MODULES`.
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


# Command name -> the modules that define it, imported only when the command runs (the
# composite and judge modules pull in scipy.stats and httpx: seconds that `arena rate`
# should not pay). `import` gets its subcommands from two modules.
_COMMAND_MODULES = {
    "db": ("arena.cli.db",),
    "demo": ("arena.cli.run",),
    "import": ("arena.cli.imports", "arena.cli.import_signals"),
    "judge": ("arena.cli.judge",),
    "rank": ("arena.cli.rank",),
    "queue": ("arena.cli.queues",),
    "rate": ("arena.cli.rate",),
    "redis": ("arena.cli.redis_server",),
    "serve": ("arena.cli.run",),
    "worker": ("arena.cli.run",),
}


class LazyArenaGroup(ArenaGroup):
    """Imports a subcommand's module the first time the command is asked for."""

    def list_commands(self, ctx):
        return sorted(_COMMAND_MODULES)

    def get_command(self, ctx, name):
        if name not in _COMMAND_MODULES:
            return None
        import importlib

        modules = [importlib.import_module(m) for m in _COMMAND_MODULES[name]]
        return next(c for c in modules[0].COMMANDS if c.name == name)


@click.group(cls=LazyArenaGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="arena")
def main() -> None:
    """Arena: pairwise battles, votes and ratings for language models.

    Every command takes --config FILE (default: $ARENA_CONFIG, else
    ./config.toml when present). ARENA_DATABASE_URL, ARENA_REDIS_URL,
    ARENA_SECRET_KEY and ARENA_INSTANCE override the file.
    """
