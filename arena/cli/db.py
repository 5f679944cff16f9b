"""``arena db upgrade|downgrade|current``: schema migrations (Alembic)."""

from __future__ import annotations

import click

from arena import db
from arena.cli.common import config_option


@click.group("db")
def db_group() -> None:
    """Create and migrate the database schema."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@config_option
def upgrade(revision: str, rt) -> None:
    """Upgrade the schema to REVISION (default: head)."""
    db.upgrade(rt.settings.database_url, revision)
    click.echo(f"database at revision {db.current_revision(rt.settings.database_url)}")


@db_group.command("downgrade")
@click.argument("revision", default="-1")
@config_option
def downgrade(revision: str, rt) -> None:
    """Downgrade the schema to REVISION (default: one step; 'base' drops all)."""
    db.downgrade(rt.settings.database_url, revision)
    click.echo(f"database at revision {db.current_revision(rt.settings.database_url)}")


@db_group.command("current")
@config_option
def current(rt) -> None:
    """Print the schema revision."""
    click.echo(db.current_revision(rt.settings.database_url) or "empty")


COMMANDS = [db_group]
