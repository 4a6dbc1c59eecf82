"""A fresh sign-up's confirmation link confirms the address and logs its opener in: once, while
young, on a new session id, still asking two-factor for its code; no other link logs in."""

import time
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import sqlalchemy as sa
from flask import current_app
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from dashboard.auth.service import confirm_email
from dashboard.auth.tokens import VERIFY, email_change_token, verification_token
from dashboard.auth.two_factor import enable, new_secret
from dashboard.extensions import db
from dashboard.models import User
from tests.auth.test_email_links import actions, reload, signup
from tests.auth.test_session_fixation import logs_in_to_login_page, plant, session_id
from tests.mail_server import smtp_server  # noqa: F401 (fixture)


@pytest.fixture
def app_overrides(smtp_server):  # noqa: F811
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_server[1]}


@pytest.fixture
def inbox(smtp_server):  # noqa: F811
    return smtp_server[0]


def signed_up(client, inbox, email="new@example.com") -> tuple[User, str]:
    """Sign up in `client`; the account and the path of the link mailed to it."""
    signup(client, email)
    user = db.session.scalar(sa.select(User).where(User.email == email))
    return user, inbox.link_to(email)


def is_logged_in(client) -> bool:
    return client.get("/account/").status_code == 200


def test_the_sign_up_link_confirms_and_logs_in_on_a_new_session(app, client, inbox):
    user, link = signed_up(client, inbox)
    assert not is_logged_in(client)
    planted = plant(client)
    response = client.get(link)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert session_id(client) != planted
    page = client.get("/usage/").get_data(as_text=True)
    assert "is confirmed" in page and 'data-testid="verify-banner"' not in page
    assert is_logged_in(client)
    assert reload(user).email_verified_at is not None
    assert {"email.verify", "login"} <= set(actions(user))
    attacker = app.test_client()
    attacker.set_cookie("session", planted)
    assert logs_in_to_login_page(attacker)


def test_the_sign_up_link_logs_in_only_once(app, client, inbox):
    _, link = signed_up(client, inbox)
    assert client.get(link).status_code == 303
    other = app.test_client()
    response = other.get(link)
    assert response.status_code == 400
    assert "This link was already used" in response.get_data(as_text=True)
    assert not is_logged_in(other)


def test_a_known_address_gets_no_link_that_logs_in(client, inbox, make_user):
    make_user("taken@example.com")
    signup(client, "taken@example.com")
    body = inbox.last_to("taken@example.com").get_content()
    assert "/verify/" not in body
    assert not is_logged_in(client)


def test_two_factor_still_asks_for_its_code(client, inbox):
    user, link = signed_up(client, inbox)
    secret = new_secret()
    enable(reload(user), secret, pyotp.TOTP(secret).timecode(time.time()))
    response = client.get(link)
    assert response.status_code == 303 and response.headers["Location"] == "/login/code"
    assert not is_logged_in(client)
    assert reload(user).email_verified_at is not None


def test_other_confirmation_links_do_not_log_in(app, client, user):
    anonymous = app.test_client()
    response = anonymous.get(f"/verify/{verification_token(user)}")  # a resend's link
    assert response.status_code == 303
    assert reload(user).email_verified_at is not None
    assert not is_logged_in(anonymous)
    response = anonymous.get(f"/account/email/{email_change_token(user, 'other@example.com')}")
    assert response.status_code == 303
    assert not is_logged_in(anonymous)


class SignedTwoHoursAgo(TimestampSigner):
    def get_timestamp(self) -> int:
        return int((datetime.now(UTC) - timedelta(hours=2)).timestamp())


def test_an_old_sign_up_link_confirms_without_logging_in(app, client, user):
    serializer = URLSafeTimedSerializer(
        current_app.config["SECRET_KEY"], salt=VERIFY, signer=SignedTwoHoursAgo
    )
    token = serializer.dumps({"u": str(user.id), "g": 0, "e": user.email, "s": 1})
    response = client.get(f"/verify/{token}")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert reload(user).email_verified_at is not None  # still within EMAIL_VERIFY_HOURS
    assert not is_logged_in(client)


def test_the_link_does_not_switch_a_logged_in_browser(client, auth, inbox, make_user):
    other = make_user("other@example.com")
    user, link = signed_up(client, inbox)
    auth.login(other)
    assert client.get(link).status_code == 303
    assert reload(user).email_verified_at is not None
    assert "other@example.com" in client.get("/account/").get_data(as_text=True)


def test_only_one_confirmation_claims_the_address(user):
    assert confirm_email(user) is True
    assert confirm_email(user) is False
