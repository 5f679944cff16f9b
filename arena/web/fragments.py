"""Rendered page bodies kept per process, keyed by what they are made of.

A stored snapshot never changes, so the body of a page built from it (the
leaderboard's table and chart data, a model's page) is the same text until the
next snapshot, a model's state or the request's query changes; those make the
key (:func:`version` and the query). The page around it (the layout, its
per-session CSRF token) is rendered on every request. Bounded: the least
recently used bodies are dropped.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

SIZE = 256

_bodies: OrderedDict[Hashable, object] = OrderedDict()
_lock = threading.Lock()


def version() -> tuple:
    """What every cached page body depends on besides its query: the newest snapshot (id
    and creation time: an id can be reused, see :attr:`arena.web.snapshots.Stored.key`) and
    the models not ``active`` with their state (one small query each)."""
    from sqlalchemy import select
    from sqlmodel import Session

    from arena.models import Model, RatingSnapshot
    from arena.web.common import rt

    engine = rt().engine
    with Session(engine) as s:
        newest = s.execute(
            select(RatingSnapshot.id, RatingSnapshot.created_at)
            .order_by(RatingSnapshot.id.desc())
            .limit(1)
        ).first()
        states = s.execute(
            select(Model.name, Model.state).where(Model.state != "active").order_by(Model.name)
        ).all()
    return (
        engine.url.render_as_string(hide_password=True),
        tuple(newest or ()),
        tuple(map(tuple, states)),
    )


def cached(key: Hashable, render: Callable[[], object]) -> object:
    """What ``render()`` answers for ``key``: computed the first time, then kept."""
    with _lock:
        if key in _bodies:
            _bodies.move_to_end(key)
            return _bodies[key]
    body = render()
    with _lock:
        _bodies[key] = body
        while len(_bodies) > SIZE:
            _bodies.popitem(last=False)
    return body
