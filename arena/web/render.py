"""The stylesheet of highlighted code, served by us (the rendering is :mod:`arena.markdown`).

``GET /highlight-<pygments version>.css`` (:data:`bp`) serves Pygments' colours for the token
classes that :func:`arena.markdown.markdown` leaves on code, so the Content-Security-Policy
(``style-src 'self'``) holds; its URL changes with Pygments' version, so it is cached for a year.
"""

from __future__ import annotations

import pygments
from flask import Blueprint, Response

from arena.markdown import stylesheet

CSS_PATH = f"/highlight-{pygments.__version__}.css"

bp = Blueprint("render", __name__)


@bp.get(CSS_PATH)
def highlight_css():
    """The highlight stylesheet; its URL carries Pygments' version, so it is cached for a year."""
    response = Response(stylesheet(), mimetype="text/css")
    response.cache_control.public = True
    response.cache_control.max_age = 365 * 24 * 3600
    response.cache_control.immutable = True
    return response


@bp.app_context_processor
def _highlight_css():
    return {"highlight_css": CSS_PATH}
