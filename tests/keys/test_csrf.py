"""With CSRF on (as served): key actions need the token, from the form or htmx's header."""

import re

import pytest
from flask import g

from dashboard.keys.service import keys_of
from tests.conftest import PASSWORD


@pytest.fixture
def app_overrides():
    return {"WTF_CSRF_ENABLED": True}


def csrf_token(page: str) -> str:
    return re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)


@pytest.fixture(autouse=True)
def fresh_g_per_request(app):
    """The `app` fixture keeps one app context, so `g` (where Flask-WTF caches the token it
    put in the session) would outlive a request; drop it before each, as a server would."""

    @app.before_request
    def forget_cached_token():
        g.pop("csrf_token", None)


@pytest.fixture
def logged_in(client, user):
    """Log in through the real form, token included (the shared helper posts without one)."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    data = {"email": user.email, "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=data).status_code == 303
    return user


def test_actions_without_the_token_are_refused(client, logged_in, make_key):
    key, _ = make_key(logged_in, "safe")
    for url, data in [
        ("/keys/", {"name": "sneaky", "expiry": "never", "rate_limit_per_minute": "100"}),
        (f"/keys/{key.id}/expire", {}),
        (f"/keys/{key.id}/roll", {"grace": "none"}),
        (f"/keys/{key.id}/edit", {"name": "renamed", "rate_limit_per_minute": "1"}),
    ]:
        response = client.post(url, data=data)
        assert response.status_code == 400
        assert "This form has expired" in response.get_data(as_text=True)
    (only,) = keys_of(logged_in)
    assert (only.name, only.is_active, only.replaced_by_id) == ("safe", True, None)


def test_htmx_sends_the_token_in_a_header(client, logged_in, make_key):
    key, _ = make_key(logged_in, "to expire")
    token = csrf_token(client.get("/keys/").get_data(as_text=True))
    response = client.post(
        f"/keys/{key.id}/expire", headers={"HX-Request": "true", "X-CSRFToken": token}
    )
    assert response.status_code == 200
    assert 'data-status="expired"' in response.get_data(as_text=True)


def test_the_page_forms_carry_the_token(client, logged_in, make_key):
    key, _ = make_key(logged_in, "k")
    for url in ("/keys/", f"/keys/{key.id}/edit", f"/keys/{key.id}/roll", f"/keys/{key.id}/expire"):
        page = client.get(url).get_data(as_text=True)
        assert re.search(
            r'name="csrf_token" type="hidden" value="[^"]+"|name="csrf_token" value="[^"]+"', page
        ), url
