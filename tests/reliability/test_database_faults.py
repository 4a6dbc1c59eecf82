"""The database goes away and comes back: clear errors quickly, recovery without a restart."""

import time

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from dashboard.auth.service import create_user
from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import Tool, ToolLog
from dashboard.tools.sync import sync_tools
from tests.conftest import PASSWORD, empty_tables, make_app, require_postgres
from tests.reliability.tcp_proxy import TcpProxy

# Generous: it proves the wait is bounded (connect timeout), not how fast it is.
BOUNDED_SECONDS = 15


@pytest.fixture
def proxied(migrated_urls):
    """An app whose PostgreSQL connections go through a proxy that the test can cut."""
    require_postgres()
    url = make_url(migrated_urls("postgresql"))
    proxy = TcpProxy(url.host, url.port or 5432).start()
    app = make_app(
        url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
        SQLALCHEMY_ENGINE_OPTIONS={
            "pool_pre_ping": True,
            "pool_size": 2,
            "pool_timeout": 3,
            "connect_args": {"connect_timeout": 2, "options": "-c statement_timeout=5000"},
        },
    )
    with app.app_context():
        user = create_user("faults@example.com", PASSWORD)
        sync_tools(db.session, Tool)
        _, secret = create_key(user, "faults")
    app.config["TEST_SECRET"] = secret
    # No app context stays pushed: each request opens its own, as in production.
    yield app, proxy
    proxy.cut()
    proxy.start()
    with app.app_context():
        empty_tables()
        db.engine.dispose()
    proxy.cut()


def timed_get(client, url):
    started = time.monotonic()
    response = client.get(url)
    return response, time.monotonic() - started


def test_dashboard_shows_a_friendly_page_and_recovers(proxied):
    app, proxy = proxied
    client = app.test_client()
    client.post("/login", data={"email": "faults@example.com", "password": PASSWORD})
    assert client.get("/account/").status_code == 200

    proxy.cut()
    response, elapsed = timed_get(client, "/account/")
    assert response.status_code == 503
    assert "cannot reach our database" in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert elapsed < BOUNDED_SECONDS

    proxy.start()
    assert client.get("/account/").status_code == 200  # same app, same pool: no restart


def timed_call(client, secret):
    started = time.monotonic()
    response = client.post(
        "/api/v1/tools/echo", json={"message": "hi"}, headers={"Authorization": f"Bearer {secret}"}
    )
    return response, time.monotonic() - started


def log_rows(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(ToolLog))


def test_api_answers_json_503_quickly_and_recovers(proxied):
    app, proxy = proxied
    client = app.test_client()
    secret = app.config["TEST_SECRET"]
    assert timed_call(client, secret)[0].status_code == 200

    proxy.cut()
    for _ in range(2):  # the pooled connection dies, then a new one cannot be made
        response, elapsed = timed_call(client, secret)
        assert response.status_code == 503
        assert response.get_json()["error"]["code"] == "database_unavailable"
        assert "Server-Timing" in response.headers
        assert elapsed < BOUNDED_SECONDS

    proxy.start()
    response, _ = timed_call(client, secret)  # same app, same pool: pre-ping replaces the dead
    assert response.status_code == 200
    assert log_rows(app) == 2  # the calls that failed left no half-written rows behind


def test_api_survives_the_database_dropping_connections_mid_burst(proxied):
    """Connections killed while idle in the pool are replaced by pre-ping, without a 5xx."""
    app, proxy = proxied
    client = app.test_client()
    secret = app.config["TEST_SECRET"]
    for _ in range(3):
        assert timed_call(client, secret)[0].status_code == 200
        proxy.cut()
        proxy.start()
    assert timed_call(client, secret)[0].status_code == 200
    assert log_rows(app) == 4
