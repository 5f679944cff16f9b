"""``GET /models/<name>``: one model's rating over time, per category and head to head."""

from __future__ import annotations

from flask import Blueprint, render_template
from werkzeug.exceptions import NotFound

from arena.web import model_detail, snapshots
from arena.web.errors import ApiError
from arena.web.extensions import limit

bp = Blueprint("models_page", __name__)


@bp.get("/models/<path:name>")
@limit("reads")
def page(name: str):
    try:
        method, scope = snapshots.request_method(), snapshots.request_scope()
        data = model_detail.detail(name, method, scope)
    except ApiError as exc:
        if exc.status == 404:
            raise NotFound(exc.reason) from None
        raise
    series = {name: [[h["created_at"], h["rating"]] for h in data["history"]]}
    return render_template("model.html", d=data, method=method, scope=scope, series=series)
