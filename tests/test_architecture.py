"""The import rule, enforced: ``rating`` <- arena core <- ``workers`` <- ``arena.web``/``cli``.

The contracts live in ``pyproject.toml`` (``[tool.importlinter]``) and run with
import-linter; docs/architecture.md explains them. This test runs them and also
checks that every module of the arena core is named in the core contract, so a
new core module cannot slip past it.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Modules of the arena package that are not core: the two top layers and their entry points.
NOT_CORE = {"arena.web", "arena.cli", "arena.app", "arena.__main__", "arena.__init__", "arena.demo"}


def _contracts() -> list[dict]:
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["tool"]["importlinter"]["contracts"]


def test_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    res = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "broken" in res.stdout and ", 0 broken" in res.stdout


def test_every_core_module_is_in_the_core_contract():
    core = next(c for c in _contracts() if c["name"].startswith("arena core"))
    listed = set(core["source_modules"])
    top = {
        f"arena.{p.stem}" if p.is_file() else f"arena.{p.name}"
        for p in (ROOT / "arena").iterdir()
        if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))
    }
    missing = sorted(top - NOT_CORE - listed)
    assert not missing, f"add these core modules to the core contract in pyproject.toml: {missing}"
    assert not sorted(listed - top), "the core contract names modules that do not exist"


def test_rating_is_pure():
    """The contract is only as good as its list: it forbids every service package we use."""
    pure = next(c for c in _contracts() if c["name"].startswith("rating is pure"))
    for name in ("arena", "workers", "flask", "sqlalchemy", "sqlmodel", "redis", "rq", "httpx"):
        assert name in pure["forbidden_modules"]
