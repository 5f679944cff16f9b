"""Model aliases from a CSV ``alias, model``: another name for a model, used to
match names across inputs. Aliases are stored lower-case; an alias given
twice in a file must name the same model. Writing is an upsert on ``alias``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from arena.importers.benchmarks import Parsed, SignalFileError, _require, fits, read_csv

if TYPE_CHECKING:  # the database layer is loaded only to write (arena rank reads files)
    from sqlalchemy.engine import Engine


def parse_aliases(path: str | Path) -> Parsed:
    """``Parsed.rows`` is a list of ``(alias lower-case, model)``."""
    header, rows = read_csv(path)
    return parse_aliases_table(path, header, rows)


def parse_aliases_table(path, header: list[str], rows: list[tuple[int, dict]]) -> Parsed:
    """Parse a header and ``(line, row)`` cells (a file's or a request's); ``path`` names it."""
    _require(path, header, ["alias", "model"])
    out: dict[str, tuple[str, int]] = {}
    for line, row in rows:
        alias = fits(path, line, "alias", row["alias"].lower())
        model = fits(path, line, "model", row["model"])
        if not alias:
            raise SignalFileError(path, line, "column 'alias' is empty")
        if not model:
            raise SignalFileError(path, line, "column 'model' is empty")
        if alias in out and out[alias][0].lower() != model.lower():
            raise SignalFileError(
                path,
                line,
                f"alias {alias!r} already names {out[alias][0]!r} on line {out[alias][1]}",
            )
        out.setdefault(alias, (model, line))
    if not out:
        raise SignalFileError(path, None, "no aliases in the file")
    return Parsed([(a, m) for a, (m, _l) in out.items()], "csv", [f"{len(out)} aliases"])


def write_aliases(engine: Engine, rows: list[tuple[str, str]]) -> dict:
    from arena.importers.common import upsert_counted
    from arena.models import Alias

    table = Alias.__table__
    data = [{"alias": a, "model": m} for a, m in rows]
    return upsert_counted(engine, table, data, ["alias"])


def import_aliases(engine: Engine, path: str | Path) -> tuple[Parsed, dict]:
    parsed = parse_aliases(path)
    return parsed, write_aliases(engine, parsed.rows)
