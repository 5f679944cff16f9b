"""The Flask application factory."""

from __future__ import annotations

from flask import Flask

from arena import runtime, sampling
from arena.config import ConfigError, Settings, load


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web app for ``settings`` (default: resolved from the environment).

    Configures the process runtime (database engine, Redis), CSRF protection
    for the HTML forms, per-client rate limits stored in Redis, and the
    blueprints: the battle page, the JSON API under ``/api/v1`` and ``/healthz``.
    """
    settings = settings or load()
    try:
        sampling.get_policy(settings["battle"]["sampler"])
    except sampling.UnknownPolicy as exc:
        raise ConfigError(str(exc)) from None
    rt = runtime.configure(settings)
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=64 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.json.sort_keys = False
    app.extensions["arena.runtime"] = rt

    from arena.web import (
        api,
        api_read,
        assets,
        battle,
        composite_page,
        errors,
        extensions,
        health,
        inputs,
        judges_page,
        leaderboard,
        live,
        maintainer,
        maintainer_import,
        models_page,
        openapi,
        render,
        security,
    )
    from arena.web.sessions import RaterSessionInterface

    app.session_interface = RaterSessionInterface()

    app.before_request(maintainer_import.body_limit)  # before anything reads the body
    app.before_request(inputs.check_request)
    extensions.init_app(app, rt)
    errors.init_app(app)
    security.init_app(app, settings)
    assets.init_app(app)
    app.register_blueprint(battle.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(leaderboard.bp)
    app.register_blueprint(leaderboard.api)
    app.register_blueprint(api_read.bp)
    app.register_blueprint(models_page.bp)
    app.register_blueprint(judges_page.bp)
    app.register_blueprint(composite_page.bp)
    app.register_blueprint(maintainer.bp)
    app.register_blueprint(maintainer_import.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(live.bp)
    app.register_blueprint(render.bp)
    app.before_request(maintainer.guard_reads)
    extensions.csrf.exempt(api.bp)
    extensions.csrf.exempt(leaderboard.api)
    extensions.csrf.exempt(api_read.bp)
    extensions.csrf.exempt(maintainer.bp)
    extensions.csrf.exempt(maintainer_import.bp)
    extensions.csrf.exempt(live.bp)  # JSON bodies only, like the API (see api.create_vote)
    # Health probes come every few seconds from each load balancer: no rate limit to check.
    extensions.limiter_of(app).exempt(health.bp)
    health.init_app(app, rt)  # the plain probe is answered before Flask (arena.web.health)
    return app
