"""Maintainer import endpoints: what ``arena import ...`` stores, sent over HTTP.

``POST /api/v1/maintainer/import/<kind>``, ``kind`` one of :data:`KINDS`, with a
maintainer bearer token. The body is

* ``application/json``: a JSON array of objects (numbered from 1 in errors);
* ``application/x-ndjson`` (or ``application/jsonl``): one object per line (JSONL);
* ``text/csv`` (signals only): the CSV that ``arena import benchmarks|popularity|
  aliases|metadata`` reads, the Open LLM Leaderboard v2 export included.

Objects carry the fields of the file formats (models, prompts, answers: the
JSONL schemas of :mod:`arena.importers.jsonl`; signals: the CSV columns, each
value a string, number, boolean or null). The body is checked completely by the
importers the command line uses, then stored in one transaction as an upsert,
so sending it again updates rows and adds none. A bad body answers 400
``{"error": "bad_row", "reason": "row N: ...", "row": N}`` (or ``bad_body``
without a row) and nothing is stored.
"""

from __future__ import annotations

import io
import json

from flask import Blueprint, jsonify, request

from arena.files import FileError, iter_jsonl, parse_csv
from arena.web.common import rt
from arena.web.errors import ApiError, json_error
from arena.web.inputs import _check_json, bad_text
from arena.web.maintainer import require

bp = Blueprint("maintainer_import", __name__, url_prefix="/api/v1/maintainer/import")

RECORD_KINDS = ("models", "prompts", "answers")
SIGNAL_KINDS = ("benchmarks", "popularity", "metadata", "aliases")
KINDS = RECORD_KINDS + SIGNAL_KINDS
SOURCE = "request body"
JSON_TYPES = ("application/json",)
JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines")
CSV_TYPES = ("text/csv",)


class BodyError(FileError):
    """A request body that cannot be imported; names the row when known."""


def _records_from_array(raw: bytes) -> list[tuple[int, dict]]:
    try:
        data = json.loads(raw)
    except RecursionError:
        raise BodyError(SOURCE, None, "JSON nested too deep") from None
    except ValueError:  # includes UnicodeDecodeError
        raise BodyError(SOURCE, None, "not valid JSON (UTF-8)") from None
    if not isinstance(data, list):
        raise BodyError(SOURCE, None, f"expected a JSON array, got {type(data).__name__}")
    out = []
    for number, obj in enumerate(data, start=1):
        if not isinstance(obj, dict):
            raise BodyError(SOURCE, number, f"expected a JSON object, got {type(obj).__name__}")
        out.append((number, obj))
    return out


def records(raw: bytes, media: str) -> list[tuple[int, dict]]:
    """``(row number, object)`` of a JSON array or JSONL body."""
    if media in JSON_TYPES:
        found = _records_from_array(raw)
    else:
        found = list(iter_jsonl(raw.splitlines(), SOURCE, BodyError))
    for number, obj in found:
        try:
            _check_json(obj)
        except ApiError as exc:
            raise BodyError(SOURCE, number, exc.reason) from None
    return found


