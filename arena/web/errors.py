"""Errors as JSON under /api and /healthz; pages get an error page in the site's layout.

* :class:`ApiError` answers ``{"error": <short name>, "reason": <sentence>}``
  (on an HTML page: the reason in the site's layout).
* A dependency that does not answer (Redis, the database) answers **503** with
  ``Retry-After`` and ``{"error": "unavailable", "dependency": "redis"|"database",
  "reason": ...}`` (pages: the same reason in the site's layout), not 500.
* Werkzeug's HTTP errors under ``/api/`` and ``/healthz`` are JSON, a HEAD
  request's too (its headers say ``application/json`` and the length the body
  would have; HTTP sends no body with HEAD); elsewhere a page in the site's
  layout (404, 500 and the others by their name).
"""

from __future__ import annotations

import logging
import time

import redis.exceptions
import sqlalchemy.exc
from flask import Flask, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
JSON_PREFIXES = ("/api/", "/healthz")


class ApiError(Exception):
    """An error answered as ``{"error": <short name>, "reason": <sentence>}``."""

    def __init__(self, status: int, reason: str, error: str | None = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.error = error


def json_error(status: int, reason: str, error: str | None = None, **extra):
    from werkzeug.http import HTTP_STATUS_CODES

    name = error or HTTP_STATUS_CODES.get(status, "error").lower().replace(" ", "_")
    response = jsonify({"error": name, "reason": reason, **extra})
    response.status_code = status
    return response


def wants_json() -> bool:
    return request.path.startswith(JSON_PREFIXES)


def error_page(status: int, reason: str, title: str = "Bad request", retry: bool = False):
    """An error as a page in the site's layout (for the HTML pages)."""
    text = reason.rstrip(".") + "." + (" Please try again in a few seconds." if retry else "")
    try:
        body = render_template("error.html", code=status, title=title, text=text)
    except Exception:  # the layout itself failed: a plain page rather than none
        body = f"<!doctype html><title>{status}</title><h1>{title}</h1><p>{text}</p>"
    return make_response(body, status)


HTML_ERRORS = {
    404: (
        "Page not found",
        "There is no page at this address. It may have moved, or the link may be mistyped.",
    ),
    500: (
        "Something went wrong",
        "The server failed on this request. It has been logged; please try again in a moment.",
    ),
}


def html_error(status: int, exc):
    """An HTTP error as a page in the site's layout (404, 500, and others by their name)."""
    title, text = HTML_ERRORS.get(
        status, (getattr(exc, "name", "Error"), getattr(exc, "description", "") or "")
    )
    return error_page(status, text, title)


_last_logged: dict[str, float] = {}
LOG_EVERY_SECONDS = 30.0


def unavailable(dependency: str, exc: BaseException):
    """503 naming the dependency that failed, with ``Retry-After``.

    Logged as one line, at most every :data:`LOG_EVERY_SECONDS` per dependency
    and process: an outage under load must not flood the log.
    """
    now = time.monotonic()
    if now - _last_logged.get(dependency, -LOG_EVERY_SECONDS) >= LOG_EVERY_SECONDS:
        _last_logged[dependency] = now
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        log.warning("%s unavailable: %s: %s", dependency, type(exc).__name__, first_line)
    reason = f"{dependency} is unavailable ({type(exc).__name__})"
    if wants_json():
        response = json_error(503, reason, "unavailable", dependency=dependency)
    else:
        response = error_page(503, reason, "Temporarily unavailable", retry=True)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


# What a dependency that is down raises. Redis: refused or dropped connections and
# timeouts (BusyLoadingError, a server still loading its data, is a ConnectionError).
# The database: SQLAlchemy's OperationalError (refused, dropped, "database is locked",
# an SQLite file that cannot be opened), InterfaceError and the pool's TimeoutError.
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
DATABASE_DOWN = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
)


def _dependency_of(exc: BaseException) -> str | None:
    """``redis``/``database`` when ``exc`` (or what it wraps) says one is down."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, REDIS_DOWN):
            return "redis"
        if isinstance(exc, DATABASE_DOWN):
            return "database"
        if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
            return "database"
        exc = exc.__cause__ or exc.__context__
    return None


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        if wants_json():
            return json_error(exc.status, exc.reason, exc.error)
        return error_page(exc.status, exc.reason)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        original = getattr(exc, "original_exception", None)
        dependency = _dependency_of(original) if original is not None else None
        if dependency:
            return unavailable(dependency, original)
        if wants_json():
            response = json_error(exc.code or 500, exc.description or exc.name)
            if exc.code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
                response.headers["Allow"] = ", ".join(exc.valid_methods)
            return response
        return html_error(exc.code or 500, exc)

    @app.errorhandler(500)
    def _server_error(exc):
        if wants_json():
            return json_error(500, "the server failed on this request; it is logged")
        return html_error(500, exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        dependency = _dependency_of(exc)
        if dependency:
            return unavailable(dependency, exc)
        raise exc  # Flask turns it into a 500 (JSON under /api through the handler above)
