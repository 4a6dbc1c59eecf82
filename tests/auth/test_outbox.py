"""The development outbox page: the messages kept in MAIL_OUTBOX_FILE, newest first, escaped,
linked from "check your inbox"; a 404 wherever it is not turned on, and always in production."""

import re

import pytest

from dashboard.mail import send_email
from tests.auth.test_email_links import signup


@pytest.fixture
def app_overrides(tmp_path):
    return {"OUTBOX_PAGE": True, "MAIL_OUTBOX_FILE": str(tmp_path / "outbox.txt")}


def test_sign_up_in_development_needs_no_mailbox(client, app):
    signup(client, "first@example.com")
    signup(app.test_client(), "second@example.com")
    sent = client.get("/signup/sent").get_data(as_text=True)
    assert 'href="/outbox"' in sent
    page = client.get("/outbox").get_data(as_text=True)
    assert page.index("second@example.com") < page.index("first@example.com")  # newest first
    links = re.findall(r'<a href="http://localhost(/verify/[^"]+)"', page)
    assert len(links) == 2
    fresh = app.test_client()
    assert fresh.get(links[1]).status_code == 303  # first@'s link, from the page, logs in
    assert fresh.get("/account/").status_code == 200


def test_messages_are_escaped(client, app):
    send_email("x@example.com", "<script>alert(1)</script>", 'Hi <b>there</b> http://a.b/"x')
    page = client.get("/outbox").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "<b>there" not in page
    assert 'href="http://a.b/&#34;x"' in page


def test_an_empty_outbox(client):
    assert 'data-testid="outbox-empty"' in client.get("/outbox").get_data(as_text=True)


def test_never_in_production(client, app):
    app.config["PRODUCTION"] = True
    assert client.get("/outbox").status_code == 404


def test_not_with_a_mail_server(client, app):
    app.config["MAIL_SERVER"] = "127.0.0.1"
    assert client.get("/outbox").status_code == 404


@pytest.mark.parametrize("app_overrides", [{}], indirect=False)
def test_off_in_tests_unless_turned_on(client):
    assert client.get("/outbox").status_code == 404
    signup(client, "someone@example.com")
    assert "/outbox" not in client.get("/signup/sent").get_data(as_text=True)
