"""The session cookie that carries the anonymous rater id.

Flask's signed-cookie session, made permanent by :func:`arena.web.common.rater_id`,
is signed again and sent back on every response so that it does not expire while
the rater keeps coming back. Drawing a battle (the page, ``POST /api/v1/battles``)
does that; the vote that follows a drawn battle sends no second copy. That spares
the busiest endpoint the signing and its clients the cookie handling, and changes
no rater's expiry by more than the time between drawing a battle and voting on it.
"""

from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface

# Endpoints whose responses set the cookie only when the session changed.
NO_REFRESH_ENDPOINTS = frozenset({"api.create_vote"})


class RaterSessionInterface(SecureCookieSessionInterface):
    """Flask's cookie sessions, without the refresh on :data:`NO_REFRESH_ENDPOINTS`;
    the cookie is ``Secure`` whenever the request came over HTTPS (directly, or
    through a trusted proxy that says so: ``[web] trusted_proxies``)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure or super().get_cookie_secure(app)

    def should_set_cookie(self, app: Flask, session) -> bool:
        if request.endpoint in NO_REFRESH_ENDPOINTS:
            return session.modified
        return super().should_set_cookie(app, session)
