"""``arena redis start|stop|status``: the instance's embedded redis-server."""

from __future__ import annotations

import click

from arena import queue, redis_server
from arena.cli.common import config_option


@click.group("redis")
def redis_group() -> None:
    """The embedded redis-server (used when no [redis] url is configured).

    It runs detached, its data in <instance>/redis: the first command that needs it
    starts it and none stops it on exit, except `arena demo` when it started it.
    """


def _folder(rt):
    if rt.settings.redis_url:
        raise click.ClickException(
            "a Redis URL is configured ([redis] url or ARENA_REDIS_URL): "
            "no embedded redis-server to manage"
        )
    return queue.embedded_folder(rt.settings)


@redis_group.command("start")
@config_option
def start(rt) -> None:
    """Start the embedded redis-server (nothing to do when it runs)."""
    url, started = redis_server.ensure_running(_folder(rt))
    server = redis_server.server_for(_folder(rt))
    click.echo(f"{'started' if started else 'already running'}: {url} (pid {server.pid()})")


@redis_group.command("stop")
@config_option
def stop(rt) -> None:
    """Stop the embedded redis-server (its data stays in <instance>/redis)."""
    folder = _folder(rt)
    if redis_server.stop(folder):
        click.echo(f"stopped the embedded redis-server in {folder}")
    else:
        click.echo(f"no embedded redis-server running in {folder}")


@redis_group.command("status")
@config_option
def status(rt) -> None:
    """Whether the embedded redis-server runs; exit 0 when it answers, 3 when not."""
    folder = _folder(rt)
    server = redis_server.server_for(folder)
    url = redis_server.running_url(folder)
    if url:
        click.echo(f"running: {url} (pid {server.pid()}), data in {folder}")
        return
    click.echo(f"not running (data in {folder})")
    raise SystemExit(3)


COMMANDS = [redis_group]
