"""A new key's secret never travels in a cookie: the no-JS path shows it once from the server."""

import pytest
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature

from dashboard.extensions import db
from dashboard.models import StoredSession
from tests.keys.test_routes import SECRET_RE, create_data, text


def cookies_set(response) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def test_the_secret_is_read_from_the_server_once_and_forgotten(app, client, logged_in):
    created = client.post("/keys/", data=create_data())
    assert created.status_code == 303
    cookie = client.get_cookie("session").value
    waiting = db.session.get(StoredSession, "session:" + cookie).data

    # Decoding the cookie as Flask's signed cookie fails: it is a bare random id, no payload.
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    with pytest.raises(BadSignature):
        serializer.loads(cookie)

    shown = client.get("/keys/")
    (secret,) = set(SECRET_RE.findall(text(shown)))
    for header in cookies_set(created) + cookies_set(shown):
        assert secret not in header
    assert secret.encode() in waiting  # it waited on the server, not in the browser

    db.session.expire_all()
    assert secret.encode() not in db.session.get(StoredSession, "session:" + cookie).data
    # A saved copy of the cookie, replayed, does not bring the secret back.
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    again = text(replay.get("/keys/"))
    assert "Your keys" in again or "keys-section" in again
    assert secret not in again
