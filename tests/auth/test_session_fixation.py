"""Session fixation: an id planted before log-in is worth nothing after it, with or without
two-factor, and every step of the way gets a new id whose predecessor no longer works."""

import time
import uuid

import pyotp
import pytest
import redis

from dashboard.auth.two_factor import enable, new_secret
from dashboard.extensions import db
from dashboard.models import User
from tests.conftest import PASSWORD, REDIS_SERVER, make_app, require_redis


def session_id(client) -> str:
    return client.get_cookie("session").value


def plant(client) -> str:
    """What an attacker does: get a session id as anybody, with something in it."""
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "by the attacker"
    return session_id(client)


def attacker_with(app, planted: str):
    """A second browser that kept the planted id."""
    attacker = app.test_client()
    attacker.set_cookie("session", planted)
    return attacker


def logs_in_to_login_page(client) -> bool:
    response = client.get("/account/")
    return response.status_code == 302 and "/login" in response.headers["Location"]


def log_in(client, user) -> None:
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 303


def test_log_in_rotates_a_planted_session_id(app, client, user):
    planted = plant(client)
    log_in(client, user)
    assert session_id(client) != planted
    assert client.get("/account/").status_code == 200
    assert logs_in_to_login_page(attacker_with(app, planted))
    with client.session_transaction() as session:
        assert "planted" not in session  # nothing from before the log-in carries over


def next_step_code(secret: str) -> str:
    """A code the server accepts now and has not seen: the next time step's (one step of drift)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def test_both_two_factor_steps_rotate_a_planted_session_id(app, client, user):
    secret = new_secret()
    enable(db.session.get(User, user.id), secret, pyotp.TOTP(secret).timecode(time.time()))
    planted = plant(client)

    log_in(client, user)  # the password step
    after_password = session_id(client)
    assert after_password != planted
    attacker = attacker_with(app, planted)
    assert attacker.get("/login/code").headers["Location"].endswith("/login")  # nothing pending

    response = client.post("/login/code", data={"code": next_step_code(secret)})
    assert response.status_code == 303
    assert session_id(client) not in (planted, after_password)
    assert client.get("/account/").status_code == 200
    assert logs_in_to_login_page(attacker_with(app, planted))
    assert logs_in_to_login_page(attacker_with(app, after_password))


def test_log_out_rotates_the_session_id(app, client, logged_in):
    before = session_id(client)
    client.post("/logout")
    assert session_id(client) != before
    assert logs_in_to_login_page(attacker_with(app, before))


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_log_in_rotates_a_planted_id_in_redis(backend, migrated_urls, make_user):
    require_redis()
    prefix = f"test-fixation-{uuid.uuid4().hex[:8]}:"
    app = make_app(
        migrated_urls(backend), SESSION_REDIS_URL=REDIS_SERVER, SESSION_KEY_PREFIX=prefix
    )
    store = redis.Redis.from_url(REDIS_SERVER)
    try:
        with app.app_context():
            user = make_user()
            client = app.test_client()
            planted = plant(client)
            assert store.exists(prefix + planted)
            log_in(client, user)
            assert session_id(client) != planted
            assert not store.exists(prefix + planted)  # the planted id's data is gone
            assert logs_in_to_login_page(attacker_with(app, planted))
    finally:
        for key in store.scan_iter(prefix + "*"):
            store.delete(key)
