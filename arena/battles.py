"""Battles: draw one, and sign the token that a vote must bring back.

A battle shows a prompt and two answers; which model is on the left and which
on the right is a fresh coin flip per battle. How it reaches the database
depends on who drew it:

* **Drawn for a rater** (the battle page, ``POST /api/v1/battles``):
  :func:`draw` stores *nothing*. The battle token carries the whole battle (a
  random key, the prompt, the two models in their shown positions, the pair
  sampler, the rater it was drawn for, and, through the signature's timestamp,
  the time it was issued), and the vote job stores the battle row and the vote
  row in one transaction (:func:`arena.votes.store_in`). An unvoted battle
  leaves no trace, so a crawler cannot fill the database.
* **Stored when drawn** (:func:`issue`): judge jobs, which record their calls
  against the battle before they vote, and later live battles, whose
  conversation is stored turn by turn. A token for a stored battle names only
  its id (``{"b": id}``).

The token is signed with the app's secret (itsdangerous) and expires after
``[battle] token_ttl_seconds``. Signed is not secret: the model ids are sealed
(XOR with a pad derived by keyed BLAKE2b from the secret and the battle's
random key, then covered by the signature), so a rater who decodes the token
learns the prompt and the sampler but not which models are playing.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlmodel import Session

from arena import sampling
from arena.db import dialect_insert
from arena.models import Answer, Battle, Prompt, Rater, utcnow

TOKEN_SALT = "arena.battle"
WEB_ORIGIN = "web"
_PAD_PERSON = b"arena.pair"  # BLAKE2b personalization: pads are for nothing else


class TokenInvalid(ValueError):
    """The token is malformed or its signature does not match."""


class TokenExpired(ValueError):
    """The token was genuine but is older than the allowed age."""


@dataclass(frozen=True)
class UnstoredBattle:
    """A battle drawn for a rater and not stored: everything its token carries."""

    key: str  # random, URL-safe; the stored battle's external_key is "web:<key>"
    prompt_id: int
    left_model_id: int
    right_model_id: int
    sampler: str
    rater_id: str | None
    issued_at: datetime
    origin: str = WEB_ORIGIN

    @property
    def external_key(self) -> str:
        return f"{self.origin}:{self.key}"


@dataclass(frozen=True)
class Ticket:
    """What a valid token names: a stored battle (``battle_id``) or an unstored one.

    ``vote_key`` names the battle in the vote's job id and claim
    (:func:`arena.votes.enqueue`); ``expires_at`` is when the token stops being
    accepted.
    """

    battle_id: int | None
    unstored: UnstoredBattle | None
    issued_at: datetime
    expires_at: datetime

    @property
    def vote_key(self) -> str:
        if self.unstored is not None:
            return f"{self.unstored.origin}-{self.unstored.key}"
        return str(self.battle_id)


class BattleTokens:
    """Sign and check battle tokens."""

    def __init__(self, secret_key: str, max_age: int):
        self._serializer = URLSafeTimedSerializer(secret_key, salt=TOKEN_SALT)
        self._pad_key = hashlib.blake2b(
            secret_key.encode("utf-8", "surrogatepass"), digest_size=32, person=_PAD_PERSON
        ).digest()
        self.max_age = max_age

    def _pad(self, key: str) -> bytes:
        return hashlib.blake2b(
            key.encode(), key=self._pad_key, digest_size=16, person=_PAD_PERSON
        ).digest()

    def sign(self, battle_id: int) -> str:
        """A token for a stored battle."""
        return self._serializer.dumps({"b": battle_id})

    def sign_unstored(self, battle: UnstoredBattle) -> str:
        """A token that carries ``battle`` (its ``issued_at`` is the signature's time)."""
        pair = struct.pack(">QQ", battle.left_model_id, battle.right_model_id)
        sealed = bytes(a ^ b for a, b in zip(pair, self._pad(battle.key)))
        data = {
            "k": battle.key,
            "p": battle.prompt_id,
            "m": base64.urlsafe_b64encode(sealed).decode().rstrip("="),
            "s": battle.sampler,
        }
        if battle.rater_id:
            data["r"] = battle.rater_id
        return self._serializer.dumps(data)

    def read(self, token: object) -> Ticket:
        """The battle ``token`` names.

        Raises
        ------
        TokenInvalid
            Not a string, not signed with our secret, or not a battle token.
        TokenExpired
            Genuine but older than ``max_age`` seconds.
        """
        if not isinstance(token, str) or not token:
            raise TokenInvalid("battle_token must be a non-empty string")
        if not token.isascii():  # a token is URL-safe base64 and dots
            raise TokenInvalid("battle token is not valid")
        try:
            data, signed_at = self._serializer.loads(
                token, max_age=self.max_age, return_timestamp=True
            )
        except SignatureExpired:
            raise TokenExpired("battle token has expired") from None
        except BadSignature:
            raise TokenInvalid("battle token is not valid") from None
        issued = signed_at.astimezone(UTC)
        expires = datetime.fromtimestamp(issued.timestamp() + self.max_age, UTC)
        if isinstance(data, dict) and _is_int(data.get("b")):
            return Ticket(data["b"], None, issued, expires)
        try:
            sealed = base64.urlsafe_b64decode(data["m"] + "=" * (-len(data["m"]) % 4))
            pair = bytes(a ^ b for a, b in zip(sealed, self._pad(data["k"]), strict=True))
            left, right = struct.unpack(">QQ", pair)
            battle = UnstoredBattle(
                key=data["k"],
                prompt_id=data["p"],
                left_model_id=left,
                right_model_id=right,
                sampler=data["s"],
                rater_id=data.get("r"),
                issued_at=issued,
            )
        except (KeyError, TypeError, ValueError, struct.error):
            raise TokenInvalid("battle token is not valid") from None
        if not (
            _is_int(battle.prompt_id)
            and isinstance(battle.key, str)
            and isinstance(battle.sampler, str)
            and isinstance(battle.rater_id, str | None)
        ):
            raise TokenInvalid("battle token is not valid")
        return Ticket(None, battle, issued, expires)

    def battle_id(self, token: object) -> int:
        """The id of the stored battle ``token`` names (TokenInvalid for an unstored one)."""
        ticket = self.read(token)
        if ticket.battle_id is None:
            raise TokenInvalid("battle token names no stored battle")
        return ticket.battle_id


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class IssuedBattle:
    battle: Battle
    prompt: Prompt
    left: Answer
    right: Answer


@dataclass(frozen=True)
class DrawnBattle:
    """A battle drawn for a rater, not stored (see :func:`draw`)."""

    battle: UnstoredBattle
    prompt: Prompt
    left: Answer
    right: Answer


def ensure_rater(session: Session, rater_id: str) -> None:
    """Insert the rater if it is new (concurrent inserts are harmless)."""
    stmt = dialect_insert(session.get_bind())(Rater).values(id=rater_id)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["id"]))


