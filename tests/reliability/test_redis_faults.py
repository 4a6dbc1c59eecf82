"""Redis, which holds the rate-limit counters, goes away, hangs, and comes back.

tests/api/test_limits.py checks the answers when nothing listens on the Redis port; here the
waits are bounded too, a Redis that accepts connections but never answers cannot hang a call,
and the gateway counts again once Redis is back, without a restart.
"""

import socket
import time
from urllib.parse import urlsplit

import pytest

from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import Tool
from dashboard.tools.sync import sync_tools
from tests.conftest import REDIS_SERVER, require_redis
from tests.reliability.conftest import closed_port
from tests.reliability.tcp_proxy import TcpProxy

BOUNDED_SECONDS = 3  # Redis waits are 0.25 s; this proves they are bounded, not how fast


@pytest.fixture
def backend():
    return "sqlite"  # the database plays no part here


@pytest.fixture
def secret(app, user):
    sync_tools(db.session, Tool)
    # Pro has no plan-wide cap on calls in flight: a slot that a cut left held (it lapses in
    # 30 s) must not refuse these calls for want of a slot; the key's rate limit binds.
    user.subscription_plan = "pro"
    db.session.commit()
    return create_key(user, "redis faults", rate_limit_per_minute=2)[1]


@pytest.fixture
def silent_redis():
    """A port that accepts connections (the kernel's backlog) and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    listener.close()


def timed_call(client, secret):
    started = time.monotonic()
    response = client.post(
        "/api/v1/tools/echo", json={"message": "hi"}, headers={"X-API-Key": secret}
    )
    return response, time.monotonic() - started


def limiter_config(uri: str, fail_open: bool) -> dict:
    return {
        "RATELIMIT_STORAGE_URI": uri,
        "RATELIMIT_FAIL_OPEN": fail_open,
        "RATELIMIT_RETRY_SECONDS": 0.2,
    }


@pytest.mark.parametrize("fail_open", [True, False])
@pytest.mark.parametrize("where", ["closed port", "silent server"])
def test_redis_down_or_silent_answers_within_a_bound(
    app, api_app, secret, silent_redis, where, fail_open
):
    uri = f"redis://127.0.0.1:{closed_port()}/0" if where == "closed port" else silent_redis
    api_app.config.update(limiter_config(uri, fail_open))  # the limiter is the API app's
    client = app.test_client()
    for _ in range(3):  # more than the key's limit of 2: nothing counts while Redis is away
        response, elapsed = timed_call(client, secret)
        assert elapsed < BOUNDED_SECONDS
        if fail_open:
            assert response.status_code == 200
            assert "X-RateLimit-Limit" not in response.headers
        else:
            assert response.status_code == 503
            assert response.get_json()["error"]["code"] == "rate_limiter_unavailable"


@pytest.mark.parametrize("fail_open", [True, False])
def test_limits_count_again_once_redis_is_back(app, api_app, secret, fail_open):
    """Through a cuttable proxy: Redis away, then back; the same app limits again."""
    require_redis()
    target = urlsplit(REDIS_SERVER)
    proxy = TcpProxy(target.hostname, target.port or 6379).start()
    try:
        through_proxy = f"redis://127.0.0.1:{proxy.port}{target.path}"
        api_app.config.update(limiter_config(through_proxy, fail_open))
        client = app.test_client()
        first, _ = timed_call(client, secret)
        assert (first.status_code, first.headers["X-RateLimit-Remaining"]) == (200, "1")

        proxy.cut()
        down, elapsed = timed_call(client, secret)
        assert elapsed < BOUNDED_SECONDS
        assert down.status_code == (200 if fail_open else 503)

        proxy.start()
        time.sleep(0.3)  # RATELIMIT_RETRY_SECONDS: Redis is not asked again before that
        again = [timed_call(client, secret)[0] for _ in range(2)]
        # The cut may fall after Redis counted the refused call (the answer is what is lost):
        # then the key's second call of the minute is already spent and both are 429.
        assert [answer.status_code for answer in again] in ([200, 429], [429, 429])
        assert again[1].get_json()["error"]["code"] == "rate_limited"
        assert again[1].headers["X-RateLimit-Remaining"] == "0"  # counted in Redis again
    finally:
        proxy.cut()  # the keys it wrote carry the run's prefix and go at the run's end
