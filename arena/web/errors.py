"""Errors as JSON under /api and /healthz; HTML pages keep Flask's pages."""

from __future__ import annotations

from flask import Flask, jsonify, request
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
        return exc
