"""Read a battle file's columns with polars, and name the line of what is wrong.

The readers of :mod:`arena.battle_files`: only the columns it uses are read
(:func:`_wanted`); CSV names and labels as categoricals (:data:`CODED_COLUMNS`).
When polars refuses a file, a slow pass over it names the first bad line
(:func:`_bad_bytes`, :func:`_bad_csv_row`, :func:`_bad_json_line`), and
:class:`_Where` turns a row number into the line (or Parquet row) an error
message names. Nothing here needs numpy.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from arena.files import FileError

ONE_HOT = ("winner_model_a", "winner_model_b", "winner_tie")  # LMArena's 55k release
LABELS = ("category", "source", "rater_group")
TIME_COLUMNS = ("tstamp", "timestamp")
#: Columns of few distinct strings that the CSV reader reads as categoricals (see _factor).
CODED_COLUMNS = ("model_a", "model_b", "winner", "left", *LABELS, "language")
HEAD_BYTES = 1 << 16


class BattleFileError(FileError):
    """A battle file that cannot be read; the message names the file and line."""


def _fail(path, line, message):
    raise BattleFileError(path, line, message)


# -- reading: polars, and on a failure a slow pass that names the line ---------------------------


def _polars():
    import polars as pl

    return pl


def _read_csv(path: Path, skip=()):
    pl = _polars()
    try:
        header = pl.read_csv(path, n_rows=0, infer_schema=False).columns
    except pl.exceptions.NoDataError:
        _fail(path, None, "the file is empty")
    except pl.exceptions.ComputeError:
        _bad_bytes(path)
        raise
    wanted = [c for c in header if c in _wanted(skip)]
    # Names and labels are read as categoricals: each distinct string is hashed once, while
    # parsing, instead of kept per row and hashed again by _factor.
    coded = {c: pl.Categorical for c in wanted if c in CODED_COLUMNS}
    try:
        return pl.read_csv(
            path,
            columns=wanted,
            infer_schema=False,
            schema_overrides=coded,
            raise_if_empty=False,
        )
    except pl.exceptions.ComputeError as exc:
        _bad_bytes(path)
        _bad_csv_row(path, len(header))
        _fail(path, None, f"cannot read as CSV: {str(exc).splitlines()[0]}")


def _read_jsonl(path: Path, skip=()):
    pl = _polars()
    try:
        frame = pl.read_ndjson(path, infer_schema_length=None)
    except pl.exceptions.ComputeError as exc:
        _bad_bytes(path)
        _bad_json_line(path)
        _fail(path, None, f"cannot read as JSON Lines: {str(exc).splitlines()[0]}")
    return frame.select([c for c in frame.columns if c in _wanted(skip)])


def _read_parquet(path: Path, skip=()):
    pl = _polars()
    try:
        names = pl.read_parquet_schema(path)
        return pl.read_parquet(path, columns=[c for c in names if c in _wanted(skip)])
    except (pl.exceptions.ComputeError, OSError) as exc:
        _fail(path, None, f"cannot read as Parquet: {str(exc).splitlines()[0]}")


def _wanted(skip=()) -> set[str]:
    """The columns the reader uses (all others stay on disk or are dropped)."""
    base = {"model_a", "model_b", "winner", "left", "right", "weight", *TIME_COLUMNS}
    extra = set(LABELS) | set(ONE_HOT) | {"conv_metadata", "category_tag", "is_code", "language"}
    return (base | extra) - set(skip)


def _bad_bytes(path: Path) -> None:
    """Raise naming the line of the first byte that is not UTF-8, if there is one."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        _fail(path, data.count(b"\n", 0, exc.start) + 1, "not UTF-8 text")


def _bad_csv_row(path: Path, width: int) -> None:
    """Raise naming the first line whose row has more cells than the header."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        for row in reader:
            if len(row) > width:
                _fail(path, reader.line_num, f"{len(row)} fields, the header has {width}")


def _bad_json_line(path: Path) -> None:
    """Raise naming the first line of a JSONL file that is not a JSON object."""
    with open(path, encoding="utf-8-sig") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                _fail(path, line_no, f"broken JSON: {exc.msg} (column {exc.colno})")
            if not isinstance(obj, dict):
                _fail(path, line_no, "expected an object with model_a, model_b, winner")


# -- where a row is, for error messages ----------------------------------------------------------


class _Where:
    """Names the place of row ``k`` (0-based, in file order) for an error message."""

    def __init__(self, path: Path, fmt: str):
        self.path, self.fmt = path, fmt

    def fail(self, k: int, message: str):
        if self.fmt == "csv":
            _fail(self.path, _csv_line(self.path, k), message)
        if self.fmt == "jsonl":
            _fail(self.path, _jsonl_line(self.path, k), message)
        if self.fmt == "parquet":
            _fail(self.path, None, f"row {k + 1}: {message}")
        _fail(self.path, None, f"battle {k}: {message}")


class _Bad(Exception):
    """A check failed on a distinct row (:class:`_Recheck`)."""


class _Recheck(_Where):
    """For the checks on distinct rows: a failure only says that some row is bad (the
    pass over every row then names the first one)."""

    def fail(self, k: int, message: str):
        raise _Bad(message)


def _csv_line(path: Path, k: int) -> int:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        next(reader)
        for row_no, _ in enumerate(reader):
            if row_no == k:
                return reader.line_num
    return 0


def _jsonl_line(path: Path, k: int) -> int:
    with open(path, encoding="utf-8-sig") as fh:
        seen = -1
        for line_no, line in enumerate(fh, start=1):
            seen += bool(line.strip())
            if seen == k:
                return line_no
    return 0
