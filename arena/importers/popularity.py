"""Popularity counts from files: ``model, downloads, likes, date`` CSV, or the
Open LLM Leaderboard v2 export (likes = ``metadata_hub_hearts``; no downloads).

``downloads`` and ``likes`` may be empty (unknown) but not both; ``date`` is
the day the counts were taken (YYYY-MM-DD, optional). Writing is an upsert on
``model`` in one transaction.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from arena.importers.benchmarks import (
    Parsed,
    SignalFileError,
    _require,
    fits,
    is_hf_v2,
    number,
    read_csv,
)
from rating.composite.inputs import PopularityCounts

if TYPE_CHECKING:  # the database layer is loaded only to write (arena rank reads files)
    from sqlalchemy.engine import Engine


def parse_date(path, line: int, column: str, text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise SignalFileError(
            path, line, f"column {column!r} is not a date (YYYY-MM-DD): {text!r}"
        ) from None


def parse_popularity(path: str | Path) -> Parsed:
    """``Parsed.rows`` is a list of ``(model, PopularityCounts)``."""
    header, rows = read_csv(path)
    return parse_popularity_table(path, header, rows)


def parse_popularity_table(path, header: list[str], rows: list[tuple[int, dict]]) -> Parsed:
    """Parse a header and ``(line, row)`` cells (a file's or a request's); ``path`` names it."""
    out: dict[str, PopularityCounts] = {}
    seen: dict[str, int] = {}
    if is_hf_v2(header):
        _require(path, header, ["model_name", "metadata_hub_hearts"])
        for line, row in rows:
            name = fits(path, line, "model_name", row["model_name"], "model")
            likes = number(
                path,
                line,
                "metadata_hub_hearts",
                row["metadata_hub_hearts"],
                integer=True,
                optional=True,
                minimum=0,
            )
            if name and name not in out:
                out[name] = PopularityCounts(None, likes, None)
        fmt = "open-llm-leaderboard-v2"
    else:
        _require(path, header, ["model"])
        if "downloads" not in header and "likes" not in header:
            raise SignalFileError(path, 1, "need a 'downloads' or a 'likes' column")
        for line, row in rows:
            name = fits(path, line, "model", row["model"])
            if not name:
                raise SignalFileError(path, line, "column 'model' is empty")
            downloads = number(
                path,
                line,
                "downloads",
                row.get("downloads", ""),
                integer=True,
                optional=True,
                minimum=0,
            )
            likes = number(
                path, line, "likes", row.get("likes", ""), integer=True, optional=True, minimum=0
            )
            if downloads is None and likes is None:
                raise SignalFileError(path, line, "neither downloads nor likes given")
            when = parse_date(path, line, "date", row.get("date", ""))
            if name.lower() in seen:
                raise SignalFileError(
                    path, line, f"model {name!r} repeats line {seen[name.lower()]}"
                )
            seen[name.lower()] = line
            out[name] = PopularityCounts(downloads, likes, when)
        fmt = "csv"
    if not out:
        raise SignalFileError(path, None, "no rows in the file")
    return Parsed(list(out.items()), fmt, [f"{len(out)} models"])


def write_popularity(engine: Engine, rows: list[tuple[str, PopularityCounts]]) -> dict:
    from arena.importers.common import upsert_counted
    from arena.models import Popularity

    table = Popularity.__table__
    data = [
        {
            "model": m,
            "downloads": None if p.downloads is None else int(p.downloads),
            "likes": None if p.likes is None else int(p.likes),
            "as_of": p.as_of,
        }
        for m, p in rows
    ]
    return upsert_counted(engine, table, data, ["model"])


def import_popularity(engine: Engine, path: str | Path) -> tuple[Parsed, dict]:
    parsed = parse_popularity(path)
    return parsed, write_popularity(engine, parsed.rows)
