"""Bearer tokens for the API: created once, stored as a hash, checked in constant time.

A token reads ``arena_<prefix>_<secret>``: the prefix (8 random characters) finds
its row, the secret (43 characters, 256 bits) is never stored; the row keeps the
SHA-256 of the whole token, compared with :func:`hmac.compare_digest`. A fast hash
is enough for a 256-bit random secret (no password to guess). Roles: ``judge``
may read; ``maintainer`` may read and call the maintainer endpoints.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine

from arena.db import session_scope
from arena.models import ApiToken

ROLES = ("maintainer", "judge")
PREFIX_LENGTH = 8


class TokenError(ValueError):
    """A token that cannot be created or revoked as asked."""


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    role: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(row.id, row.name, row.role, row.prefix, row.created_at, row.revoked_at)


def create(engine: Engine, name: str, role: str) -> tuple[str, TokenInfo]:
    """A new token: answers the token itself (shown once) and its stored row."""
    if role not in ROLES:
        raise TokenError(f"role must be one of {', '.join(ROLES)}")
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise TokenError("name must be 1 to 100 characters")
    prefix = secrets.token_hex(PREFIX_LENGTH // 2)
    token = f"arena_{prefix}_{secrets.token_urlsafe(32)}"
    with session_scope(engine) as s:
        if s.execute(select(ApiToken.id).where(ApiToken.name == name)).first():
            raise TokenError(f"a token named {name!r} exists (revoke it, or choose another name)")
        row = ApiToken(name=name, role=role, prefix=prefix, token_hash=_hash(token))
        s.add(row)
        s.flush()
        return token, _info(row)


def verify(engine: Engine, token: str | None) -> TokenInfo | None:
    """The token's row when ``token`` is a live token, else None."""
    if not token or not token.startswith("arena_") or token.count("_") < 2:
        return None
    prefix = token.split("_", 2)[1]
    digest = _hash(token)
    with session_scope(engine) as s:
        rows = s.execute(select(ApiToken).where(ApiToken.prefix == prefix)).scalars().all()
        found = None
        for row in rows:  # compare with every candidate: time does not depend on which matched
            if hmac.compare_digest(row.token_hash, digest) and row.revoked_at is None:
                found = _info(row)
        return found


def list_tokens(engine: Engine) -> list[TokenInfo]:
    with session_scope(engine) as s:
        return [_info(r) for r in s.execute(select(ApiToken).order_by(ApiToken.id)).scalars()]


def revoke(engine: Engine, name: str) -> TokenInfo:
    """Revoke the live token named ``name`` (its row is kept, marked revoked)."""
    with session_scope(engine) as s:
        row = s.execute(select(ApiToken).where(ApiToken.name == name)).scalar_one_or_none()
        if row is None:
            raise TokenError(f"no token named {name!r}")
        if row.revoked_at is None:
            row.revoked_at = datetime.now(UTC)
        s.flush()
        return _info(row)
