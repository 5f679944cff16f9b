"""Tables as CSV (``?format=csv``) for the read API."""

from __future__ import annotations

import csv
import io

from flask import Response, request

from arena.web.errors import ApiError

FORMATS = ("json", "csv")


def wants_csv() -> bool:
    """True for ``?format=csv``; 400 for a format that is neither json nor csv."""
    fmt = request.args.get("format", "json")
    if fmt not in FORMATS:
        raise ApiError(400, f"format must be one of {', '.join(FORMATS)}", "bad_format")
    return fmt == "csv"


def csv_response(rows: list[dict], columns, filename: str) -> Response:
    """``rows`` (dicts) as CSV with a header of ``columns``; cells that a spreadsheet would
    read as a formula (``=``, ``+``, ``-``, ``@`` before text) are prefixed with ``'``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
