"""The web UI's app factory.

`create_app(config)` takes the loaded `inbox.config.Config` (or, for tests,
a dict in the config file's shape) and wires the blueprints, sign-in, CSRF,
security headers and the database sessions. Views are thin: they parse the
request, call one function of `inbox`, and render or redirect.
"""
from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, g, render_template, request
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from inbox import db
from inbox.config import Config, ConfigError, parse

log = logging.getLogger(__name__)

# No inline script or style anywhere (JS and CSS are static files), so the
# policy can forbid both: an injected <script> or on*= handler does nothing.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@dataclass
class Web:
    """What views need from outside Flask: the config and the sessions."""

    config: Config
    engine: Engine
    factory: sessionmaker[Session]  # writes: `with web().factory.begin() as s:`
    reader: sessionmaker[Session]  # reads: `g.db` per request


def web() -> Web:
    from flask import current_app

    return current_app.extensions["replydesk"]


def read_session() -> Session:
    """This request's read-only session, closed when the request ends."""
    if "db" not in g:
        g.db = web().reader()
    return g.db


def _as_config(config: Config | Mapping[str, Any] | None) -> Config:
    if isinstance(config, Config):
        return config
    return parse(dict(config or {}), "<create_app>", {}, env=os.environ)


def create_app(config: Config | Mapping[str, Any] | None = None, *, overrides: Mapping[str, Any] | None = None) -> Flask:
    cfg = _as_config(config)
    app = Flask(__name__)
    secret = cfg.web["secret_key"]
    if not secret:
        log.warning("[web] secret_key is not set: using a random key, so sessions end when the process restarts "
                    "(and several web processes do not share sessions). Set it in %s.", cfg.path)
        secret = os.urandom(32).hex()
    app.config.update(
        SECRET_KEY=secret,
        SESSION_COOKIE_SECURE=cfg.web["secure_cookies"],
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=cfg.web["secure_cookies"],
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # a token lives as long as the session; agents keep tabs open all day
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        PERMANENT_SESSION_LIFETIME=12 * 3600,
    )
    app.config.update(overrides or {})

    engine = db.make_engine(cfg.database["url"], echo=cfg.database["echo"])
    current, head = db.schema_state(engine)
    if current != head:
        engine.dispose()
        raise ConfigError(f"the database {db.safe_url(cfg.database['url'])} is at schema "
                          f"{current or 'none'}, this version needs {head}: run `replydesk init`")
    app.extensions["replydesk"] = Web(cfg, engine, db.session_factory(engine), _reader(engine))

    CSRFProtect(app)
    _login(app)
    _blueprints(app)
    _templates(app)
    _hooks(app)
    return app


def _reader(engine: Engine) -> sessionmaker[Session]:
    """Read sessions of the pages. On PostgreSQL without a transaction: in
    READ COMMITTED every statement sees its own snapshot anyway, so BEGIN and
    ROLLBACK were two round trips a request for nothing."""
    if engine.dialect.name == "postgresql":
        return sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)
    return db.reader_factory(engine)


def _login(app: Flask) -> None:
    lm = LoginManager(app)
    lm.login_view = "auth.login"
    lm.login_message = "Please sign in."
    lm.session_protection = "strong"

    @lm.user_loader
    def load_user(user_id: str):
        from webui.auth import signed_in

        return signed_in(user_id)


def _blueprints(app: Flask) -> None:
    from webui import admin, auth, composer, conversation, inbox_views, live

    for module in (auth, inbox_views, conversation, composer, live, admin):
        app.register_blueprint(module.bp)
    # The manager reports page is built separately; it plugs in when present.
    if importlib.util.find_spec("webui.reports") is not None:
        from webui import reports

        app.register_blueprint(reports.bp)


def _templates(app: Flask) -> None:
    from webui import render

    render.install(app)

    def live_since() -> int:
        from webui.live import latest_change_id

        return latest_change_id()
    app.jinja_env.globals["live_since"] = live_since

    def unhealthy_accounts() -> list:
        """The accounts in the banner of every full page (a function, so the
        fragments the pages reload do not query them)."""
        from inbox.accounts import unhealthy

        return unhealthy(read_session()) if current_user.is_authenticated else []
    app.jinja_env.globals["unhealthy_accounts"] = unhealthy_accounts

    @app.context_processor
    def chrome():
        return {"has_reports": "reports" in app.blueprints}


def _hooks(app: Flask) -> None:
    @app.teardown_appcontext
    def close_session(_exc):
        s = g.pop("db", None)
        if s is not None:
            s.close()

    @app.after_request
    def headers(resp):
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "same-origin"
        resp.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        resp.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if request.endpoint != "static":
            resp.headers["Cache-Control"] = "no-store"
        if app.config["SESSION_COOKIE_SECURE"]:
            resp.headers["Strict-Transport-Security"] = "max-age=31536000"
        return resp

    @app.errorhandler(CSRFError)
    def csrf_error(e):
        return render_template("errors.html", title="Form expired",
                               message="This form was open too long or came from elsewhere. Reload the page "
                                       "and try again."), 400

    @app.errorhandler(403)
    def forbidden(_e):
        return render_template("errors.html", title="Not allowed",
                               message="Your role does not allow this page. Ask an admin if you need it."), 403

    @app.errorhandler(404)
    def not_found(_e):
        return render_template("errors.html", title="Not found", message="There is nothing at this address."), 404
