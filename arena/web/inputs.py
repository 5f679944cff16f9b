"""Checks on request input before it reaches the database or a signer.

Text that PostgreSQL cannot store or compare (a NUL character), that no UTF-8
encoder accepts (a lone surrogate, which JSON's ``\\udXXX`` escapes can carry),
and JSON nested deeper than any of our bodies are refused with 400 and a reason
naming the field, on every endpoint: query strings, form fields and URL parts
are checked before the view runs (:func:`check_request`), JSON bodies when read
(:func:`json_body`).
"""

from __future__ import annotations

import json
import re

from flask import request

from arena.web.errors import ApiError

# Longest URL (path and query) served, in characters: gunicorn's default request line
# limit (4094 bytes, with the method and protocol), so that ``arena serve`` and gunicorn
# with ``arena/web/gunicorn_conf.py`` (which raises gunicorn's limit) agree and a
# longer URL gets our JSON 414 rather than gunicorn's HTML one.
MAX_URL_CHARS = 4094
MAX_JSON_DEPTH = 16  # our bodies are flat objects; this leaves room, not recursion
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")


def bad_text(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None."""
    found = _BAD_CHARS.search(value)
    if found is None:
        return None
    return "a NUL character" if found.group() == "\x00" else "a lone surrogate"


def check_text(name: str, value: object) -> None:
    """Refuse ``value`` (a string) with 400 ``bad_text`` when it cannot be stored."""
    if isinstance(value, str):
        why = bad_text(value)
        if why:
            raise ApiError(400, f"{name} contains {why}", "bad_text")


def check_request() -> None:
    """Refuse a request whose query string, form or URL parts hold unstorable text.

    Raw bytes that are not UTF-8 in the query string (not percent-encoded: Werkzeug
    keeps invalid percent-escapes as they are) are refused too, and a URL longer
    than :data:`MAX_URL_CHARS` gets 414.
    """
    length = len(request.environ.get("PATH_INFO", "")) + len(
        request.environ.get("QUERY_STRING", "")
    )
    if length > MAX_URL_CHARS:
        raise ApiError(414, f"URL longer than {MAX_URL_CHARS} characters", "uri_too_long")
    try:
        parts = (("query parameter", request.args), ("form field", request.form))
    except UnicodeDecodeError:
        raise ApiError(400, "the query string or form is not valid UTF-8", "bad_text") from None
    for where, multi in parts:
        for key, values in multi.lists():
            check_text(f"{where} name", key)
            for value in values:
                check_text(f"{where} {key!r}", value)
    for key, value in (request.view_args or {}).items():
        check_text(f"URL part {key!r}", value)
    check_text("URL", request.path)


def _check_json(data: object) -> None:
    """Walk ``data`` without recursion: depth limit and unstorable text anywhere."""
    stack = [(data, "body", 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ApiError(400, f"JSON nested deeper than {MAX_JSON_DEPTH} levels", "bad_json")
        if isinstance(value, str):
            check_text(where, value)
        elif isinstance(value, dict):
            for key, item in value.items():
                check_text(f"a key in {where}", key)
                stack.append((item, key if where == "body" else f"{where}.{key}", depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{where}[]", depth + 1) for item in value)


def json_body(required: bool) -> dict:
    """The request's JSON object (``{}`` for an empty optional body), checked.

    Raises
    ------
    ApiError
        400 ``bad_json`` when the body is not a JSON object, is nested too
        deep or is no UTF-8; 400 ``bad_text`` for a NUL or lone surrogate.
    """
    raw = request.get_data()
    if not raw:
        if required:
            raise ApiError(400, "request body must be a JSON object", "bad_json")
        return {}
    if not request.is_json:  # a cross-site form cannot send this type without preflight
        raise ApiError(400, "request body must be a JSON object (application/json)", "bad_json")
    try:
        data = json.loads(raw)
    except RecursionError:
        raise ApiError(400, "JSON nested too deep", "bad_json") from None
    except ValueError:  # includes UnicodeDecodeError
        raise ApiError(400, "request body must be a JSON object", "bad_json") from None
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object", "bad_json")
    _check_json(data)
    return data
