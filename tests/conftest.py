"""Shared fixtures: an app on SQLite or PostgreSQL, a client, and account helpers.

Every test that takes `app` (or `client`) runs twice, once per database. Each database is made
fresh for the test session by running the migrations, and emptied after every test.
PostgreSQL tests are skipped when no server answers, except in CI (CI=true), where that fails.
"""

import itertools
import os
import re
import threading
import uuid

import pytest
import redis
import sqlalchemy as sa
from flask import g
from hypothesis import settings
from werkzeug.serving import make_server

from dashboard import create_app, create_wsgi_app
from dashboard.auth.service import create_user
from dashboard.config import TestConfig
from dashboard.extensions import db

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_SERVER = os.environ.get(
    "TEST_POSTGRES_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432"
)
REDIS_SERVER = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
# Rate-limit keys this test run writes to Redis start with this, and only they are deleted at the
# end: runs sharing a Redis server (or a developer's own data in it) never see each other's keys.
REDIS_KEY_PREFIX = f"toolbox-test-{uuid.uuid4().hex[:12]}"
PASSWORD = "correct horse battery"
TABLES = (
    "portal_settings",
    "account_settings",
    "account_security",
    "web_sessions",
    "impersonations",
    "user_sessions",
    "security_events",
    "recovery_codes",
    "webhook_deliveries",
    "webhook_endpoints",
    "alert_events",
    "deprecation_notices",
    "api_key_seen_ips",
    "alert_key_watches",
    "alert_settings",
    "audit_events",
    "invitations",
    "memberships",
    "organisations",
    "error_group_days",
    "rejected_calls",
    "usage_daily",
    "tool_logs",
    "usage_summaries",
    "super_admins",
    "api_keys",
    "tools",
    "users",
)


def postgres_reachable() -> bool:
    engine = sa.create_engine(f"{POSTGRES_SERVER}/postgres", connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


# Local runs and CI see the same examples: Hypothesis's `ci` profile (derandomized, no example
# database), whether or not CI is set.
settings.register_profile("toolbox", settings.get_profile("ci"))
settings.load_profile("toolbox")


def require(ok: bool, message: str) -> None:
    """Skip when a service or program is missing, or fail in CI (CI=true), where it must be."""
    if ok:
        return
    if IN_CI:
        pytest.fail(message + " (CI=true: this is a failure, not a skip)")
    pytest.skip(message)


def require_postgres() -> None:
    require(postgres_reachable(), f"PostgreSQL is not reachable at {POSTGRES_SERVER}")


def delete_redis_keys(prefix: str, url: str = REDIS_SERVER) -> int:
    """Delete the keys starting with `prefix` (SCAN, never FLUSHDB); how many there were."""
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        return len(keys)
    except redis.RedisError:
        return 0  # no Redis: nothing was written
    finally:
        client.close()


@pytest.fixture(scope="session", autouse=True)
def own_redis_keys():
    """Delete this run's rate-limit keys from Redis once the run is over."""
    yield REDIS_KEY_PREFIX
    delete_redis_keys(REDIS_KEY_PREFIX)


def require_redis(url: str = REDIS_SERVER) -> None:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        reachable = True
    except redis.RedisError:
        reachable = False
    require(reachable, f"Redis is not reachable at {url}")


class DatabaseFactory:
    """Makes empty databases for tests and drops them at the end of the session."""

    def __init__(self, tmp_path_factory):
        self.tmp_path_factory = tmp_path_factory
        self.postgres_databases: list[str] = []

    def create(self, backend: str) -> str:
        """The URL of a new, empty database."""
        if backend == "sqlite":
            path = self.tmp_path_factory.mktemp("db") / "test.sqlite"
            return f"sqlite:///{path}"
        require_postgres()
        name = f"dashboard_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        self.postgres_databases.append(name)
        return f"{POSTGRES_SERVER}/{name}"

    def drop_all(self) -> None:
        if not self.postgres_databases:
            return
        admin = sa.create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for name in self.postgres_databases:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory):
    factory = DatabaseFactory(tmp_path_factory)
    yield factory
    factory.drop_all()


def upgrade_to_head(url: str) -> None:
    """Run every migration against `url`."""
    from flask_migrate import upgrade

    app = create_app(TestConfig(url))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def migrated_urls(databases):
    """One migrated database per backend for the session, made on first use."""
    urls: dict[str, str] = {}

    def get(backend: str) -> str:
        if backend not in urls:
            url = databases.create(backend)
            upgrade_to_head(url)
            urls[backend] = url
        return urls[backend]

    return get


def empty_tables() -> None:
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))
    else:
        for table in TABLES:
            db.session.execute(sa.text(f"DELETE FROM {table}"))
    db.session.commit()


def make_app(url: str, **overrides):
    config = TestConfig(url)
    config.RATELIMIT_KEY_PREFIX = REDIS_KEY_PREFIX
    for name, value in overrides.items():
        setattr(config, name, value)
    app = create_wsgi_app(config)
    # Tests keep one app context open, which Flask reuses for every request of the test client;
    # in production each request has its own. Start each request with an empty `g`, so nothing
    # cached per request (the logged-in user, the CSRF token) leaks into the next one.
    app.before_request_funcs.setdefault(None, []).insert(0, fresh_request_globals)
    return app


def fresh_request_globals() -> None:
    for name in list(g):
        g.pop(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    """The database the test runs on; override with indirect parametrisation."""
    return request.param


@pytest.fixture
def app_overrides() -> dict:
    """Config values a test module wants changed (override this fixture)."""
    return {}


@pytest.fixture
def app(backend, migrated_urls, app_overrides):
    app = make_app(migrated_urls(backend), **app_overrides)
    ctx = app.app_context()
    ctx.push()
    yield app
    db.session.rollback()
    empty_tables()
    db.session.remove()
    db.engine.dispose()
    ctx.pop()


@pytest.fixture
def api_app(app):
    """The JSON API's own app, mounted under /api of `app` (push its context to look inside)."""
    return app.extensions["api_app"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


_emails = itertools.count(1)


@pytest.fixture
def make_user(app):
    """Create an account: make_user(), make_user(plan="pro"), make_user(role="support")."""

    def make(email: str | None = None, password: str = PASSWORD, **fields):
        return create_user(email or f"user{next(_emails)}@example.com", password, **fields)

    return make


CSRF_INPUT = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(client, url: str = "/login") -> str:
    """The CSRF token a form on `url` carries (empty when CSRF is off)."""
    match = CSRF_INPUT.search(client.get(url).get_data(as_text=True))
    return match.group(1) if match else ""


class AuthActions:
    """Log a test client in and out through the real pages (flaskr's `auth` helper)."""

    def __init__(self, client):
        self.client = client

    def login(self, user_or_email, password: str = PASSWORD):
        email = getattr(user_or_email, "email", user_or_email)
        data = {"email": email, "password": password, "csrf_token": csrf_token(self.client)}
        response = self.client.post("/login", data=data)
        assert response.status_code == 303, "log-in failed"
        return response

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def user(make_user):
    """One ordinary account on the free plan."""
    return make_user()


@pytest.fixture
def logged_in(auth, user):
    """A client logged in as `user`."""
    auth.login(user)
    return user


@pytest.fixture
def http_server(app):
    """The test's app served over HTTP on a free loopback port (a thread): its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()
