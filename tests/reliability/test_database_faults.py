"""The database goes away and comes back: clear errors quickly, recovery without a restart."""

import time

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from dashboard.auth.service import create_user
from dashboard.extensions import db
from dashboard.models import User
from tests.conftest import PASSWORD, make_app, require_postgres
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
        create_user("faults@example.com", PASSWORD)
    # No app context stays pushed: each request opens its own, as in production.
    yield app, proxy
    proxy.cut()
    proxy.start()
    with app.app_context():
        db.session.execute(sa.delete(User).where(User.email == "faults@example.com"))
        db.session.commit()
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
