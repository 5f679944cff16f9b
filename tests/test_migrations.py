"""Alembic migrations: up, down, up again on SQLite and PostgreSQL; schema matches the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import inspect
from sqlmodel import SQLModel

from arena import db
from arena.cli import main

HEAD = ScriptDirectory.from_config(db._alembic_config("sqlite://")).get_current_head()


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


def test_unvoted_web_battles_are_pruned(database_url):
    """0011 removes battles the old battle page stored without a vote, and nothing else."""
    from sqlalchemy import text

    db.downgrade(database_url, "0007")
    engine = db.get_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO models (id, name, state) VALUES (1, 'a', 'active')"))
        conn.execute(text("INSERT INTO models (id, name, state) VALUES (2, 'b', 'active')"))
        rows = [  # id, origin, external_key
            (1, "web", None),  # drawn, never voted: pruned
            (2, "web", None),  # voted: kept
            (3, "web", "web:k3"),  # stored with its vote's key: kept
            (4, "judge:j", None),  # a judge's battle: kept
            (5, "web", None),  # a judge call names it: kept
        ]
        for battle_id, origin, key in rows:
            conn.execute(
                text(
                    "INSERT INTO battles (id, left_model_id, right_model_id, issued_at, origin,"
                    " external_key) VALUES (:id, 1, 2, CURRENT_TIMESTAMP, :origin, :key)"
                ),
                {"id": battle_id, "origin": origin, "key": key},
            )
        conn.execute(
            text(
                "INSERT INTO votes (battle_id, choice, winner, source, created_at)"
                " VALUES (2, 'left', 'a', 'human', CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO judge_calls (judge, battle_id, call_order, attempt, truncated,"
                " created_at) VALUES ('j', 5, 'ab', 1, false, CURRENT_TIMESTAMP)"
            )
        )
    db.upgrade(database_url)
    with engine.connect() as conn:
        left = conn.execute(text("SELECT id FROM battles ORDER BY id")).scalars().all()
    assert left == [2, 3, 4, 5]
