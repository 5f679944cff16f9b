"""Battles: draw one, store it, and sign the token that a vote must bring back.

A battle records the prompt, the model shown on the left and the one shown on
the right (a fresh coin flip per battle decides which is which), when it was
issued and to whom. The battle token is signed with the app's secret and names
only the battle id; it expires after ``[battle] token_ttl_seconds``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlmodel import Session

from arena import sampling
from arena.db import dialect_insert
from arena.models import Answer, Battle, Prompt, Rater

TOKEN_SALT = "arena.battle"


class TokenInvalid(ValueError):
    """The token is malformed or its signature does not match."""


class TokenExpired(ValueError):
    """The token was genuine but is older than the allowed age."""


class BattleTokens:
    """Sign and check battle tokens."""

    def __init__(self, secret_key: str, max_age: int):
        self._serializer = URLSafeTimedSerializer(secret_key, salt=TOKEN_SALT)
        self.max_age = max_age

    def sign(self, battle_id: int) -> str:
        return self._serializer.dumps({"b": battle_id})

    def battle_id(self, token: object) -> int:
        if not isinstance(token, str) or not token:
            raise TokenInvalid("battle_token must be a non-empty string")
        try:
            data = self._serializer.loads(token, max_age=self.max_age)
        except SignatureExpired:
            raise TokenExpired("battle token has expired") from None
        except BadSignature:
            raise TokenInvalid("battle token is not valid") from None
        if not isinstance(data, dict) or not isinstance(data.get("b"), int):
            raise TokenInvalid("battle token is not valid")
        return data["b"]


@dataclass(frozen=True)
class IssuedBattle:
    battle: Battle
    prompt: Prompt
    left: Answer
    right: Answer


def ensure_rater(session: Session, rater_id: str) -> None:
    """Insert the rater if it is new (concurrent inserts are harmless)."""
    stmt = dialect_insert(session.get_bind())(Rater).values(id=rater_id)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["id"]))


def issue(
    session: Session,
    rng: np.random.Generator,
    *,
    category: str | None = None,
    rater_id: str | None = None,
    origin: str = "web",
    policy: str = "uniform",
    exclude_families: Sequence[str] = (),
) -> IssuedBattle:
    """Draw a battle, flip the side coin, store the battle row and return it.

    The caller commits the session.
    """
    drawn = sampling.draw(
        session, rng, category=category, policy=policy, exclude_families=exclude_families
    )
    left, right = drawn.answer_a, drawn.answer_b
    if rng.random() < 0.5:
        left, right = right, left
    if rater_id:
        ensure_rater(session, rater_id)
    battle = Battle(
        prompt_id=drawn.prompt.id,
        left_model_id=left.model_id,
        right_model_id=right.model_id,
        rater_id=rater_id,
        origin=origin,
    )
    session.add(battle)
    session.flush()
    return IssuedBattle(battle=battle, prompt=drawn.prompt, left=left, right=right)
