"""What every importer shares: the file error and readers (:mod:`arena.files`), counted upserts."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from arena.db import dialect_insert
from arena.files import FileError, read_csv, read_jsonl

__all__ = [
    "CHUNK",
    "FileError",
    "chunks",
    "count",
    "read_csv",
    "read_jsonl",
    "upsert",
    "upsert_counted",
]

CHUNK = 500


def chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def upsert(conn: Connection, table, rows: list[dict], keys: list[str]) -> None:
    """Insert ``rows``, updating the given columns where ``keys`` already exist.

    Rows are grouped by the set of columns they carry, so a column a row does
    not name is left as stored. Each group is one executemany per chunk.
    """
    insert = dialect_insert(conn)
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    for columns, group in groups.items():
        stmt = insert(table)
        updates = {c: stmt.excluded[c] for c in columns if c not in keys}
        stmt = (
            stmt.on_conflict_do_update(index_elements=keys, set_=updates)
            if updates
            else stmt.on_conflict_do_nothing(index_elements=keys)
        )
        for chunk in chunks(group):
            conn.execute(stmt, chunk)


def count(conn: Connection, table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def upsert_counted(engine: Engine, table, rows: list[dict], keys: list[str]) -> dict:
    """Upsert in one transaction; answers ``{"inserted": n, "updated": n}``."""
    with engine.begin() as conn:
        before = count(conn, table)
        upsert(conn, table, rows, keys)
        inserted = count(conn, table) - before
    return {"inserted": inserted, "updated": len(rows) - inserted}
