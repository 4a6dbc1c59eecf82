"""A Redis of the test's own holds sessions, the form limiter's counters and the job queue; it is
frozen (SIGSTOP: connections are accepted, nothing answers) or killed (connections refused).

Pages, log-in and the two-factor step answer within a bound with the "sessions are unavailable"
503 page (JSON for htmx), never a hang or a 500; with sessions in the database the log-in form's
limiter fails open to counting in memory; a webhook test event is kept for later and the page
says so; the API fails open or closed as configured.
"""

import os
import signal
import subprocess
import time

import pytest
import redis

from dashboard.webhooks import service as webhooks
from tests.conftest import PASSWORD, csrf_token
from tests.reliability.conftest import free_port

pytestmark = pytest.mark.slow

BOUNDED_SECONDS = 3  # Redis waits are 0.25-0.5 s; this proves they are bounded, on a busy machine
SESSIONS_UNAVAILABLE = "Sessions are unavailable right now"


class OwnRedis:
    """redis-server on a free port, no persistence; frozen with SIGSTOP or killed."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.05)
        client.close()

    def freeze(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.thaw()
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def own_redis():
    server = OwnRedis()
    try:
        yield server
    finally:
        server.stop()  # SIGCONT first, so a frozen server dies too


@pytest.fixture
def backend():
    return "sqlite"  # the database plays no part here


@pytest.fixture
def app_overrides(own_redis):
    return {
        "SESSION_REDIS_URL": own_redis.url,
        "RATELIMIT_STORAGE_URI": own_redis.url,
        "QUEUE_URL": own_redis.url,
        "RATELIMIT_RETRY_SECONDS": 0.2,
    }


def timed(send):
    started = time.monotonic()
    response = send()
    return response, time.monotonic() - started


def break_redis(own_redis, how: str) -> None:
    own_redis.freeze() if how == "frozen" else own_redis.stop()


def assert_sessions_unavailable(response, elapsed) -> None:
    print(f"sessions unavailable: {response.status_code} in {elapsed:.2f} s")
    assert elapsed < BOUNDED_SECONDS
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert SESSIONS_UNAVAILABLE in response.get_data(as_text=True)


@pytest.mark.parametrize("how", ["frozen", "refusing"])
def test_pages_log_in_and_two_factor_answer_503_quickly(app, client, auth, user, own_redis, how):
    auth.login(user)
    assert client.get("/keys/").status_code == 200  # sessions live in this Redis
    token = csrf_token(client, "/account/")
    break_redis(own_redis, how)
    try:
        for send in (
            lambda: client.get("/keys/"),
            lambda: client.get("/usage/"),
            lambda: client.post("/login", data={"email": user.email, "password": PASSWORD}),
            lambda: client.post("/login/code", data={"code": "123456"}),
            lambda: client.post("/logout", data={"csrf_token": token}),
        ):
            assert_sessions_unavailable(*timed(send))

        htmx, elapsed = timed(lambda: client.get("/logs/", headers={"HX-Request": "true"}))
        assert elapsed < BOUNDED_SECONDS
        assert htmx.status_code == 503
        assert htmx.get_json()["error"]["code"] == "sessions_unavailable"

        css, elapsed = timed(lambda: client.get("/static/css/app.css"))
        assert (css.status_code, elapsed < BOUNDED_SECONDS) == (200, True)  # the page's look
        css.close()
    finally:
        own_redis.thaw() if how == "frozen" else None
    if how == "frozen":  # back: the same browser is still signed in
        assert client.get("/keys/").status_code == 200


@pytest.fixture
def sessions_in_database(app):
    """Sessions in the database; the limiter and the queue stay on the test's Redis."""
    from dashboard.sessions import init_app

    app.config["SESSION_REDIS_URL"] = ""
    init_app(app)
    return app


@pytest.mark.parametrize("how", ["frozen", "refusing"])
def test_log_in_limiter_fails_open_to_memory(sessions_in_database, client, user, own_redis, how):
    break_redis(own_redis, how)
    data = {"email": user.email, "password": "wrong password", "csrf_token": ""}
    answers = []
    for _ in range(7):  # LOGIN_RATE_LIMIT_PER_EMAIL is 5 a minute
        response, elapsed = timed(lambda: client.post("/login", data=data))
        print(f"log-in with the limiter's Redis {how}: {response.status_code} in {elapsed:.2f} s")
        assert elapsed < BOUNDED_SECONDS
        answers.append(response.status_code)
    assert 500 not in answers
    assert answers[0] == 200  # the form, with its error: the limiter let it through
    assert answers[-1] == 429  # still limited, counting in this process


@pytest.mark.parametrize("how", ["frozen", "refusing"])
def test_a_test_event_is_kept_when_the_queue_is_down(
    sessions_in_database, client, auth, user, own_redis, how
):
    auth.login(user)
    endpoint, _ = webhooks.create_endpoint(user.id, "https://example.com/hook", "", ["usage"])
    break_redis(own_redis, how)
    response, elapsed = timed(
        lambda: client.post(f"/webhooks/{endpoint.id}/test", follow_redirects=True)
    )
    print(f"test event with the queue's Redis {how}: {response.status_code} in {elapsed:.2f} s")
    assert elapsed < BOUNDED_SECONDS * 2  # the limiter's wait and the queue's
    assert response.status_code == 200
    assert "not sent yet" in response.get_data(as_text=True)
    assert [d.status for d in webhooks.deliveries_of(endpoint)] == ["deferred"]


@pytest.mark.parametrize("fail_open", [True, False])
def test_the_api_fails_open_or_closed_as_configured(app, api_app, user, own_redis, fail_open):
    from dashboard.extensions import db
    from dashboard.keys.service import create_key
    from dashboard.models import Tool
    from dashboard.tools.sync import sync_tools

    sync_tools(db.session, Tool)
    db.session.commit()
    secret = create_key(user, "redis outage", rate_limit_per_minute=5)[1]
    api_app.config["RATELIMIT_FAIL_OPEN"] = fail_open
    client = app.test_client()
    own_redis.freeze()
    response, elapsed = timed(
        lambda: client.post(
            "/api/v1/tools/echo", json={"message": "hi"}, headers={"X-API-Key": secret}
        )
    )
    assert elapsed < BOUNDED_SECONDS
    assert response.status_code == (200 if fail_open else 503)
