"""Benchmark scores from files: the Open LLM Leaderboard v2 export and a long CSV.

Formats (detected from the header):

* Open LLM Leaderboard v2 (``huggingface_v2.csv``): one row per evaluated
  model; the export's own ``evaluations_<task>_normalized_score`` of the six
  tasks (IFEval, BBH, MATH Level 5, GPQA, MuSR, MMLU-Pro) are stored
  (``normalized = true``, 0-100) with the public test-set sizes as
  ``n_items``: exact for BBH and MuSR, whose subtask baselines differ (a
  task-level baseline from the raw ``evaluations_<task>_value`` is off by up
  to 9 points). Without a normalized column (or cell), the raw value is
  stored (``normalized = false``) and normalized when ranking. A model listed more than once
  (several precisions or revisions) keeps one row: the official provider's,
  else the first in the file; the others are counted as skipped.
* long CSV: ``model, benchmark, subtask, score, n_items[, normalized]``;
  ``subtask`` and ``n_items`` may be empty. A raw score is an accuracy in
  [0, 1]; with ``normalized`` true it is already on the 0-100 scale.

Every problem names the file and line; nothing is written unless the whole
file is good. Writing is an upsert on ``(model, benchmark, subtask)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from arena import files
from arena.files import FileError
from rating.composite.inputs import BenchmarkResult
from rating.composite.openllm import V2_ITEMS, V2_TASKS

if TYPE_CHECKING:  # the database layer is loaded only to write (arena rank reads files)
    from sqlalchemy.engine import Engine

HF_V2_MARKER = "evaluations_ifeval_value"
LONG_COLUMNS = ("model", "benchmark", "score")
TRUE = {"1", "true", "yes", "y", "t"}
FALSE = {"0", "false", "no", "n", "f", ""}


class SignalFileError(FileError):
    """A signal file that cannot be used; names the file and, when known, the line."""


#: The longest text each signal field stores: the database's column sizes
#: (``arena.models``; PostgreSQL refuses longer text, so it is refused here, by line).
MAX_CHARS = {
    "model": 300,
    "benchmark": 100,
    "subtask": 200,
    "alias": 300,
    "organization": 200,
    "precision": 40,
    "architecture": 200,
    "license": 200,
    "base_model": 300,
}


def fits(path, line: int, column: str, value: str | None, field: str | None = None):
    """``value``, or :class:`SignalFileError` when it is longer than ``field``'s column
    (``field`` defaults to ``column``) allows."""
    limit = MAX_CHARS[field or column]
    if value is not None and len(value) > limit:
        raise SignalFileError(path, line, f"column {column!r} is longer than {limit} characters")
    return value


@dataclass
class Parsed:
    """Parsed rows and notes about the file (format, skipped duplicates)."""

    rows: list
    format: str
    notes: list[str] = field(default_factory=list)


def read_csv(path: str | Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """Header and ``(line number, row)`` pairs of a signal CSV file (:func:`arena.files.read_csv`,
    errors as :class:`SignalFileError`)."""
    return files.read_csv(path, SignalFileError)


def number(
    path,
    line: int,
    column: str,
    text: str,
    *,
    integer: bool = False,
    optional: bool = False,
    minimum: float | None = None,
):
    """Parse a number cell or raise :class:`SignalFileError` naming file, line and column."""
    if text == "" or text.lower() in {"nan", "null", "none", "na"}:
        if optional:
            return None
        raise SignalFileError(path, line, f"column {column!r} is empty")
    try:
        value = float(text)
    except ValueError:
        raise SignalFileError(path, line, f"column {column!r} is not a number: {text!r}") from None
    if not math.isfinite(value):
        raise SignalFileError(path, line, f"column {column!r} is not finite: {text!r}")
    if integer:
        if value != int(value):
            raise SignalFileError(path, line, f"column {column!r} is not a whole number: {text!r}")
        value = int(value)
    if minimum is not None and value < minimum:
        raise SignalFileError(path, line, f"column {column!r} must be >= {minimum}: {text!r}")
    return value


def _boolean(path, line: int, column: str, text: str) -> bool:
    low = text.lower()
    if low in TRUE:
        return True
    if low in FALSE:
        return False
    raise SignalFileError(path, line, f"column {column!r} is not true/false: {text!r}")


def _require(path, header: list[str], columns) -> None:
    missing = [c for c in columns if c not in header]
    if missing:
        raise SignalFileError(
            path, 1, f"missing column(s) {', '.join(missing)}; header is {', '.join(header)}"
        )


def is_hf_v2(header: list[str]) -> bool:
    return HF_V2_MARKER in header


def _v2_score(path, line: int, row: dict, task: str) -> tuple[float, bool]:
    """The export's normalized score (0-100) when given, else the raw accuracy."""
    column = f"evaluations_{task}_normalized_score"
    if row.get(column, "") != "":
        value = number(path, line, column, row[column], minimum=0.0)
        if value > 100:
            raise SignalFileError(path, line, f"{column} is above 100: {row[column]!r}")
        return value, True
    column = f"evaluations_{task}_value"
    value = number(path, line, column, row[column], minimum=0.0)
    if value > 1:
        raise SignalFileError(path, line, f"{column} is above 1: {row[column]!r}")
    return value, False


