"""Import models, prompts and answers from JSONL files.

One JSON object per line; blank lines are skipped. A file is checked
completely before anything is written: a broken line (bad JSON, a missing or
mistyped field, an unknown field, a bad date or state, an unknown prompt or
model in an answers file, a key repeated in the same file) raises
:class:`ImportFileError` naming the file and the line, and nothing from that
file is stored. A valid file is written in one transaction as an upsert on
its natural key (models by ``name``, prompts by ``id``, answers by
``(prompt, model)``), so importing it again updates rows instead of adding
them. Fields a line leaves out keep their stored value (or the column
default for a new row); a field given as ``null`` clears the stored value.

Schemas (``*`` = required):

* models: ``name``\\*, ``organization``, ``license``, ``parameters_b``,
  ``precision``, ``base_model``, ``family``, ``release_date`` (YYYY-MM-DD),
  ``state`` (active | provisional | retired)
* prompts: ``id``\\* (the key; string or integer), ``text``\\*, ``category``
  (default ``general``), ``prompt_set`` (default ``default``), ``reference``
* answers: ``prompt``\\* (a prompt's ``id``), ``model``\\* (a model's
  ``name``), ``text``\\*, ``tokens``, ``latency_ms``, ``tokens_per_second``
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from arena.importers.common import FileError, chunks, read_jsonl, upsert
from arena.models import MODEL_STATES, Answer, Model, Prompt

KINDS = ("models", "prompts", "answers")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # PostgreSQL stores no NUL; UTF-8 no surrogate


class ImportFileError(FileError):
    """A file that cannot be imported; names the file and, when known, the line."""


@dataclass(frozen=True)
class ImportResult:
    """What one import did: rows inserted and rows updated."""

    kind: str
    inserted: int
    updated: int

    @property
    def total(self) -> int:
        return self.inserted + self.updated

    def __str__(self) -> str:
        return f"{self.kind}: {self.inserted} inserted, {self.updated} updated"


# -- field checks: each returns the stored value or raises ValueError -------------------------


def _text(
    max_len: int | None = None, *, nullable: bool = True, allow_int: bool = False
) -> Callable[[object], object]:
    def check(value):
        if value is None:
            if nullable:
                return None
            raise ValueError("must not be null")
        if allow_int and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise ValueError(f"must be a string, got {type(value).__name__}")
        bad = _UNSTORABLE.search(value)
        if bad:
            what = "a NUL character" if bad.group() == "\x00" else "a lone surrogate"
            raise ValueError(f"contains {what} (at character {bad.start() + 1})")
        if not nullable and not value.strip():
            raise ValueError("must not be empty")
        if max_len is not None and len(value) > max_len:
            raise ValueError(f"is longer than {max_len} characters")
        return value

    return check


def _number(*, integer: bool = False) -> Callable[[object], object]:
    def check(value):
        if value is None:
            return None
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise ValueError(
                f"must be {'an integer' if integer else 'a number'}, got {type(value).__name__}"
            )
        try:
            finite = math.isfinite(value)
        except OverflowError:
            finite = False
        if not finite or value < 0:
            raise ValueError("must be a finite number >= 0")
        return value

    return check


def _date(value):
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueError(f"must be a date YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"is not a real date: {value!r}") from None


def _state(value):
    if value not in MODEL_STATES:
        raise ValueError(f"must be one of {', '.join(MODEL_STATES)}, got {value!r}")
    return value


# name in the file -> (column, check, required)
MODEL_FIELDS = {
    "name": ("name", _text(200, nullable=False), True),
    "organization": ("organization", _text(200), False),
    "license": ("license", _text(200), False),
    "parameters_b": ("parameters_b", _number(), False),
    "precision": ("precision", _text(40), False),
    "base_model": ("base_model", _text(200), False),
    "family": ("family", _text(100), False),
    "release_date": ("release_date", _date, False),
    "state": ("state", _state, False),
}
PROMPT_FIELDS = {
    "id": ("key", _text(200, nullable=False, allow_int=True), True),
    "text": ("text", _text(nullable=False), True),
    "category": ("category", _text(100, nullable=False), False),
    "prompt_set": ("prompt_set", _text(100, nullable=False), False),
    "reference": ("reference", _text(), False),
}
ANSWER_FIELDS = {
    "prompt": ("prompt", _text(200, nullable=False, allow_int=True), True),
    "model": ("model", _text(200, nullable=False), True),
    "text": ("text", _text(nullable=False), True),
    "tokens": ("tokens", _number(integer=True), False),
    "latency_ms": ("latency_ms", _number(), False),
    "tokens_per_second": ("tokens_per_second", _number(), False),
}
FIELDS = {"models": MODEL_FIELDS, "prompts": PROMPT_FIELDS, "answers": ANSWER_FIELDS}


# -- reading -----------------------------------------------------------------------------------


def read_objects(path: str | Path) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for each non-blank line of a JSONL file."""
    return read_jsonl(path, ImportFileError)


def check_record(fields: dict, obj: dict) -> dict:
    """Check one object against a schema; the row to store (columns given only)."""
    unknown = sorted(set(obj) - set(fields))
    if unknown:
        raise ValueError(
            f"unknown field(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(fields)}"
        )
    row = {}
    for name, (column, check, required) in fields.items():
        if name not in obj:
            if required:
                raise ValueError(f"missing required field {name!r}")
            continue
        try:
            row[column] = check(obj[name])
        except ValueError as exc:
            raise ValueError(f"field {name!r} {exc}") from None
    return row


