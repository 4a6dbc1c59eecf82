"""The application factory: it wires extensions, blueprints, error handlers and commands."""

import secrets
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from dashboard import observability
from dashboard.config import Config, config_from_environment
from dashboard.extensions import csrf, db, htmx, limiter, login_manager, migrate, talisman

ROOT = Path(__file__).resolve().parent.parent

# No inline script anywhere; Plotly and htmx set inline styles, so styles allow them.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:", "blob:"],
    "font-src": ["'self'", "data:"],
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def create_app(config: Config | None = None) -> Flask:
    """Build the app for `config` (by default, from the environment)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.from_object(config or config_from_environment())
    ensure_secret_key(app)
    observability.init_app(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    htmx.init_app(app)
    talisman.init_app(
        app,
        force_https=app.config["FORCE_HTTPS"],
        strict_transport_security=app.config["FORCE_HTTPS"],
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        content_security_policy=CONTENT_SECURITY_POLICY,
        frame_options="DENY",
        referrer_policy="strict-origin-when-cross-origin",
    )
    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    register_blueprints(app)
    register_error_handlers(app)
    register_commands(app)
    register_template_helpers(app)
    return app


def ensure_secret_key(app: Flask) -> None:
    """Refuse production without SECRET_KEY; elsewhere generate one and keep it in instance/."""
    if app.config.get("SECRET_KEY"):
        return
    if app.config.get("PRODUCTION"):
        raise RuntimeError("SECRET_KEY must be set in production (APP_ENV=production).")
    key_file = Path(app.instance_path) / "secret_key"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    app.config["SECRET_KEY"] = key_file.read_text().strip()


def register_blueprints(app: Flask) -> None:
    from dashboard import account, api, assets, auth, keys, logs, support, tools, usage
    from dashboard.observability import routes as observability_routes

    for module in (assets, auth, account, keys, logs, usage, tools, support, api):
        app.register_blueprint(module.bp)
    app.register_blueprint(observability_routes.bp)


def register_error_handlers(app: Flask) -> None:
    from dashboard import errors

    errors.register(app)


def register_commands(app: Flask) -> None:
    from dashboard import cli

    cli.register(app)


def register_template_helpers(app: Flask) -> None:
    from dashboard import templating

    templating.register(app)
