"""The battle page.

``GET /`` offers a prompt box for a live battle (two live models answer the rater's own
prompt, :mod:`arena.web.live`) when ``[live] enabled`` and at least two models have
endpoints; otherwise, and always at ``/?mode=curated``, it shows a curated prompt and two
anonymous stored answers.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlmodel import Session

from arena import live, live_rules
from arena.markdown import markdown
from arena.web.common import issue_battle, rt
from arena.web.errors import ApiError
from arena.web.extensions import limit

bp = Blueprint("battle", __name__)


def live_ready() -> bool:
    """Live battles are on and two models can answer."""
    settings = rt().settings
    if not settings["live"]["enabled"]:
        return False
    with Session(rt().engine) as s:
        return len(live.live_model_names(settings, s)) >= 2


@bp.get("/")
@limit("battles")
def index():
    if request.args.get("mode") != "curated" and live_ready():
        cfg = rt().settings["live"]
        return render_template(
            "live.html",
            notice=cfg["notice"],
            max_turns=cfg["max_turns"],
            max_prompt_chars=cfg["max_prompt_chars"],
            categories=live_rules.CATEGORIES,
        )
    category = request.args.get("category") or None
    try:
        battle = issue_battle(category)
    except ApiError as exc:
        return render_template("empty.html", reason=exc.reason), 404
    return render_template("battle.html", battle=battle, markdown=markdown, category=category)
