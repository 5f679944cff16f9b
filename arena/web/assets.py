"""Static assets: plotly from the installed package, its stylesheet, compression, the favicon.

``GET /vendor/plotly-<version>.min.js``  plotly's bundle (the version in the URL, so it
                                         is cached for a year and changes with plotly)
``GET /vendor/plotly-<version>.css``     plotly's global style rules, as a stylesheet
``GET /favicon.ico``                     the site icon (an SVG)

Plotly normally adds its global style rules by injecting a ``<style>`` element,
which the Content-Security-Policy (``style-src 'self'``) refuses. Plotly skips
the injection when an element with id ``plotly.js-style-global`` and class
``no-inline-styles`` exists: the pages link this stylesheet with that id and
class. The rules are read from the installed bundle itself (the ``X``/``Y``
table plotly would inject), so they follow the plotly version.

Responses are compressed by flask-compress (zstd, br, gzip or deflate, as the
client accepts); the compressed bytes of the vendored and static files are kept
in memory (:class:`AssetCache`) so the 4.8 MB bundle is compressed once per
encoding, not per request. Pages and API answers are compressed per request.
"""

from __future__ import annotations

import functools
import re
import threading
from pathlib import Path

import plotly
from flask import Blueprint, Flask, Response, request
from flask_compress import Compress

bp = Blueprint("assets", __name__)

PLOTLY_DIR = Path(plotly.__file__).parent / "package_data"
PLOTLY_VERSION = plotly.__version__
ONE_YEAR = 365 * 24 * 3600
CACHED_ENDPOINTS = frozenset(
    {"assets.plotly_js", "assets.plotly_stylesheet", "static", "assets.favicon"}
)

FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="6" fill="#2457c5"/>'
    '<path d="M9 25 16 7l7 18M11.5 19h9" stroke="#fff" stroke-width="3" fill="none"/></svg>'
)


class AssetCache:
    """flask-compress's cache backend: keeps compressed bytes of assets only.

    flask-compress asks the cache for every compressed response; only keys
    made by :func:`cache_key` for an asset endpoint are kept (bounded: the
    assets are few), every other response is compressed afresh.
    """

    def __init__(self):
        self._data: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        return self._data.get(key)

    def set(self, key: str, value: bytes) -> None:
        if key.split(";", 1)[-1] and len(self._data) < 64:
            with self._lock:
                self._data[key] = value


def cache_key(req) -> str:
    """The asset's path (its version is in it), or "" for anything not cached."""
    return req.path if req.endpoint in CACHED_ENDPOINTS else ""


@functools.lru_cache(maxsize=1)
def plotly_css() -> str:
    """Plotly's global style rules, read from the installed bundle.

    Raises ``RuntimeError`` when the bundle has no such table (a plotly
    release that changed it): a test fails loudly then.
    """
    text = (PLOTLY_DIR / "plotly.min.js").read_text(encoding="utf-8")
    start = text.find('{"X,X div":')
    if start < 0:
        raise RuntimeError("plotly's style table was not found in plotly.min.js")
    token = re.compile(r"""\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([A-Za-z_$][\w$]*))\s*""")
    rules, pos = [], start + 1
    while text[pos] != "}":
        key = token.match(text, pos)
        if key is None or text[key.end()] != ":":
            raise RuntimeError("plotly's style table has an unexpected shape")
        value = token.match(text, key.end() + 1)
        if value is None:
            raise RuntimeError("plotly's style table has an unexpected shape")
        selector = next(g for g in key.groups() if g is not None)
        body = next(g for g in value.groups() if g is not None)
        selector = re.sub(r"^,", " ,", selector)
        selector = selector.replace("X", ".js-plotly-plot .plotly").replace("Y", ".plotly-notifier")
        rules.append(f"{selector}{{{body}}}")
        pos = value.end()
        if text[pos] == ",":
            pos += 1
    return "\n".join(rules) + "\n"


@functools.lru_cache(maxsize=1)
def _plotly_bytes() -> bytes:
    return (PLOTLY_DIR / "plotly.min.js").read_bytes()


def _immutable(response: Response) -> Response:
    response.cache_control.public = True
    response.cache_control.max_age = ONE_YEAR
    response.cache_control.immutable = True
    response.set_etag(PLOTLY_VERSION)
    return response.make_conditional(request)


@functools.lru_cache(maxsize=1)
def plotly_guard_ids() -> tuple[str, ...]:
    """Ids of elements whose presence stops plotly injecting a ``<style>`` at load.

    The bundle carries maplibre's stylesheet and injects it when the page has no
    element with its id (a 64-hex id); the pages have one, so nothing is injected.
    """
    text = (PLOTLY_DIR / "plotly.min.js").read_text(encoding="utf-8")
    pattern = r'getElementById\("([0-9a-f]{64})"\)\)\{var \w+=document.createElement\("style"\)'
    return tuple(dict.fromkeys(re.findall(pattern, text)))


@bp.app_context_processor
def _plotly_guards():
    return {"plotly_guard_ids": plotly_guard_ids()}


@bp.get(f"/vendor/plotly-{PLOTLY_VERSION}.min.js")
def plotly_js():
    """The bundle from memory (not a file stream), so flask-compress can cache its encodings."""
    return _immutable(Response(_plotly_bytes(), mimetype="text/javascript"))


@bp.get(f"/vendor/plotly-{PLOTLY_VERSION}.css")
def plotly_stylesheet():
    return _immutable(Response(plotly_css(), mimetype="text/css"))


@bp.get("/favicon.ico")
def favicon():
    response = Response(FAVICON, mimetype="image/svg+xml")
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response


def init_app(app: Flask) -> None:
    app.config.update(
        COMPRESS_MIMETYPES=[
            "text/html",
            "text/css",
            "text/csv",
            "text/javascript",
            "application/javascript",
            "application/json",
            "image/svg+xml",
        ],
        COMPRESS_CACHE_BACKEND=AssetCache,
        COMPRESS_CACHE_KEY=cache_key,
    )
    Compress(app)
    app.register_blueprint(bp)
