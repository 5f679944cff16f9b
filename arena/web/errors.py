"""Errors as JSON under /api and /healthz; pages get an error page in the site's layout."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    """An error answered as ``{"error": <short name>, "reason": <sentence>}``."""

    def __init__(self, status: int, reason: str, error: str | None = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.error = error


def json_error(status: int, reason: str, error: str | None = None):
    from werkzeug.http import HTTP_STATUS_CODES

    name = error or HTTP_STATUS_CODES.get(status, "error").lower().replace(" ", "_")
    response = jsonify({"error": name, "reason": reason})
    response.status_code = status
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return json_error(exc.status, exc.reason, exc.error)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if request.path.startswith(("/api/", "/healthz")):
            return json_error(exc.code or 500, exc.description or exc.name)
        return html_error(exc.code or 500, exc)

    @app.errorhandler(500)
    def _server_error(exc):
        if request.path.startswith(("/api/", "/healthz")):
            return json_error(500, "the server failed on this request; it is logged")
        return html_error(500, exc)


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


def html_error(status: int, exc) -> tuple[str, int]:
    """An HTML error page in the site's layout (404, 500, and others by their name)."""
    title, text = HTML_ERRORS.get(
        status, (getattr(exc, "name", "Error"), getattr(exc, "description", "") or "")
    )
    try:
        return render_template("error.html", code=status, title=title, text=text), status
    except Exception:  # the layout itself failed: a plain page rather than none
        return f"<!doctype html><title>{status}</title><h1>{title}</h1>", status
