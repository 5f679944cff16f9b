"""Reading stored rating snapshots for the pages and the read API.

Every page and ``/api/v1`` read names its snapshot the same way: ``method``
(default ``[rating] method``), ``category``, ``source`` and ``rater_group``,
turned into one :class:`arena.scope.Scope` (so an unnamed source means human
votes, ``source=all`` every source, ``source=judge:NAME`` one judge), or a
snapshot ``id``. Parsed payloads are kept in a small in-process cache keyed by
snapshot id: a stored snapshot never changes.

:func:`citation` is the metadata every response carries so a reader can cite
exactly what they pulled; :func:`etag` and :func:`not_modified` give
``ETag`` / ``If-None-Match`` to snapshot-backed responses (weak validators:
flask-compress leaves them as they are across encodings).
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from flask import Response, request
from sqlalchemy import func, select
from sqlmodel import Session

from arena.config import RATING_METHODS
from arena.models import Model, RatingSnapshot
from arena.scope import Scope, ScopeError
from arena.web.common import rt
from arena.web.errors import ApiError


@dataclass(frozen=True)
class Stored:
    """One stored snapshot's row, without its payload."""

    id: int
    created_at: datetime
    method: str
    category: str
    source: str
    rater_group: str
    digest: str
    votes: int

    @property
    def scope(self) -> Scope:
        return Scope.from_stored(
            {"category": self.category, "source": self.source, "rater_group": self.rater_group}
        )

    @property
    def key(self) -> tuple:
        """What names this snapshot in the per-process caches: its id *and* creation time.

        An id alone is not enough: SQLite reuses the highest id once its row is deleted, and
        a database that was reset starts its ids again, so a kept payload would be served
        for another snapshot.
        """
        return (rt().engine.url.render_as_string(hide_password=True), self.id, self.created_at)

    def payload(self) -> dict:
        """The snapshot document (``meta``, ``models``, ``bootstrap``), parsed once per process."""
        return _payload(self.key)

    def replicates(self):
        """(models, array of shape (rounds, models)) of the bootstrap, or None; kept per process."""
        return _replicates(self.key)


COLUMNS = (
    RatingSnapshot.id,
    RatingSnapshot.created_at,
    RatingSnapshot.method,
    RatingSnapshot.category,
    RatingSnapshot.source,
    RatingSnapshot.rater_group,
    RatingSnapshot.digest,
    RatingSnapshot.votes,
)


@functools.lru_cache(maxsize=32)
def _payload(key: tuple) -> dict:
    snapshot_id = key[1]
    with Session(rt().engine) as s:
        text = s.execute(
            select(RatingSnapshot.payload).where(RatingSnapshot.id == snapshot_id)
        ).scalar_one()
    return json.loads(text)


@functools.lru_cache(maxsize=32)
def _replicates(key: tuple):
    import numpy as np

    reps = _payload(key).get("bootstrap")
    if not reps or not reps.get("ratings"):
        return None
    return list(reps["models"]), np.array(reps["ratings"], dtype=float)


def request_method() -> str:
    method = request.args.get("method") or rt().settings["rating"]["method"]
    if method not in RATING_METHODS:
        raise ApiError(400, f"method must be one of {', '.join(RATING_METHODS)}", "bad_method")
    return method


def request_scope() -> Scope:
    args = request.args
    try:
        return Scope.of(args.get("category"), args.get("source"), args.get("rater_group"))
    except ScopeError as exc:
        raise ApiError(400, str(exc), "bad_scope") from None


def link_args(method: str, scope: Scope) -> dict:
    """The query that names ``method`` and ``scope`` (defaults left out), for links."""
    from arena.scope import HUMAN

    out = {"method": method if request.args.get("method") else None}
    out["category"] = scope.category or None
    out["source"] = None if scope.source == HUMAN else scope.source
    out["rater_group"] = scope.rater_group or None
    return {k: v for k, v in out.items() if v is not None}


def _where(method: str, scope: Scope):
    stored = scope.stored()
    return (
        RatingSnapshot.method == method,
        RatingSnapshot.category == stored["category"],
        RatingSnapshot.source == stored["source"],
        RatingSnapshot.rater_group == stored["rater_group"],
    )


