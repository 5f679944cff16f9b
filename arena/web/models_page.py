"""``GET /models/<name>``: one model's rating over time, per category and head to head,
and its composite signals (:mod:`arena.web.model_signals`)."""

from __future__ import annotations

from flask import Blueprint, render_template
from markupsafe import Markup
from werkzeug.exceptions import NotFound

from arena.markdown import markdown
from arena.web import composite_page, fragments, model_detail, model_signals, snapshots
from arena.web.errors import ApiError
from arena.web.extensions import limit

bp = Blueprint("models_page", __name__)


@bp.get("/models/<path:name>")
@limit("reads")
def page(name: str):
    method, scope = snapshots.request_method(), snapshots.request_scope()
    links = tuple(sorted(snapshots.link_args(method, scope).items()))
    key = ("model", composite_page.stamp(), name, method, scope, links)
    try:
        body, charted = fragments.cached(key, lambda: _body(name, method, scope))
    except ApiError as exc:
        if exc.status == 404:
            raise NotFound(exc.reason) from None
        raise
    return render_template("model.html", body=body, charted=charted, name=name)


def _body(name, method, scope) -> tuple[Markup, bool]:
    """The page's body (cached per snapshot and query), and whether it has a chart."""
    data = model_detail.detail(name, method, scope)
    series = {name: [[h["created_at"], h["rating"]] for h in data["history"]]}
    html = render_template(
        "_model_body.html",
        d=data,
        method=method,
        scope=scope,
        series=series,
        link_args=snapshots.link_args(method, scope),
        markdown=markdown,
        composite=model_signals.signals(name),
        raw_text=composite_page.raw_text,
    )
    return Markup(html), len(data["history"]) > 1
