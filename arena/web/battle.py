"""The battle page: ``GET /`` shows a prompt and two anonymous answers."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from arena.web.common import issue_battle
from arena.web.errors import ApiError
from arena.web.extensions import limit
from arena.web.render import markdown

bp = Blueprint("battle", __name__)


@bp.get("/")
@limit("battles")
def index():
    category = request.args.get("category") or None
    try:
        battle = issue_battle(category)
    except ApiError as exc:
        return render_template("empty.html", reason=exc.reason), 404
    return render_template("battle.html", battle=battle, markdown=markdown, category=category)
