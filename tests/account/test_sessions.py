"""Server-side sessions: the cookie holds an id, and ending a session ends every copy of it."""

import re
import uuid

import pytest
import redis
import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.models import SecurityEvent, StoredSession, UserSession
from tests.conftest import PASSWORD, REDIS_SERVER, AuthActions, require_redis

NEW_PASSWORD = "a brand new secret"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"


def session_cookie(client) -> str:
    return client.get_cookie("session").value


def second_browser(app, user, user_agent: str = FIREFOX):
    """Another test client, logged in as `user` with its own session."""
    other = app.test_client()
    other.environ_base["HTTP_USER_AGENT"] = user_agent
    AuthActions(other).login(user)
    return other


def opens_account(client) -> bool:
    return client.get("/account/").status_code == 200


def test_the_cookie_holds_only_a_random_id(client, logged_in):
    value = session_cookie(client)
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", value), value  # no payload, no signature dots
    assert db.session.get(StoredSession, "session:" + value) is not None


def test_a_saved_cookie_is_refused_after_log_out(client, logged_in):
    saved = session_cookie(client)
    client.post("/logout")
    client.set_cookie("session", saved)
    assert not opens_account(client)
    ended = db.session.scalar(sa.select(UserSession))
    assert ended.ended_reason == "logout"


def test_a_saved_cookie_is_refused_after_log_out_even_if_its_data_is_put_back(client, logged_in):
    """Ending is decided by the user_sessions row, not by the stored data disappearing."""
    saved = session_cookie(client)
    stored = db.session.get(StoredSession, "session:" + saved)
    data, expires_at = stored.data, stored.expires_at
    client.post("/logout")
    assert db.session.get(StoredSession, "session:" + saved) is None  # a new id after log-out
    db.session.add(StoredSession(session_id="session:" + saved, data=data, expires_at=expires_at))
    db.session.commit()
    client.set_cookie("session", saved)
    assert not opens_account(client)


def change_password(client):
    return client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )


def test_a_password_change_logs_out_every_other_session(app, client, logged_in):
    other = second_browser(app, logged_in)
    saved = session_cookie(other)
    assert opens_account(other)
    assert change_password(client).status_code == 303
    assert opens_account(client)  # the browser that changed it stays in
    assert not opens_account(other)
    other.set_cookie("session", saved)
    assert not opens_account(other)
    assert db.session.scalar(sa.select(SecurityEvent.action)) in {"login", "password.change"}
    actions = set(db.session.scalars(sa.select(SecurityEvent.action)))
    assert "password.change" in actions


def test_the_account_page_lists_sessions_with_device_and_address(app, client, logged_in):
    second_browser(app, logged_in)
    page = client.get("/account/").get_data(as_text=True)
    assert page.count('data-testid="session-row"') == 2
    assert "Firefox 133 on Windows" in page
    assert "This browser" in page
    assert "127.0.0.1" in page


def test_log_out_one_other_session(app, client, logged_in):
    other = second_browser(app, logged_in)
    theirs = db.session.scalar(sa.select(UserSession.id).where(UserSession.user_agent == FIREFOX))
    response = client.post(f"/account/sessions/{theirs}/end")
    assert response.status_code == 303
    assert not opens_account(other)
    assert opens_account(client)


def test_log_out_one_session_with_htmx_answers_the_list(app, client, logged_in):
    second_browser(app, logged_in)
    theirs = db.session.scalar(sa.select(UserSession.id).where(UserSession.user_agent == FIREFOX))
    response = client.post(f"/account/sessions/{theirs}/end", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body
    assert body.count('data-testid="session-row"') == 1


def test_log_out_everywhere_else(app, client, logged_in):
    others = [second_browser(app, logged_in) for _ in range(2)]
    response = client.post("/account/sessions/end-others")
    assert response.status_code == 303
    assert "Logged out 2 other sessions" in client.get("/account/").get_data(as_text=True)
    assert all(not opens_account(other) for other in others)


def test_nobody_ends_another_accounts_session(app, client, logged_in, make_user):
    stranger = make_user()
    theirs = second_browser(app, stranger)
    their_id = db.session.scalar(
        sa.select(UserSession.id).where(UserSession.user_id == stranger.id)
    )
    assert client.post(f"/account/sessions/{their_id}/end").status_code == 404
    assert client.post(f"/account/sessions/{uuid.uuid4()}/end").status_code == 404
    assert client.post("/account/sessions/not-an-id/end").status_code == 404
    assert opens_account(theirs)


def test_deleting_the_account_ends_its_sessions(app, client, logged_in):
    other = second_browser(app, logged_in)
    response = client.post(
        "/account/delete", data={"confirm_email": logged_in.email, "password": PASSWORD}
    )
    assert response.status_code == 303
    assert not opens_account(other)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UserSession)) == 0


@pytest.fixture
def redis_prefix():
    require_redis()
    prefix = f"test-session-{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_SERVER)
    for key in client.scan_iter(prefix + "*"):
        client.delete(key)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sessions_in_redis_when_configured(backend, migrated_urls, redis_prefix, make_user):
    from tests.conftest import make_app

    app = make_app(
        migrated_urls(backend), SESSION_REDIS_URL=REDIS_SERVER, SESSION_KEY_PREFIX=redis_prefix
    )
    store = redis.Redis.from_url(REDIS_SERVER)
    with app.app_context():
        user = make_user()
        client = app.test_client()
        AuthActions(client).login(user)
        saved = session_cookie(client)
        assert store.exists(redis_prefix + saved)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(StoredSession)) == 0
        assert opens_account(client)
        client.post("/logout")
        assert not store.exists(redis_prefix + saved)
        client.set_cookie("session", saved)
        assert not opens_account(client)