def parse_file(path: str | Path, kind: str) -> list[tuple[int, dict]]:
    """Check every line of a ``kind`` file: ``[(line, row), ...]``; raises on a bad one."""
    return parse_records(read_objects(path), kind, path)


def parse_records(
    records: Iterable[tuple[int, dict]], kind: str, source: str | Path
) -> list[tuple[int, dict]]:
    """Check ``(number, object)`` records of ``kind``: ``[(number, row), ...]``.

    The check behind :func:`parse_file`, also used for request bodies; raises
    :class:`ImportFileError` naming ``source`` and the record's number.
    """
    fields = FIELDS[kind]
    key_of = {
        "models": lambda r: r["name"],
        "prompts": lambda r: r["key"],
        "answers": lambda r: (r["prompt"], r["model"]),
    }[kind]
    rows, seen = [], {}
    for number, obj in records:
        try:
            row = check_record(fields, obj)
        except ValueError as exc:
            raise ImportFileError(source, number, str(exc)) from None
        key = key_of(row)
        if key in seen:
            raise ImportFileError(
                source, number, f"{_describe(kind, key)} is already on line {seen[key]}"
            )
        seen[key] = number
        rows.append((number, row))
    return rows


def _describe(kind: str, key) -> str:
    if kind == "answers":
        return f"the answer of model {key[1]!r} to prompt {key[0]!r}"
    return f"{kind[:-1]} {key!r}"


# -- writing -----------------------------------------------------------------------------------


def existing(conn: Connection, column, values: Iterable) -> dict:
    """``{value: row id}`` for the ``values`` of a unique ``column`` already stored."""
    values = list(dict.fromkeys(values))
    table = column.table
    found = {}
    for chunk in chunks(values):
        for value, row_id in conn.execute(select(column, table.c.id).where(column.in_(chunk))):
            found[value] = row_id
    return found


def write_models(conn: Connection, rows: list[dict]) -> ImportResult:
    """Upsert model rows (``name`` plus any other columns) on an open transaction."""
    before = existing(conn, Model.__table__.c.name, (r["name"] for r in rows))
    upsert(conn, Model.__table__, rows, ["name"])
    return ImportResult("models", len(rows) - len(before), len(before))


def write_prompts(conn: Connection, rows: list[dict]) -> ImportResult:
    """Upsert prompt rows (``key``, ``text`` plus any other columns)."""
    before = existing(conn, Prompt.__table__.c.key, (r["key"] for r in rows))
    upsert(conn, Prompt.__table__, rows, ["key"])
    return ImportResult("prompts", len(rows) - len(before), len(before))


def write_answers(conn: Connection, rows: list[dict]) -> ImportResult:
    """Upsert answer rows carrying ``prompt_id`` and ``model_id`` (and their style counts)."""
    from arena.style_store import with_style

    rows = [with_style(r) for r in rows]
    table = Answer.__table__
    stored = set()
    pairs = {(r["prompt_id"], r["model_id"]) for r in rows}
    for chunk in chunks(sorted({p for p, _ in pairs})):
        stored.update(
            tuple(row)
            for row in conn.execute(
                select(table.c.prompt_id, table.c.model_id).where(table.c.prompt_id.in_(chunk))
            )
        )
    updated = len(pairs & stored)
    upsert(conn, table, rows, ["prompt_id", "model_id"])
    return ImportResult("answers", len(rows) - updated, updated)


def _resolve_answers(conn: Connection, path, parsed: list[tuple[int, dict]]) -> list[dict]:
    prompts = existing(conn, Prompt.__table__.c.key, (r["prompt"] for _, r in parsed))
    models = existing(conn, Model.__table__.c.name, (r["model"] for _, r in parsed))
    rows = []
    for number, row in parsed:
        if row["prompt"] not in prompts:
            raise ImportFileError(
                path, number, f"unknown prompt {row['prompt']!r} (import the prompts first)"
            )
        if row["model"] not in models:
            raise ImportFileError(
                path, number, f"unknown model {row['model']!r} (import the models first)"
            )
        row = dict(row)
        row["prompt_id"] = prompts[row.pop("prompt")]
        row["model_id"] = models[row.pop("model")]
        rows.append(row)
    return rows


def import_file(engine: Engine, kind: str, path: str | Path) -> ImportResult:
    """Check ``path`` completely, then upsert it in one transaction.

    Raises :class:`ImportFileError` (nothing written) for the first bad line.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    return import_records(engine, kind, read_objects(path), path)


def import_records(
    engine: Engine, kind: str, records: Iterable[tuple[int, dict]], source: str | Path
) -> ImportResult:
    """Check ``(number, object)`` records completely, then upsert them in one transaction.

    What :func:`import_file` does with a file's lines, for records from
    anywhere (the maintainer API's request bodies). Raises
    :class:`ImportFileError` (nothing written) for the first bad record.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    parsed = parse_records(records, kind, source)
    with engine.begin() as conn:
        if kind == "models":
            return write_models(conn, [row for _, row in parsed])
        if kind == "prompts":
            return write_prompts(conn, [row for _, row in parsed])
        return write_answers(conn, _resolve_answers(conn, source, parsed))


def import_models(engine: Engine, path: str | Path) -> ImportResult:
    return import_file(engine, "models", path)


def import_prompts(engine: Engine, path: str | Path) -> ImportResult:
    return import_file(engine, "prompts", path)


def import_answers(engine: Engine, path: str | Path) -> ImportResult:
    return import_file(engine, "answers", path)
