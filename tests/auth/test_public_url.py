"""Emailed links start with PUBLIC_URL whatever Host a request names; production requires
PUBLIC_URL and refuses (400) requests for any other host."""

import re

import pytest
import sqlalchemy as sa

from dashboard import create_app
from dashboard.config import ProductionConfig
from dashboard.extensions import db
from dashboard.models import User
from dashboard.public_url import public_url_for
from tests.conftest import PASSWORD
from tests.mail_server import smtp_server  # noqa: F401 (fixture)

PUBLIC_URL = "https://dash.example.com"
POISONED = {"Host": "evil.example"}
URL = re.compile(r"https?://\S+")


@pytest.fixture
def app_overrides(smtp_server):  # noqa: F811
    _, port = smtp_server
    return {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": port,
        "PUBLIC_URL": PUBLIC_URL,
        "QUEUE_URL": "immediate://",  # the reset mail's job runs at once, as a worker would
    }


@pytest.fixture
def inbox(smtp_server):  # noqa: F811
    return smtp_server[0]


def links_to(inbox, address: str) -> list[str]:
    """Every URL in every message that the SMTP server received for `address`."""
    found = [url for message in inbox.to(address) for url in URL.findall(message.get_content())]
    assert found, f"no link in the mail to {address}"
    return found


def assert_all_public(links: list[str]) -> None:
    assert all(link.startswith(PUBLIC_URL + "/") for link in links), links
    assert not any("evil.example" in link for link in links)


def test_a_poisoned_host_changes_no_reset_link(client, inbox, user):
    response = client.post("/password/forgot", data={"email": user.email}, headers=POISONED)
    assert response.status_code == 303
    links = links_to(inbox, user.email)
    assert_all_public(links)
    assert any(link.startswith(f"{PUBLIC_URL}/password/reset/") for link in links)


def test_a_poisoned_host_changes_no_sign_up_link(client, inbox, make_user):
    make_user("taken@example.com")
    for email in ("new@example.com", "taken@example.com"):
        data = {"email": email, "password": PASSWORD}
        assert client.post("/signup", data=data, headers=POISONED).status_code == 303
    assert any(
        link.startswith(f"{PUBLIC_URL}/verify/") for link in links_to(inbox, "new@example.com")
    )
    assert_all_public(links_to(inbox, "new@example.com") + links_to(inbox, "taken@example.com"))


def log_in_through_evil_host(client, user) -> None:
    """Log in on the poisoned host, so the session cookie goes with the poisoned requests."""
    data = {"email": user.email, "password": PASSWORD}
    assert client.post("/login", data=data, headers=POISONED).status_code == 303


def test_a_poisoned_host_changes_no_verification_resent(client, inbox, user):
    log_in_through_evil_host(client, user)
    assert client.post("/verify/resend", headers=POISONED).status_code == 303
    assert_all_public(links_to(inbox, user.email))


def test_a_poisoned_host_changes_no_email_change_link(client, inbox, user):
    db.session.get(User, user.id).email_verified_at = sa.func.now()
    db.session.commit()
    log_in_through_evil_host(client, user)
    response = client.post(
        "/account/email",
        data={"change-new_email": "new@example.com", "change-password": PASSWORD},
        headers=POISONED,
    )
    assert response.status_code == 303
    confirm = links_to(inbox, "new@example.com")
    assert any(link.startswith(f"{PUBLIC_URL}/account/email/") for link in confirm)
    assert_all_public(confirm + links_to(inbox, user.email))


def production_config(monkeypatch, **environment) -> ProductionConfig:
    monkeypatch.setenv("SECRET_KEY", "x" * 64)
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return ProductionConfig()


def test_production_refuses_to_start_without_public_url(monkeypatch):
    with pytest.raises(RuntimeError, match="PUBLIC_URL must be set in production"):
        create_app(production_config(monkeypatch))


@pytest.mark.parametrize(
    "url", ["dash.example.com", "ftp://dash.example.com", "https://", "https://d.example/?a=1"]
)
def test_a_malformed_public_url_stops_the_start(monkeypatch, url):
    with pytest.raises(RuntimeError, match="PUBLIC_URL"):
        create_app(production_config(monkeypatch, PUBLIC_URL=url))


def test_production_trusts_the_public_host_and_the_machine_only(monkeypatch):
    app = create_app(production_config(monkeypatch, PUBLIC_URL=PUBLIC_URL + "/"))
    assert app.config["PUBLIC_URL"] == PUBLIC_URL
    assert app.config["TRUSTED_HOSTS"] == ["dash.example.com", "localhost", "127.0.0.1"]


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(
    "app_overrides",
    [{"PRODUCTION": True, "PUBLIC_URL": PUBLIC_URL, "EXTRA_TRUSTED_HOSTS": ["localhost"]}],
)
def test_production_refuses_requests_for_another_host(client):
    for path in ("/login", "/health/live"):
        assert client.get(path, headers={"Host": "dash.example.com"}).status_code == 200
        assert client.get(path, headers={"Host": "dash.example.com:443"}).status_code == 200
        assert client.get(path, headers={"Host": "localhost:8000"}).status_code == 200
        refused = client.get(path, headers=POISONED)
        assert refused.status_code == 400
        assert "Bad request" in refused.get_data(as_text=True)
    forgot = client.post("/password/forgot", data={"email": "a@example.com"}, headers=POISONED)
    assert forgot.status_code == 400
    api = client.get("/api/v1/tools", headers=POISONED)
    assert api.status_code == 400
    assert api.get_json()["error"]["code"] == "bad_request"
    assert client.get("/api/v1/tools", headers={"Host": "dash.example.com"}).status_code == 200


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("app_overrides", [{"PUBLIC_URL": "https://example.com/toolbox"}])
def test_links_build_without_a_request_under_the_public_path(app):
    """As a job on the worker builds them: an app context, no request."""
    link = public_url_for("auth.reset_password", token="abc")
    assert link == "https://example.com/toolbox/password/reset/abc"
