"""Fixtures for live battles: the stand-in models (NOT models) and a runtime that uses them."""

from __future__ import annotations

import pytest

from arena import runtime
from arena.demo_models import Behaviour, StandinModels
from tests.conftest import make_settings


@pytest.fixture
def standin():
    """Two stand-in models, ``alpha`` and ``beta``, answering quickly in 8 chunks."""
    with StandinModels({"alpha": Behaviour(chunks=8), "beta": Behaviour(chunks=8)}) as server:
        yield server


def model_tables(standin: StandinModels, names=("alpha", "beta"), **overrides) -> dict:
    tables = {}
    for name in names:
        table = {"base_url": standin.url, "timeout": 10.0}
        table.update(overrides.get(name, {}))
        tables[name] = table
    return tables


@pytest.fixture
def configure(tmp_path, database_url, redis_url, redis_conn, standin):
    """``configure(models=..., live=...)`` -> a runtime whose live models are the stand-in's."""

    def make(models: dict | None = None, **sections):
        settings = make_settings(
            tmp_path,
            database_url,
            redis_url,
            models=models if models is not None else model_tables(standin),
            rating={"recompute_every": 0},
            **sections,
        )
        return runtime.configure(settings)

    return make