def _shown(drawn: sampling.Draw, rng: np.random.Generator) -> tuple[Answer, Answer]:
    """The two answers in the order shown: a fresh coin flip per battle."""
    left, right = drawn.answer_a, drawn.answer_b
    if rng.random() < 0.5:
        left, right = right, left
    return left, right


def draw(
    session: Session,
    rng: np.random.Generator,
    *,
    category: str | None = None,
    rater_id: str | None = None,
    policy: str = "uniform",
    exclude_families: Sequence[str] = (),
) -> DrawnBattle:
    """Draw a battle for a rater and flip the side coin; nothing is written.

    Sign the result with :meth:`BattleTokens.sign_unstored`; the vote stores it.
    """
    drawn = sampling.draw(
        session, rng, category=category, policy=policy, exclude_families=exclude_families
    )
    left, right = _shown(drawn, rng)
    battle = UnstoredBattle(
        key=secrets.token_urlsafe(16),
        prompt_id=drawn.prompt.id,
        left_model_id=left.model_id,
        right_model_id=right.model_id,
        sampler=policy,
        rater_id=rater_id,
        issued_at=utcnow(),
    )
    return DrawnBattle(battle=battle, prompt=drawn.prompt, left=left, right=right)


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

    For battles that must exist before their vote (judge jobs). The caller
    commits the session.
    """
    drawn = sampling.draw(
        session, rng, category=category, policy=policy, exclude_families=exclude_families
    )
    left, right = _shown(drawn, rng)
    if rater_id:
        ensure_rater(session, rater_id)
    battle = Battle(
        prompt_id=drawn.prompt.id,
        left_model_id=left.model_id,
        right_model_id=right.model_id,
        rater_id=rater_id,
        origin=origin,
        sampler=policy,
    )
    session.add(battle)
    session.flush()
    return IssuedBattle(battle=battle, prompt=drawn.prompt, left=left, right=right)
