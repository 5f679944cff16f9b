"""Aliases shared between threads (:func:`arena.db.shared_alias`): SQLAlchemy builds an alias's
columns on first use, and threads that build them at once make joins on it fail."""

from __future__ import annotations

import ast
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import sqlite

from arena.db import shared_alias
from arena.models import Battle, Model

ROOT = Path(__file__).resolve().parents[1]
THREADS = 8
TRIALS = 60


def _first_uses_at_once(make_alias) -> int:
    """Failures when THREADS threads first use a fresh pair of aliases at once, TRIALS times
    (the join that the generation worker's battle read makes)."""
    battle = Battle.__table__
    failures = 0
    lock = threading.Lock()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: the race shows
    try:
        for _ in range(TRIALS):
            left, right = make_alias("left_model"), make_alias("right_model")
            barrier = threading.Barrier(THREADS)

            def use(left=left, right=right, barrier=barrier) -> None:
                nonlocal failures
                barrier.wait()
                try:
                    select(battle.c.turns, left.c.name, right.c.name).join(
                        left, left.c.id == battle.c.left_model_id
                    ).join(right, right.c.id == battle.c.right_model_id).compile(
                        dialect=sqlite.dialect()
                    )
                except Exception:
                    with lock:
                        failures += 1

            threads = [threading.Thread(target=use) for _ in range(THREADS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        sys.setswitchinterval(interval)
    return failures


def test_a_shared_alias_survives_threads_that_first_use_it_at_once():
    raced = _first_uses_at_once(lambda name: Model.__table__.alias(name))
    if raced == 0:
        pytest.skip("this SQLAlchemy did not race on a plain alias here: nothing to show")
    assert _first_uses_at_once(lambda name: shared_alias(Model.__table__, name)) == 0


def _module_level_aliased(path: Path) -> list[int]:
    """Lines of ``aliased(...)`` calls outside any function or class of ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    lines = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and getattr(sub.func, "id", None) == "aliased":
                lines.append(sub.lineno)
    return lines


def test_no_module_shares_an_orm_alias():
    """Module-level aliases are made with shared_alias: ORM ``aliased()`` ones race."""
    found = {
        str(path.relative_to(ROOT)): lines
        for folder in ("arena", "workers")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if (lines := _module_level_aliased(path))
    }
    assert found == {}
