"""What the battle page and the API share: the runtime, tokens, the rater id."""

from __future__ import annotations

import functools
import secrets

import numpy as np
from flask import current_app, session
from sqlmodel import Session

from arena import battles, sampling
from arena.web.errors import ApiError


def rt():
    return current_app.extensions["arena.runtime"]


def tokens() -> battles.BattleTokens:
    settings = rt().settings
    return _tokens(settings.secret_key, int(settings["battle"]["token_ttl_seconds"]))


@functools.lru_cache(maxsize=8)
def _tokens(secret_key: str, max_age: int) -> battles.BattleTokens:
    """One signer per key and lifetime, not one per request."""
    return battles.BattleTokens(secret_key, max_age)


def rater_id() -> str:
    """The anonymous rater id kept in the signed session cookie."""
    if "rater" not in session:
        session["rater"] = secrets.token_hex(12)
        session.permanent = True
    return session["rater"]


def issue_battle(category: str | None) -> dict:
    """Draw a battle (stored only when voted on); answer its public view (no model names)."""
    settings = rt().settings
    try:
        with Session(rt().engine) as s:
            issued = battles.draw(
                s,
                np.random.default_rng(),
                category=category,
                rater_id=rater_id(),
                policy=settings["battle"]["sampler"],
            )
            view = {
                "battle_token": tokens().sign_unstored(issued.battle),
                "prompt": {
                    "id": issued.prompt.id,
                    "text": issued.prompt.text,
                    "category": issued.prompt.category,
                },
                "left": {"text": issued.left.text},
                "right": {"text": issued.right.text},
            }
    except sampling.NoBattleAvailable as exc:
        raise ApiError(404, str(exc), "no_battle") from None
    return view
