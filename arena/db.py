"""Database engine, sessions and schema migrations.

One engine per URL per process. SQLite runs in WAL mode with a busy timeout so
the web app and workers can share the file; PostgreSQL uses a normal pool.
The schema is owned by Alembic: :func:`upgrade` and :func:`downgrade` run the
revisions in ``migrations/``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Alias, Table, event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

import migrations

_engines: dict[str, Engine] = {}
MIGRATIONS_DIR = Path(migrations.__file__).parent


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _ensure_sqlite_folder(url: str) -> None:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


def get_engine(url: str, echo: bool = False) -> Engine:
    """The process's engine for ``url`` (created on first use)."""
    key = f"{os.getpid()}:{url}"
    engine = _engines.get(key)
    if engine is None:
        _ensure_sqlite_folder(url)
        if url.startswith("sqlite"):
            engine = create_engine(
                url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}
            )
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, echo=echo, pool_pre_ping=True)
        _engines[key] = engine
    return engine


def dialect_insert(conn):
    """The dialect's ``insert`` (with ``on_conflict_*``): PostgreSQL's or SQLite's."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def shared_alias(table: Table, name: str) -> Alias:
    """An alias of ``table`` that threads may share, such as one made at import for a
    module's fixed queries.

    SQLAlchemy builds an alias's column collection (``.c``) on first use. Two threads
    building it at once can each see a different collection, and a join on the alias then
    fails with "Can't determine which FROM clause to join from" (SQLAlchemy 2.1.9: a
    generation worker's two first reads at once, in a CI run of 2026-12-02;
    ``tests/test_shared_alias.py`` makes it happen). ORM aliases (``aliased(Model)``) race
    the same way, and loading their columns early does not stop it. So the alias is a Core
    one, and its columns are built here, in the one thread that makes it.
    """
    alias = table.alias(name)
    alias.c  # noqa: B018 (built now, before any thread shares it)
    return alias


def dispose_all() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def _alembic_config(url: str):
    from alembic.config import Config

    _ensure_sqlite_folder(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema at ``url`` up to ``revision``."""
    from alembic import command

    command.upgrade(_alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Take the schema at ``url`` down to ``revision``."""
    from alembic import command

    command.downgrade(_alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with get_engine(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
