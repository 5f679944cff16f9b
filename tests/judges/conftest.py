"""Fixtures for the judge tests: the stand-in judge server and a runtime with a judge."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from arena import runtime
from arena.models import Answer, Model, Prompt
from tests.conftest import make_settings
from tests.conftest import work as shared_work
from tests.standin_judge import StandinJudge


@pytest.fixture
def standin():
    with StandinJudge() as server:
        yield server


def judge_table(standin: StandinJudge, **overrides) -> dict:
    table = {
        "base_url": standin.base_url,
        "model": "standin-judge",
        "format": "prometheus",
        "timeout": 3.0,
        "max_retries": 2,
        "backoff_seconds": 0.01,
        "max_backoff_seconds": 2.0,
        "parse_retries": 1,
        "job_retries": 2,
        "concurrency": 8,
    }
    table.update(overrides)
    return table


@pytest.fixture
def configure(tmp_path, database_url, redis_url, redis_conn, standin):
    """``configure(**judge_overrides)`` -> runtime with judge ``j`` pointing at the stand-in."""

    def make(name="j", **overrides):
        settings = make_settings(
            tmp_path,
            database_url,
            redis_url,
            judges={name: judge_table(standin, **overrides)},
            rating={"recompute_every": 0},
        )
        return runtime.configure(settings)

    return make


def seed(engine, *, good_family=None, n_prompts=3, reference=None):
    """Two models: ``good`` (answers carry the stand-in's marker word GOLD) and ``plain``."""
    with Session(engine) as s:
        good = Model(name="good", family=good_family)
        plain = Model(name="plain")
        prompts = [
            Prompt(key=f"q{i}", text=f"Question {i}?", category="coding", reference=reference)
            for i in range(n_prompts)
        ]
        s.add_all([good, plain, *prompts])
        s.flush()
        for p in prompts:
            s.add(Answer(prompt_id=p.id, model_id=good.id, text=f"GOLD answer to {p.key}."))
            s.add(Answer(prompt_id=p.id, model_id=plain.id, text=f"An answer to {p.key}."))
        s.commit()


def work(rt, *queues):
    """:func:`tests.conftest.work` on the judge and votes queues unless others are named."""
    shared_work(rt, *(queues or ("judge", "votes")))


def count(engine, table, *where):
    with Session(engine) as s:
        return s.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
