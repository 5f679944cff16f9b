"""Reading the small text files Arena imports: one JSONL reader, one CSV reader, one error.

No database here: :mod:`arena.battle_files` (``arena rate --input``) and the
importers (:mod:`arena.importers`) share these without loading SQLAlchemy.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path


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
        yield from iter_jsonl(handle, path, error)


def iter_jsonl(
    lines: Iterable[bytes], source: str | Path, error: type[FileError] = FileError
) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for each non-blank line of JSONL ``lines`` (bytes).

    The reader behind :func:`read_jsonl`, also used for request bodies;
    ``source`` names the input in errors.
    """
    for number, raw in enumerate(lines, start=1):
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise error(source, number, "not valid UTF-8") from None
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(source, number, f"not valid JSON ({exc.msg})") from None
        except RecursionError:
            raise error(source, number, "JSON nested too deep") from None
        if not isinstance(obj, dict):
            raise error(source, number, f"expected a JSON object, got {type(obj).__name__}")
        yield number, obj


def read_csv(
    path: str | Path, error: type[FileError] = FileError
) -> tuple[list[str], list[tuple[int, dict]]]:
    """Header and ``(line number, row)`` pairs of a CSV file with a header line.

    The importers' one CSV reader (small files checked row by row; battle files
    for ``arena rate`` are read by :mod:`arena.battle_files` instead). A leading
    byte-order mark is accepted; header names and cells are stripped; rows whose
    cells are all blank are skipped. A row with more cells than the header, bad
    CSV quoting or a byte that is not UTF-8 raises ``error`` naming the line.
    """
    path = Path(path)
    try:
        handle = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        raise error(path, None, "file not found") from None
    except OSError as exc:
        raise error(path, None, f"cannot open: {exc.strerror or exc}") from None
    with handle as fh:
        return parse_csv(fh, path, error)


def parse_csv(
    handle: Iterable[str], source: str | Path, error: type[FileError] = FileError
) -> tuple[list[str], list[tuple[int, dict]]]:
    """Header and ``(line number, row)`` pairs of CSV text lines (see :func:`read_csv`).

    ``handle`` yields text lines (an open file, or ``io.StringIO`` of a request
    body); ``source`` names the input in errors.
    """
    out: list[tuple[int, dict]] = []
    line = 1
    try:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in (reader.fieldnames or [])]
        if not header:
            raise error(source, None, "empty file (no header line)")
        reader.fieldnames = header
        for row in reader:
            line = reader.line_num
            if None in row:
                raise error(
                    source,
                    line,
                    f"{len(header) + len(row[None])} fields, header has {len(header)}",
                )
            if all((v or "").strip() == "" for v in row.values()):
                continue
            out.append((line, {k: (v or "").strip() for k, v in row.items()}))
    except csv.Error as exc:
        raise error(source, line, f"bad CSV ({exc})") from None
    except UnicodeDecodeError:
        raise error(source, line + 1, "not valid UTF-8") from None
    return header, out
