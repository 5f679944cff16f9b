"""Flask extensions: CSRF protection and rate limits (stored in Redis).

Each app has a flask-limiter ``Limiter`` of its own (:func:`limiter_of`): a ``Limiter`` keeps
its on/off switch and its storage in itself, so one shared by every app of a process took
them from the app made last (tests make many apps in one process; a server makes one).
"""

from __future__ import annotations

import functools
import logging
import threading

from flask import Flask, current_app, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

from arena import queue
from arena.web import common
from arena.web.errors import REDIS_DOWN

log = logging.getLogger(__name__)

csrf = CSRFProtect()
_DECORATING = threading.Lock()  # one limited wrapper per app and view (see limit)


def _limits_uri(redis_url: str) -> str:
    return (
        redis_url.replace("unix://", "redis+unix://", 1)
        if redis_url.startswith("unix://")
        else redis_url
    )


def init_app(app: Flask, rt) -> None:
    csrf.init_app(app)
    limits = rt.settings["limits"]
    app.config["RATELIMIT_ENABLED"] = bool(limits["enabled"])
    app.config["RATELIMIT_HEADERS_ENABLED"] = True
    if limits["enabled"]:
        app.config["RATELIMIT_STORAGE_URI"] = _limits_uri(queue.resolve_redis_url(rt.settings))
    limiter = Limiter(key_func=get_remote_address, default_limits=[])
    limiter.init_app(app)
    app.extensions["arena.limiter"] = limiter
    app.extensions["arena.limited"] = {}  # view -> the view behind this app's limiter


def limiter_of(app: Flask) -> Limiter:
    """The app's own flask-limiter ``Limiter`` (module docstring)."""
    return app.extensions["arena.limiter"]


#: Limits whose views stay up, unmetered, while Redis (where the counts live) is down:
#: reading the leaderboard costs little and needs no Redis of its own. Every other limit
#: fails closed (503): drawing battles and generating answers cost money when unmetered.
FAIL_OPEN = frozenset({"reads"})


def limit(name: str):
    """A rate limit from ``[limits] <name>``, shared by every endpoint that names it.

    The battle page and ``POST /api/v1/battles`` both draw battles, so they
    count against one ``battles`` budget per client. With ``[limits] enabled =
    false`` the view runs without flask-limiter's per-request checks. When
    Redis is down, a limit in :data:`FAIL_OPEN` lets its view answer unmetered
    (logged); any other answers 503 through the error handlers.
    """

    def value() -> str:
        return common.rt().settings["limits"][name]

    def decorate(view):
        @functools.wraps(view)
        def counted_view(*args, **kwargs):
            g.arena_limit_passed = True
            return view(*args, **kwargs)

        def limited_here():
            """``counted_view`` behind the current app's limiter, wrapped on first use."""
            wrapped = current_app.extensions["arena.limited"]
            if counted_view not in wrapped:
                with _DECORATING:
                    if counted_view not in wrapped:
                        limiter = limiter_of(current_app)
                        decorate = limiter.shared_limit(value, scope=name)
                        wrapped[counted_view] = decorate(counted_view)
            return wrapped[counted_view]

        @functools.wraps(view)
        def view_within_limit(*args, **kwargs):
            if not current_app.config.get("RATELIMIT_ENABLED"):
                return view(*args, **kwargs)
            limited = limited_here()
            if name not in FAIL_OPEN:
                return limited(*args, **kwargs)
            g.arena_limit_passed = False
            try:
                return limited(*args, **kwargs)
            except REDIS_DOWN:
                if g.arena_limit_passed:  # the view itself failed: not the limit's business
                    raise
                log.warning("rate limit %r not counted: Redis is down", name)
                return view(*args, **kwargs)

        return view_within_limit

    return decorate
