"""The application factory: it wires extensions, blueprints, error handlers and commands."""

import secrets
from pathlib import Path

from flask import Flask
from flask.sessions import SessionInterface
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import Rule
from whitenoise import WhiteNoise

from dashboard import observability, organisations, public_url
from dashboard.config import Config, config_from_environment
from dashboard.extensions import csrf, db, htmx, limiter, login_manager, migrate, talisman
from dashboard.limits_storage import storage_options
from dashboard.sessions import init_app as init_sessions

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
    public_url.init_app(app)
    observability.init_app(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    login_manager.init_app(app)
    init_sessions(app)
    csrf.init_app(app)
    # The form limiter's Redis waits are bounded like the API's (RATELIMIT_REDIS_TIMEOUT).
    limiter_storage = storage_options(app.config["RATELIMIT_STORAGE_URI"], app.config)
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", limiter_storage)
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
    serve_static(app)
    trust_proxies(app)

    register_blueprints(app)
    organisations.init_app(app)  # the account each page acts on, and the roles' guard
    register_jobs(app)
    register_error_handlers(app)
    register_commands(app)
    register_template_helpers(app)
    return app


def create_api_app(config: Config | None = None) -> Flask:
    """Build the JSON API app (served under /api): only what the API needs.

    No session, login manager, CSRF, page security headers or form limiter: programs send a
    key with every call. The Gateway extension owns the hot path's state and hooks.
    """
    from dashboard.api import extension, leaks, management, management_hooks, routes

    app = Flask(__name__, instance_path=str(ROOT / "instance"), static_folder=None)
    app.config.from_object(config or config_from_environment())
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = api_engine_options(app.config)
    app.session_interface = NoSessions()
    public_url.init_app(app)  # the same hosts refused as on the dashboard
    observability.init_app(app)  # request ids, log lines and request metrics (no routes)
    app.url_map.merge_slashes = False  # /v1/tools/%2F0 is a 404, not a redirect
    db.init_app(app)
    extension.gateway.init_app(app)
    register_jobs(app)  # metered calls queue alerts
    trust_proxies(app)
    app.register_blueprint(routes.bp)
    app.register_blueprint(management.bp)  # /v1/keys…: the management API, for root keys
    app.register_blueprint(management_hooks.bp)  # /v1/errors, /v1/webhooks…: root keys too
    app.register_blueprint(leaks.bp)  # /v1/leaks: secret scanners report leaked keys
    routes.register_error_handlers(app)
    return app


def create_wsgi_app(config: Config | None = None) -> Flask:
    """The dashboard with the API app mounted under /api: what wsgi.py serves.

    The result is the dashboard's Flask app (its CLI, its test client); requests under /api/
    go to the API app without touching the dashboard's hooks.
    """
    config = config or config_from_environment()
    app = create_app(config)
    api = create_api_app(config)
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/api": api})
    app.extensions["api_app"] = api
    link_api_urls(app, api, "/api")
    return app


def serve_static(app: Flask) -> None:
    """static/ served by WhiteNoise before the app's hooks: the gzipped copy `make assets` makes
    of each vendor file to browsers that accept it (Plotly's 1.2 MB bundle travels as 0.4 MB),
    with an ETag, and cached for an hour."""
    app.wsgi_app = WhiteNoise(
        app.wsgi_app,
        root=app.static_folder,
        prefix=app.static_url_path,
        max_age=3600,
        allow_all_origins=False,
        add_headers_function=no_sniffing,
    )


def no_sniffing(headers, path: str, url: str) -> None:
    headers["X-Content-Type-Options"] = "nosniff"


def link_api_urls(app: Flask, api: Flask, prefix: str) -> None:
    """Let the dashboard's url_for build the API's URLs (`api.call_tool`, ...) as build-only
    rules: the dashboard never serves them."""
    for rule in api.url_map.iter_rules():
        app.url_map.add(
            Rule(
                prefix + rule.rule,
                endpoint=rule.endpoint,
                defaults=rule.defaults,
                methods=rule.methods,
                build_only=True,
            )
        )


class NoSessions(SessionInterface):
    """The API app has no sessions: no cookie is read or set."""

    def open_session(self, app, request):
        return None  # Flask then uses a null session

    def save_session(self, app, session, response) -> None:
        return None


def api_engine_options(config) -> dict:
    """On PostgreSQL the API's pool never makes a thread wait: each busy thread holds one
    connection (dashboard.api.connection), so connections follow the server's threads."""
    options = dict(config["SQLALCHEMY_ENGINE_OPTIONS"])
    if config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        options["max_overflow"] = -1
    return options


def trust_proxies(app: Flask) -> None:
    """Read the client address and scheme from TRUSTED_PROXIES proxies' headers."""
    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)


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
    from dashboard import (
        account,
        alerts,
        auth,
        catalog,
        keys,
        logs,
        members,
        portal,
        support,
        usage,
    )
    from dashboard.inbox import routes as inbox  # the package holds the API's services too
    from dashboard.keys import root_pages
    from dashboard.observability import routes as observability_routes
    from dashboard.portal import reference as portal_reference
    from dashboard.support import portal_admin, tool_admin
    from dashboard.webhooks import routes as webhooks

    # The portal first: its landing page answers `/` before the dashboard's front door, to
    # which it hands people logged in (and everyone while the portal is off).
    features = (
        portal,
        auth,
        account,
        keys,
        logs,
        inbox,
        usage,
        catalog,
        alerts,
        webhooks,
        members,
        support,
    )
    for module in features:
        app.register_blueprint(module.bp)
    app.register_blueprint(root_pages.bp)  # /keys/root: the management API's secrets
    app.register_blueprint(tool_admin.bp)  # /support/tools: the super admins' upstream tools
    app.register_blueprint(portal_admin.bp)  # /support/portal: the super admins' portal settings
    app.register_blueprint(observability_routes.bp)  # /metrics, /health/*: the dashboard only
    # /docs/api, /docs/changelog: the portal's API reference and tools changelog (public)
    app.register_blueprint(portal_reference.bp)


def register_jobs(app: Flask) -> None:
    """One Huey for the app with every job; `flask worker` runs them."""
    from dashboard.alerts import tasks as alert_tasks  # noqa: F401 (declares the jobs)
    from dashboard.auth import tasks as auth_tasks  # noqa: F401
    from dashboard.jobs import jobs, worker_command
    from dashboard.keys import tasks as key_tasks  # noqa: F401
    from dashboard.logs import tasks as log_tasks  # noqa: F401
    from dashboard.portal import tasks as portal_tasks  # noqa: F401 (deprecation notices)
    from dashboard.webhooks import tasks as webhook_tasks  # noqa: F401

    jobs.init_app(app)
    app.cli.add_command(worker_command)


def register_error_handlers(app: Flask) -> None:
    from dashboard import errors

    errors.register(app)


def register_commands(app: Flask) -> None:
    from dashboard import cli

    cli.register(app)


def register_template_helpers(app: Flask) -> None:
    from dashboard import templating

    templating.register(app)
