"""The command group: every command is listed, resolves, and loads only what it needs."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from arena.cli import _COMMANDS, main

EXPECTED = {
    "db",
    "demo",
    "import",
    "judge",
    "models",
    "queue",
    "rank",
    "rate",
    "redis",
    "serve",
    "token",
    "worker",
}


def test_every_command_is_listed_and_resolves():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert set(_COMMANDS) == EXPECTED
    for name in EXPECTED:
        assert f"  {name} " in result.output
        command = main.get_command(None, name)
        assert command is not None and command.name == name
    assert main.get_command(None, "nope") is None
    imports = main.get_command(None, "import")
    assert {"models", "prompts", "answers", "llmfao", "benchmarks", "popularity", "aliases"} <= set(
        imports.commands
    )


def test_arena_rate_does_not_import_the_composite_or_judges():
    # `arena rate` on 1.67 M battles takes about a second of work; importing the
    # composite (scipy.stats) and the judge client used to add two more.
    code = (
        "import sys; from arena.cli import main; main.get_command(None, 'rate'); "
        "print(sorted(m for m in ('scipy.stats', 'httpx', 'rating.composite', "
        "'workers.judge') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


def test_help_and_version_import_no_command_module():
    """`arena --help` lists the commands from their summaries, importing none of them (it used
    to import every command and with them numpy, scipy, SQLAlchemy and rq: 2.6 s on a 2-core
    machine; bench/startup.py measures it)."""
    code = (
        "import sys; from click.testing import CliRunner; from arena.cli import main; "
        "out = CliRunner().invoke(main, ['--help']).output; "
        "CliRunner().invoke(main, ['--version']); "
        "heavy = ('numpy', 'scipy', 'sqlalchemy', 'rq', 'redis', 'flask', 'httpx'); "
        "print(sorted(m for m in sys.modules if m.startswith('arena.cli.') or m in heavy)); "
        "print('rate' in out and 'worker' in out)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "True"


def test_arena_rate_on_a_file_loads_no_database_or_redis_client():
    """`arena rate --input` needs neither: SQLAlchemy, SQLModel, Redis and rq stay unloaded;
    nor, without a per-battle option, the style engine (arena.style_rating)."""
    from tests.conftest import shared_data

    path = shared_data("llmfao", "crowd-comparisons.csv")
    code = (
        "import sys; from click.testing import CliRunner; from arena.cli import main; "
        f"r = CliRunner().invoke(main, ['rate', '--input', {str(path)!r}, '--ci', 'none']); "
        "print(r.exit_code, sorted(m for m in ('sqlalchemy', 'sqlmodel', 'redis', 'rq', "
        "'arena.style_rating', 'arena.cli.rate_style') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "0 []"


def test_arena_rank_on_files_loads_no_database_redis_or_scipy_stats():
    """`arena rank` on files needs no database or Redis client, and ranks without
    scipy.stats (about 1 s of imports of the 12 s it once took on the v2 file)."""
    from tests.conftest import shared_data

    data = shared_data("open-llm-leaderboard-2025-03-15")
    args = [
        "rank",
        "--ratings",
        str(data / "lmsys.csv"),
        "--benchmarks",
        str(data / "merged.csv"),
        "--replicates",
        "20",
        "--format",
        "json",
    ]
    code = (
        "import sys, json; from click.testing import CliRunner; from arena.cli import main; "
        f"r = CliRunner().invoke(main, {args!r}); json.loads(r.output); "
        "print(r.exit_code, sorted(m for m in ('sqlalchemy', 'sqlmodel', 'redis', 'rq', "
        "'scipy.stats', 'scipy.sparse') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "0 []"
