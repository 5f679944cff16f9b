"""Flask extensions: CSRF protection and rate limits (stored in Redis)."""

from __future__ import annotations

import functools
import logging

from flask import Flask, current_app, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

from arena import queue
from arena.web import common
from arena.web.errors import REDIS_DOWN

log = logging.getLogger(__name__)

csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


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
    limiter.init_app(app)


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

        limited = limiter.shared_limit(value, scope=name)(counted_view)

        @functools.wraps(view)
        def view_within_limit(*args, **kwargs):
            if not current_app.config.get("RATELIMIT_ENABLED"):
                return view(*args, **kwargs)
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
