"""What every importer shares: the file error, JSONL reading and counted upserts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from arena.db import dialect_insert

CHUNK = 500


class FileError(ValueError):
    """A file that cannot be used; names the file and, when known, the line."""

    def __init__(self, path: str | Path, line: int | None, message: str):
        self.path, self.line, self.message = str(path), line, message
        where = f"{self.path}, line {line}" if line else self.path
        super().__init__(f"{where}: {message}")


def read_jsonl(path: str | Path, error: type[FileError] = FileError) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for each non-blank line of a JSONL file.

    A leading UTF-8 byte-order mark is accepted. Anything else that is not one
    JSON object per line raises ``error`` naming the line.
    """
    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise error(path, None, f"cannot open: {exc.strerror or exc}") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                raise error(path, number, "not valid UTF-8") from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise error(path, number, f"not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise error(path, number, f"expected a JSON object, got {type(obj).__name__}")
            yield number, obj


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