def parse_hf_v2(path, header, rows) -> Parsed:
    """Rows of the Open LLM Leaderboard v2 export (see the module docstring)."""
    need = ["model_name"] + [f"evaluations_{t}_value" for t in V2_TASKS]
    _require(path, header, need)
    chosen: dict[str, tuple[dict, bool]] = {}  # name -> (task -> (score, normalized), official)
    skipped = 0
    for line, row in rows:
        name = fits(path, line, "model_name", row["model_name"], "model")
        if not name:
            raise SignalFileError(path, line, "column 'model_name' is empty")
        scores = {t: _v2_score(path, line, row, t) for t in V2_TASKS}
        official = row.get("features_is_official_provider", "").lower() == "true"
        if name in chosen:
            skipped += 1
            if official and not chosen[name][1]:
                chosen[name] = (scores, official)
            continue
        chosen[name] = (scores, official)
    out = [
        BenchmarkResult(name, t, "", scores[t][0], V2_ITEMS[t], scores[t][1])
        for name, (scores, _official) in chosen.items()
        for t in V2_TASKS
    ]
    notes = [f"{len(chosen)} models"]
    if skipped:
        notes.append(
            f"{skipped} repeated rows of the same model skipped "
            f"(kept the official provider's, else the first)"
        )
    return Parsed(out, "open-llm-leaderboard-v2", notes)


def parse_long(path, header, rows) -> Parsed:
    """Rows of the long format ``model, benchmark, subtask, score, n_items[, normalized]``."""
    _require(path, header, LONG_COLUMNS)
    seen: dict[tuple, int] = {}
    out = []
    for line, row in rows:
        model, bench = fits(path, line, "model", row["model"]), row["benchmark"]
        fits(path, line, "benchmark", bench)
        if not model:
            raise SignalFileError(path, line, "column 'model' is empty")
        if not bench:
            raise SignalFileError(path, line, "column 'benchmark' is empty")
        subtask = fits(path, line, "subtask", row.get("subtask", ""))
        normalized = _boolean(path, line, "normalized", row.get("normalized", ""))
        score = number(path, line, "score", row["score"])
        top = 100.0 if normalized else 1.0
        if not 0.0 <= score <= top:
            raise SignalFileError(
                path,
                line,
                (
                    f"score {score} outside [0, {top:g}] "
                    + (
                        "(normalized scores are 0-100)"
                        if normalized
                        else "(raw scores are accuracies in [0, 1]; "
                        "mark 0-100 scores normalized=true)"
                    )
                ),
            )
        n_items = number(
            path, line, "n_items", row.get("n_items", ""), integer=True, optional=True, minimum=1
        )
        key = (model.lower(), bench.lower(), subtask.lower())
        if key in seen:
            raise SignalFileError(
                path, line, f"{model} / {bench} / {subtask or '-'} repeats line {seen[key]}"
            )
        seen[key] = line
        out.append(BenchmarkResult(model, bench, subtask, score, n_items, normalized))
    return Parsed(out, "long", [f"{len(out)} scores"])


def parse_benchmarks(path: str | Path) -> Parsed:
    """Parse a benchmarks file in either format; raises :class:`SignalFileError`."""
    header, rows = read_csv(path)
    return parse_benchmarks_table(path, header, rows)


def parse_benchmarks_table(source, header: list[str], rows: list[tuple[int, dict]]) -> Parsed:
    """Parse a header and ``(line, row)`` cells in either format (a file's or a request's)."""
    if is_hf_v2(header):
        parsed = parse_hf_v2(source, header, rows)
    else:
        parsed = parse_long(source, header, rows)
    if not parsed.rows:
        raise SignalFileError(source, None, "no scores in the file")
    return parsed


def write_benchmarks(engine: Engine, rows: list[BenchmarkResult]) -> dict:
    """Store scores in one transaction; returns ``{"inserted", "updated"}``."""
    from arena.importers.common import upsert_counted
    from arena.models import BenchmarkScore

    table = BenchmarkScore.__table__
    data = [
        {
            "model": r.model,
            "benchmark": r.benchmark,
            "subtask": r.subtask or "",
            "score": float(r.score),
            "n_items": r.n_items,
            "normalized": bool(r.normalized),
        }
        for r in rows
    ]
    return upsert_counted(engine, table, data, ["model", "benchmark", "subtask"])


def import_benchmarks(engine: Engine, path: str | Path) -> tuple[Parsed, dict]:
    """Parse then store a benchmarks file (all or nothing)."""
    parsed = parse_benchmarks(path)
    return parsed, write_benchmarks(engine, parsed.rows)
