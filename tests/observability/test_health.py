"""Liveness and readiness: the database, and Redis when rate limits are kept there."""

import pytest

from tests.conftest import REDIS_SERVER, make_app, require_redis
from tests.reliability.conftest import closed_port


def test_live_needs_nothing(client):
    answer = client.get("/health/live")
    assert (answer.status_code, answer.get_json()) == (200, {"status": "alive"})


def test_ready_checks_the_database(client):
    answer = client.get("/health/ready")
    assert answer.status_code == 200
    assert answer.get_json() == {"status": "ready", "checks": {"database": "ok"}}


def test_unready_when_the_database_is_away():
    nowhere = make_app(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/nothing")
    answer = nowhere.test_client().get("/health/ready")
    assert answer.status_code == 503
    body = answer.get_json()
    assert body["status"] == "unready"
    assert body["checks"]["database"] == "the database does not answer (OperationalError)"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_ready_checks_redis_when_limits_live_there(app, client):
    require_redis()
    app.config["RATELIMIT_STORAGE_URI"] = REDIS_SERVER
    answer = client.get("/health/ready")
    assert answer.status_code == 200
    assert answer.get_json()["checks"] == {"database": "ok", "rate_limit_storage": "ok"}


@pytest.mark.parametrize("backend", ["sqlite"])
def test_unready_when_redis_is_away(app, client):
    app.config["RATELIMIT_STORAGE_URI"] = f"redis://127.0.0.1:{closed_port()}"
    answer = client.get("/health/ready")
    assert answer.status_code == 503
    assert answer.get_json()["checks"]["rate_limit_storage"] == (
        "the rate-limit storage (Redis) does not answer"
    )
