"""Flask extensions: CSRF protection and rate limits (stored in Redis)."""

from __future__ import annotations

import functools

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

from arena import queue
from arena.web import common

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


def limit(name: str):
    """A rate limit from ``[limits] <name>``, shared by every endpoint that names it.

    The battle page and ``POST /api/v1/battles`` both draw battles, so they
    count against one ``battles`` budget per client. With ``[limits] enabled =
    false`` the view runs without flask-limiter's per-request checks.
    """

    def value() -> str:
        return common.rt().settings["limits"][name]

    def decorate(view):
        limited = limiter.shared_limit(value, scope=name)(view)

        @functools.wraps(view)
        def view_within_limit(*args, **kwargs):
            if current_app.config.get("RATELIMIT_ENABLED"):
                return limited(*args, **kwargs)
            return view(*args, **kwargs)

        return view_within_limit

    return decorate