def _cell(number: int, key: str, value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return value.strip()
    raise BodyError(SOURCE, number, f"column {key!r} must be a string, number, true/false or null")


def table(objects: list[tuple[int, dict]]) -> tuple[list[str], list[tuple[int, dict]]]:
    """JSON objects as the header and string cells the CSV parsers read."""
    header = list(dict.fromkeys(k.strip() for _n, obj in objects for k in obj))
    rows = []
    for number, obj in objects:
        cells = dict.fromkeys(header, "")
        cells.update({k.strip(): _cell(number, k, v) for k, v in obj.items()})
        rows.append((number, cells))
    return header, rows


def _csv(raw: bytes) -> tuple[list[str], list[tuple[int, dict]]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BodyError(SOURCE, None, "not valid UTF-8") from None
    header, rows = parse_csv(io.StringIO(text, newline=""), SOURCE, BodyError)
    for number, row in [(1, dict(zip(header, header))), *rows]:
        for key, value in row.items():
            why = bad_text(value)
            if why:  # PostgreSQL stores no NUL; UTF-8 carries no lone surrogate
                raise BodyError(SOURCE, number, f"column {key!r} contains {why}")
    return header, rows


def _media() -> str:
    return (request.mimetype or "").lower()


def _import(kind: str, raw: bytes, media: str) -> dict:
    """Parse ``raw`` with the importers of ``kind`` and store it; the response's body."""
    engine = rt().engine
    if kind in RECORD_KINDS:
        from arena.importers import jsonl

        result = jsonl.import_records(engine, kind, records(raw, media), SOURCE)
        return {"kind": kind, "inserted": result.inserted, "updated": result.updated}
    from arena.importers import aliases, benchmarks, metadata, popularity

    if media in CSV_TYPES:
        header, rows = _csv(raw)
        parse = {
            "benchmarks": benchmarks.parse_benchmarks_table,
            "popularity": popularity.parse_popularity_table,
            "metadata": metadata.parse_metadata_table,
            "aliases": aliases.parse_aliases_table,
        }[kind]
        parsed = parse(SOURCE, header, rows)
    elif kind == "metadata":
        parsed = metadata.parse_metadata_records(SOURCE, records(raw, media))
    else:
        header, rows = table(records(raw, media))
        parse = {
            "benchmarks": benchmarks.parse_benchmarks_table,
            "popularity": popularity.parse_popularity_table,
            "aliases": aliases.parse_aliases_table,
        }[kind]
        parsed = parse(SOURCE, header, rows)
    write = {
        "benchmarks": benchmarks.write_benchmarks,
        "popularity": popularity.write_popularity,
        "metadata": metadata.write_metadata,
        "aliases": aliases.write_aliases,
    }[kind]
    counts = write(engine, parsed.rows)
    return {"kind": kind, **counts, "format": parsed.format, "notes": parsed.notes}


def body_limit() -> None:
    """``before_request`` (before anything reads the body): the import endpoints take
    bodies up to ``[api] max_import_mb``; every other request keeps the app's limit."""
    if request.blueprint == bp.name:
        request.max_content_length = rt().settings["api"]["max_import_mb"] * 1024 * 1024


def _accepted(kind: str) -> tuple[str, ...]:
    return JSON_TYPES + JSONL_TYPES + (CSV_TYPES if kind in SIGNAL_KINDS else ())


@bp.post(f"/<any({', '.join(KINDS)}):kind>")
@require("maintainer")
def import_kind(kind: str):
    """Import models, prompts, answers or composite signals.

    ---
    post:
      summary: Import models, prompts, answers, benchmark scores, popularity, metadata or aliases
      description: >-
        The body is checked completely with the importers `arena import` uses, then
        stored in one transaction as an upsert (sending it again updates rows and adds
        none). A bad row answers 400 naming it (JSON arrays count elements from 1, JSONL
        and CSV count lines; a CSV header is line 1) and nothing is stored.
      security: [{bearer: []}]
      parameters:
        - name: kind
          in: path
          required: true
          schema:
            type: string
            enum: [models, prompts, answers, benchmarks, popularity, metadata, aliases]
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: array, items: {type: object}}
          application/x-ndjson:
            schema: {contentMediaType: application/x-ndjson}
          text/csv:
            schema: {contentMediaType: text/csv}
      responses:
        200:
          description: what was stored
          content:
            application/json: {schema: {$ref: '#/components/schemas/ImportResult'}}
        400: {$ref: '#/components/responses/ImportError'}
        401: {$ref: '#/components/responses/Error'}
        403: {$ref: '#/components/responses/Error'}
        404: {$ref: '#/components/responses/Error'}
        413: {$ref: '#/components/responses/Error'}
        415: {$ref: '#/components/responses/Error'}
    """
    media = _media()
    if media not in _accepted(kind):
        raise ApiError(
            415,
            f"send {kind} as {', '.join(_accepted(kind))} (got {media or 'no Content-Type'})",
            "unsupported_media_type",
        )
    raw = request.get_data(cache=False)
    if not raw.strip():
        raise ApiError(400, "the request body is empty", "bad_body")
    try:
        body = _import(kind, raw, media)
    except FileError as exc:
        if exc.line is None:
            return json_error(400, exc.message, "bad_body")
        return json_error(400, f"row {exc.line}: {exc.message}", "bad_row", row=exc.line)
    return jsonify(body)
