"""A scratch database for a benchmark run, so a benchmark never touches real data.

``--database-url`` names a server: SQLite URLs are used as given (the file
must be new), PostgreSQL gets a fresh database ``arena_bench_<random>`` on
that server, dropped when the run ends.
"""

from __future__ import annotations

import secrets
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from arena import db


@contextmanager
def scratch_database(url: str):
    """Yield the URL of an empty database to migrate and seed."""
    if not url.startswith("postgresql"):
        yield url
        return
    server = make_url(url)
    name = f"arena_bench_{secrets.token_hex(4)}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        db.dispose_all()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