def history(method: str, scope: Scope) -> list[Stored]:
    """The kept snapshots of one method and scope, oldest first."""
    with Session(rt().engine) as s:
        rows = s.execute(
            select(*COLUMNS)
            .where(*_where(method, scope))
            .order_by(RatingSnapshot.created_at, RatingSnapshot.id)
        ).all()
    return [Stored(*row) for row in rows]


def latest(method: str, scope: Scope) -> Stored | None:
    with Session(rt().engine) as s:
        row = s.execute(
            select(*COLUMNS)
            .where(*_where(method, scope))
            .order_by(RatingSnapshot.created_at.desc(), RatingSnapshot.id.desc())
            .limit(1)
        ).first()
    return None if row is None else Stored(*row)


def by_id(snapshot_id: int) -> Stored | None:
    with Session(rt().engine) as s:
        row = s.execute(select(*COLUMNS).where(RatingSnapshot.id == snapshot_id)).first()
    return None if row is None else Stored(*row)


def latest_or_404(method: str, scope: Scope) -> Stored:
    stored = latest(method, scope)
    if stored is None:
        raise ApiError(
            404,
            f"no {method} rating snapshot for {scope.label()} yet (see /api/v1/snapshots, "
            "or run `arena rate --store`)",
            "no_snapshot",
        )
    return stored


def every_scope() -> list[dict]:
    """Every (method, category, source, rater_group) with a snapshot: how many, the newest time."""
    with Session(rt().engine) as s:
        keys = (
            RatingSnapshot.method,
            RatingSnapshot.category,
            RatingSnapshot.source,
            RatingSnapshot.rater_group,
        )
        rows = s.execute(
            select(*keys, func.max(RatingSnapshot.created_at), func.count())
            .group_by(*keys)
            .order_by(*keys)
        ).all()
    return [
        {
            "method": m,
            "category": c,
            "source": Scope.from_stored({"source": src}).source,
            "rater_group": g,
            "updated_at": t.isoformat(timespec="seconds") if t else None,
            "snapshots": n,
        }
        for m, c, src, g, t, n in rows
    ]


def summary(stored: Stored) -> dict:
    """A snapshot as listed (no payload read): id, time, method, scope, digest, votes, URL."""
    return {
        "id": stored.id,
        "created_at": stored.created_at.isoformat(timespec="seconds"),
        "method": stored.method,
        "scope": {
            "category": stored.category,
            "source": stored.scope.source,
            "rater_group": stored.rater_group,
        },
        "digest": stored.digest,
        "votes": stored.votes,
        "url": f"/api/v1/snapshots/{stored.id}",
    }


def citation(stored: Stored) -> dict:
    """What a reader cites: the snapshot's id, time, method, scope, digest, votes and models."""
    meta = stored.payload().get("meta", {})
    out = summary(stored)
    url = out.pop("url")
    out["models"] = len(stored.payload().get("models", []))
    out["confidence"] = meta.get("confidence")
    out["ci"] = meta.get("ci")
    out["url"] = url
    return out


def cached_json(stored: Stored, build, *variant) -> Response:
    """``build()`` as a JSON response, serialized once per snapshot, endpoint and
    ``variant`` (a stored snapshot never changes) and kept in the process
    (:mod:`arena.web.fragments`). The key holds no free text from the query, so
    varied queries cannot fill the cache."""
    from arena.web import fragments

    key = ("json", stored.key, request.endpoint, *variant)
    text = fragments.cached(
        key, lambda: json.dumps(build(), ensure_ascii=False, separators=(",", ":"))
    )
    return Response(text, mimetype="application/json")


def etag(*parts) -> str:
    """A validator for a response built from ``parts`` (snapshot ids and digests) and the URL."""
    text = "|".join(map(str, parts)) + "|" + request.full_path
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def not_modified(tag: str) -> Response | None:
    """A 304 when the client already holds ``tag``, else None."""
    if request.if_none_match.contains_weak(tag):
        response = Response(status=304)
        response.set_etag(tag, weak=True)
        return response
    return None


def models_info() -> dict[str, dict]:
    """Name -> organization, license and state for every model in the store."""
    with Session(rt().engine) as s:
        rows = s.execute(select(Model.name, Model.organization, Model.license, Model.state)).all()
    return {n: {"organization": o, "license": lic, "state": st} for n, o, lic, st in rows}
