"""Keys made and changed through the keys page are honoured by the JSON API."""

import re

import pytest
import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.keys.service import keys_of
from dashboard.models import ApiKey, Tool
from dashboard.tools.sync import sync_tools

SECRET_RE = re.compile(r"tk_live_[A-Za-z0-9_-]{43}[0-9A-Za-z]{6}")
ECHO = {"message": "hi"}


@pytest.fixture(autouse=True)
def tools_served(app):
    sync_tools(db.session, Tool)
    db.session.commit()


def create_key_on_page(client, **fields) -> str:
    data = {"name": "app", "expiry": "never", "rate_limit_per_minute": "100", **fields}
    response = client.post("/keys/", data=data, follow_redirects=True)
    (secret,) = set(SECRET_RE.findall(response.get_data(as_text=True)))
    return secret


def call(client, secret, tool="echo", body=ECHO, ip="127.0.0.1"):
    return client.post(
        f"/api/v1/tools/{tool}",
        json=body,
        headers={"Authorization": f"Bearer {secret}"},
        environ_overrides={"REMOTE_ADDR": ip},
    )


def test_a_new_key_works_and_expiring_it_on_the_page_stops_it(client, logged_in):
    secret = create_key_on_page(client)
    assert call(client, secret).status_code == 200
    (key,) = keys_of(logged_in)
    client.post(f"/keys/{key.id}/expire")
    refused = call(client, secret)
    assert refused.status_code == 401
    assert refused.json["error"]["code"] == "revoked_api_key"


def test_rolling_with_grace_keeps_both_secrets_working(client, logged_in):
    old = create_key_on_page(client)
    (key,) = keys_of(logged_in)
    response = client.post(f"/keys/{key.id}/roll", data={"grace": "1h"}, follow_redirects=True)
    new = (set(SECRET_RE.findall(response.get_data(as_text=True))) - {old}).pop()
    assert call(client, old).status_code == 200
    assert call(client, new).status_code == 200


def test_rolling_without_grace_stops_the_old_secret_at_once(client, logged_in):
    old = create_key_on_page(client)
    (key,) = keys_of(logged_in)
    response = client.post(f"/keys/{key.id}/roll", data={"grace": "none"}, follow_redirects=True)
    new = (set(SECRET_RE.findall(response.get_data(as_text=True))) - {old}).pop()
    assert call(client, old).json["error"]["code"] == "revoked_api_key"
    assert call(client, new).status_code == 200


def test_restrictions_set_on_the_page_are_enforced(client, logged_in):
    secret = create_key_on_page(
        client, allowed_tools=["echo"], allowed_ips="10.0.0.0/8\n2001:db8::/32"
    )
    assert call(client, secret, ip="10.1.2.3").status_code == 200
    assert call(client, secret, ip="2001:db8::1").status_code == 200
    outside = call(client, secret, ip="192.0.2.1")
    assert (outside.status_code, outside.json["error"]["code"]) == (403, "ip_not_allowed")
    other_tool = call(client, secret, tool="language", body={"text": "Hallo Welt"}, ip="10.0.0.1")
    assert (other_tool.status_code, other_tool.json["error"]["code"]) == (403, "tool_not_allowed")


def test_a_key_past_its_expiry_date_is_refused(client, logged_in):
    secret = create_key_on_page(client, expiry="7")
    db.session.execute(sa.update(ApiKey).values(expires_at=ApiKey.created_at))
    db.session.commit()
    refused = call(client, secret)
    assert (refused.status_code, refused.json["error"]["code"]) == (401, "expired_api_key")


def test_a_lowered_rate_limit_on_the_page_applies(client, logged_in):
    secret = create_key_on_page(client)
    (key,) = keys_of(logged_in)
    client.post(f"/keys/{key.id}/edit", data={"name": "app", "rate_limit_per_minute": "2"})
    assert [call(client, secret).status_code for _ in range(3)] == [200, 200, 429]
