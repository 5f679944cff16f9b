"""Alembic migrations: up, down, up again on SQLite and PostgreSQL; schema matches the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import inspect
from sqlmodel import SQLModel

from arena import db
from arena.cli import main

# Head of the migration chain: 0001 <- 0003 (answer style counts) <- 0005 (model metadata).
HEAD = "0005"


def test_upgrade_downgrade_upgrade(database_url):
    assert db.current_revision(database_url) == HEAD
    db.downgrade(database_url, "base")
    assert db.current_revision(database_url) is None
    assert "votes" not in inspect(db.get_engine(database_url)).get_table_names()
    db.upgrade(database_url)
    assert db.current_revision(database_url) == HEAD
    with db.get_engine(database_url).connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []


def test_db_commands(database_url, tmp_path):
    env = {"ARENA_DATABASE_URL": database_url, "ARENA_INSTANCE": str(tmp_path)}
    runner = CliRunner()
    result = runner.invoke(main, ["db", "downgrade", "base"], env=env)
    assert result.exit_code == 0, result.output
    assert "revision None" in result.output
    result = runner.invoke(main, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    assert f"revision {HEAD}" in result.output
    result = runner.invoke(main, ["db", "current"], env=env)
    assert result.output.strip() == HEAD
