"""The ``arena`` command line: one entry point, a group of subcommands.

Each subcommand lives in its own module, named in :data:`_COMMANDS` with its one-line summary.
"""

from __future__ import annotations

import click

from arena import __version__


class ArenaGroup(click.Group):
    """Turns a bad setting, or a database or Redis failure, in any command into one line."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            raise _one_line(exc) from None


def _one_line(exc: Exception) -> Exception:
    """A bad setting, a database or a Redis failure as a one-line error; else ``exc`` itself.

    The database and Redis libraries are looked at only when they were imported (an exception
    of theirs cannot have happened otherwise): a command that uses neither, like
    ``arena rate --input``, does not pay their import.
    """
    import sys

    from arena.config import ConfigError

    if isinstance(exc, ConfigError):
        return click.ClickException(str(exc))
    if "sqlalchemy" in sys.modules:
        from sqlalchemy.exc import SQLAlchemyError

        from arena.cli.common import database_error

        if isinstance(exc, SQLAlchemyError):
            return database_error(exc)
    if "redis" in sys.modules:
        from redis.exceptions import ConnectionError as RedisConnectionError

        if isinstance(exc, RedisConnectionError):
            return click.ClickException(f"cannot reach Redis: {exc}")
    return exc


# Command name -> the modules that define it and its one-line summary. A command's module is
# imported only when the command runs, and `arena --help` prints these summaries without
# importing any (the composite and judge modules pull in scipy.stats and httpx: seconds that
# `arena --help` and `arena rate` should not pay). tests/test_cli_commands.py checks that each
# summary is the first line of its command's help. `import` takes subcommands from two modules.
_COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "db": (("arena.cli.db",), "Create and migrate the database schema."),
    "demo": (
        ("arena.cli.run",),
        "Migrate, load the demo set, and run the web app with workers, on embedded defaults.",
    ),
    "import": (
        ("arena.cli.imports", "arena.cli.import_signals"),
        "Import data from files (JSONL, the LLMFAO layout, benchmark scores, popularity).",
    ),
    "judge": (("arena.cli.judge",), "Judge models vote on battles through the rq queue judge."),
    "rank": (
        ("arena.cli.rank",),
        "Rank models by a composite of arena rating, benchmarks, popularity, recency, efficiency.",
    ),
    "models": (("arena.cli.models",), "Live models: the [models.NAME] endpoints."),
    "queue": (("arena.cli.queues",), "See Arena's rq queues and put failed jobs back."),
    "rate": (("arena.cli.rate",), "Rate models from battles, from the database or a file."),
    "redis": (
        ("arena.cli.redis_server",),
        "The embedded redis-server (used when no [redis] url is configured).",
    ),
    "serve": (("arena.cli.run",), "Run the web app with Flask's development server."),
    "token": (
        ("arena.cli.token",),
        "Create, list and revoke API bearer tokens (only a hash is stored).",
    ),
    "worker": (("arena.cli.run",), "Run an rq worker on Arena's queues."),
}


class LazyArenaGroup(ArenaGroup):
    """Imports a subcommand's module the first time the command is asked for."""

    def __call__(self, *args, **kwargs):
        """The ``arena`` script (and ``python -m arena``); tests call :meth:`main`. The
        process ends with the command: :func:`arena.cli.collector.script`."""
        from arena.cli import collector

        with collector.script():
            return self.main(*args, **kwargs)

    def list_commands(self, ctx):
        return sorted(_COMMANDS)

    def get_command(self, ctx, name):
        if name not in _COMMANDS:
            return None
        import importlib

        from arena.cli import collector

        with collector.paused():  # numpy and friends: see arena.cli.collector
            modules = [importlib.import_module(m) for m in _COMMANDS[name][0]]
        return next(c for c in modules[0].COMMANDS if c.name == name)

    def format_commands(self, ctx, formatter):
        """The command list from :data:`_COMMANDS`, without importing any command."""
        rows = [(name, _COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyArenaGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="arena")
def main() -> None:
    """Arena: pairwise battles, votes and ratings for language models.

    Every command takes --config FILE (default: $ARENA_CONFIG, else
    ./config.toml when present). ARENA_DATABASE_URL, ARENA_REDIS_URL,
    ARENA_SECRET_KEY and ARENA_INSTANCE override the file.
    """
