"""Model metadata from files: the Open LLM Leaderboard v2 export or JSONL.

* v2 CSV (``huggingface_v2.csv``): ``metadata_params_billions`` (parameters,
  billions; -1 or 0 = unknown), ``model_precision``, ``model_architecture``,
  ``metadata_hub_license``, ``metadata_base_model`` (a `` (Merge)`` suffix
  removed; the model itself = no base) and ``metadata_upload_date`` (the
  repository's upload date: used for recency only when no release date is
  known); the organization is the id's part before ``/``. A model listed
  several times keeps the official provider's row, else the first.
* JSONL: ``{"name", "organization", "parameters_b", "precision",
  "architecture", "license", "base_model", "release_date", "upload_date"}``,
  every field but ``name`` optional.

Writing (``arena import metadata``) is an upsert on ``model`` in one transaction.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from arena.files import read_jsonl
from arena.importers.benchmarks import (
    Parsed,
    SignalFileError,
    fits,
    is_hf_v2,
    number,
    read_csv,
)
from arena.importers.popularity import parse_date
from rating.composite.inputs import ModelFacts

if TYPE_CHECKING:  # the database layer is loaded only to write (arena rank reads files)
    from sqlalchemy.engine import Engine

MERGE_SUFFIX = " (Merge)"


def _v2_facts(path, line: int, row: dict) -> ModelFacts:
    name = fits(path, line, "model_name", row["model_name"], "model")
    params = number(
        path,
        line,
        "metadata_params_billions",
        row.get("metadata_params_billions", ""),
        optional=True,
    )
    base = (row.get("metadata_base_model") or "").removesuffix(MERGE_SUFFIX).strip() or None
    fits(path, line, "metadata_base_model", base, "base_model")
    org = name.split("/")[0] if "/" in name else None
    return ModelFacts(
        organization=fits(path, line, "model_name", org, "organization"),
        parameters_b=params if params is not None and params > 0 else None,
        precision=fits(
            path, line, "model_precision", row.get("model_precision") or None, "precision"
        ),
        base_model=base if base and base.lower() != name.lower() else None,
        upload_date=parse_date(
            path, line, "metadata_upload_date", row.get("metadata_upload_date", "")
        ),
        architecture=fits(
            path, line, "model_architecture", row.get("model_architecture") or None, "architecture"
        ),
        license=fits(
            path, line, "metadata_hub_license", row.get("metadata_hub_license") or None, "license"
        ),
    )


def _parse_v2(path, rows) -> dict[str, ModelFacts]:
    out: dict[str, tuple[ModelFacts, bool]] = {}
    for line, row in rows:
        name = row["model_name"]
        if not name:
            raise SignalFileError(path, line, "column 'model_name' is empty")
        official = row.get("features_is_official_provider", "").lower() == "true"
        if name in out and (out[name][1] or not official):
            continue
        out[name] = (_v2_facts(path, line, row), official)
    return {name: facts for name, (facts, _o) in out.items()}


def _text(path, line: int, obj: dict, key: str, field: str | None = None) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise SignalFileError(path, line, f"{key!r} must be text: {value!r}")
    value = value.strip()
    return fits(path, line, key, value, field) if field else value


def _parse_records(path, records) -> dict[str, ModelFacts]:
    out: dict[str, ModelFacts] = {}
    for line, obj in records:
        name = obj.get("name") or obj.get("model")
        if not isinstance(name, str) or not name.strip():
            raise SignalFileError(path, line, 'no "name"')
        params = obj.get("parameters_b")
        if params is not None and (
            isinstance(params, bool)
            or not isinstance(params, (int, float))
            or not math.isfinite(params)
            or params < 0
        ):
            raise SignalFileError(path, line, f"'parameters_b' must be a number >= 0: {params!r}")
        out[fits(path, line, "name", name.strip(), "model")] = ModelFacts(
            organization=_text(path, line, obj, "organization", "organization")
            or _text(path, line, obj, "org", "organization"),
            parameters_b=float(params) if params else None,
            precision=_text(path, line, obj, "precision", "precision"),
            base_model=_text(path, line, obj, "base_model", "base_model"),
            release_date=parse_date(
                path, line, "release_date", _text(path, line, obj, "release_date") or ""
            ),
            upload_date=parse_date(
                path, line, "upload_date", _text(path, line, obj, "upload_date") or ""
            ),
            architecture=_text(path, line, obj, "architecture", "architecture"),
            license=_text(path, line, obj, "license", "license"),
        )
    return out


def parse_metadata(path: str | Path) -> Parsed:
    """``Parsed.rows`` is a list of ``(model, ModelFacts)``; raises :class:`SignalFileError`."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        header, rows = read_csv(path)
        return parse_metadata_table(path, header, rows)
    return parse_metadata_records(path, read_jsonl(path, SignalFileError))


def parse_metadata_table(source, header: list[str], rows: list[tuple[int, dict]]) -> Parsed:
    """The Open LLM Leaderboard v2 export's header and ``(line, row)`` cells."""
    if not is_hf_v2(header):
        raise SignalFileError(
            source,
            1,
            "a metadata CSV must be the Open LLM Leaderboard v2 export; use JSONL for others",
        )
    return _parsed(source, _parse_v2(source, rows), "open-llm-leaderboard-v2")


def parse_metadata_records(source, records) -> Parsed:
    """``(line, object)`` records of the JSONL layout (a file's lines or a request's)."""
    return _parsed(source, _parse_records(source, records), "jsonl")


def _parsed(source, facts: dict[str, ModelFacts], fmt: str) -> Parsed:
    if not facts:
        raise SignalFileError(source, None, "no models in the file")
    return Parsed(list(facts.items()), fmt, [f"{len(facts)} models"])


def write_metadata(engine: Engine, rows: list[tuple[str, ModelFacts]]) -> dict:
    from arena.importers.common import upsert_counted
    from arena.models import ModelMetadata

    data = [
        {
            "model": name,
            "organization": f.organization,
            "parameters_b": f.parameters_b,
            "precision": f.precision,
            "architecture": f.architecture,
            "license": f.license,
            "base_model": f.base_model,
            "release_date": f.release_date,
            "upload_date": f.upload_date,
        }
        for name, f in rows
    ]
    return upsert_counted(engine, ModelMetadata.__table__, data, ["model"])


def import_metadata(engine: Engine, path: str | Path) -> tuple[Parsed, dict]:
    parsed = parse_metadata(path)
    return parsed, write_metadata(engine, parsed.rows)
