"""Security headers on every response, the proxy we trust, and the session cookie.

* ``Content-Security-Policy``: everything from our own origin only
  (``default-src 'self'``), no inline script or style, no ``eval``, no framing
  (``frame-ancestors 'none'``), forms post only to us. Plotly is served from
  our origin (``/vendor/plotly.min.js``); its global stylesheet is our file
  ``static/plotly.css``, linked with the id and class that tell plotly not to
  inject a ``<style>`` element (which the policy would refuse).
* ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` (for browsers
  without ``frame-ancestors``), ``Referrer-Policy: same-origin``,
  ``Cross-Origin-Opener-Policy: same-origin``.
* ``Retry-After`` only on 429 and 503 (flask-limiter adds it to every limited
  response; a client must not read it as "come back later" on a 200).
* Behind ``[web] trusted_proxies`` reverse proxies, ``X-Forwarded-For/-Proto/-Host``
  are believed (werkzeug's ProxyFix), so the rate limits see the client's address
  and the session cookie is ``Secure`` when the proxy says the request was HTTPS
  (:class:`arena.web.sessions.RaterSessionInterface`).
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, Response
from werkzeug.middleware.proxy_fix import ProxyFix

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}

RETRY_AFTER_STATUSES = (429, 503)


def add_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if response.status_code not in RETRY_AFTER_STATUSES:
        response.headers.pop("Retry-After", None)
    return response


def init_app(app: Flask, settings) -> None:
    """Trust ``[web] trusted_proxies`` proxies, shorten the session, add the headers."""
    hops = settings["web"]["trusted_proxies"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(days=settings["web"]["session_days"])
    # after_request functions run last-registered first: put ours at the front so it runs
    # after flask-limiter's (which adds Retry-After) and flask-compress's.
    app.after_request_funcs.setdefault(None, []).insert(0, add_headers)
