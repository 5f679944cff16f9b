"""Any command meets a missing schema or an unreachable service with one clear line."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from arena import redis_server
from arena.cli import main


@pytest.mark.parametrize(
    "args",
    [
        ["rate"],
        ["rate", "--method", "elo"],
        ["judge", "report"],
        ["rank"],
        ["import", "models", "arena/demo/models.jsonl"],
    ],
)
def test_unmigrated_database(tmp_path, args):
    env = {
        "ARENA_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}",
        "ARENA_INSTANCE": str(tmp_path),
    }
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 1, result.output
    assert "arena db upgrade" in result.output
    assert "Traceback" not in result.output


def test_unreachable_database(tmp_path):
    env = {
        "ARENA_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
        "ARENA_INSTANCE": str(tmp_path),
    }
    result = CliRunner().invoke(main, ["rate"], env=env)
    assert result.exit_code == 1
    assert result.output.startswith("Error: database error:")


def test_unreachable_redis(tmp_path):
    env = {
        "ARENA_REDIS_URL": f"redis://127.0.0.1:{redis_server.free_port()}/0",
        "ARENA_INSTANCE": str(tmp_path),
    }
    result = CliRunner().invoke(main, ["worker", "--burst"], env=env)
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot reach Redis")


def test_unmigrated_database_signal_import(tmp_path):
    scores = tmp_path / "scores.csv"
    scores.write_text("model,benchmark,score\nm,b,0.5\n")
    env = {
        "ARENA_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}",
        "ARENA_INSTANCE": str(tmp_path),
    }
    result = CliRunner().invoke(main, ["import", "benchmarks", str(scores)], env=env)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: database error: no such table: benchmark_scores")
    assert "nothing stored" in result.output and "arena db upgrade" in result.output


def test_database_error_without_a_message():
    from sqlalchemy.exc import OperationalError

    from arena.cli.common import database_error

    message = database_error(OperationalError("SELECT 1", {}, Exception(""))).message
    assert message.startswith("database error: OperationalError (")


@pytest.mark.parametrize("kind", ["benchmarks", "popularity", "aliases"])
def test_signal_file_that_cannot_be_opened(tmp_path, kind):
    env = {
        "ARENA_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}",
        "ARENA_INSTANCE": str(tmp_path),
    }
    too_long = str(tmp_path / ("x" * 300 + ".csv"))
    result = CliRunner().invoke(main, ["import", kind, too_long], env=env)
    assert result.exit_code == 1, result.output
    assert "cannot open: File name too long" in result.output
    missing = CliRunner().invoke(main, ["import", kind, str(tmp_path / "absent.csv")], env=env)
    assert missing.exit_code == 1 and "absent.csv: file not found" in missing.output


def test_unknown_sampler_is_a_clear_error(tmp_path):
    from arena.app import create_app
    from arena.config import ConfigError, load

    settings = load(
        None, env={"ARENA_INSTANCE": str(tmp_path)}, overrides={"battle": {"sampler": "smart"}}
    )
    with pytest.raises(ConfigError, match=r"unknown pair sampler 'smart'.*known: uniform"):
        create_app(settings)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[battle]\nsampler = "smart"\n')
    result = CliRunner().invoke(
        main, ["serve", "--config", str(cfg), "--port", "1"], env={"ARENA_INSTANCE": str(tmp_path)}
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: unknown pair sampler 'smart'")
