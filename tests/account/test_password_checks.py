"""Wrong passwords on the forms that ask for it again share one limit per account: guessing is
as slow there as at log-in, and turning two-factor off cannot be brute-forced from a session."""

import pyotp
import pytest

from dashboard.auth.passwords import password_matches
from dashboard.auth.two_factor import enable, new_secret
from dashboard.extensions import db
from dashboard.models import User
from tests.conftest import PASSWORD

NEW_PASSWORD = "a brand new secret"
LIMIT = 4


@pytest.fixture
def app_overrides() -> dict:
    return {"PASSWORD_CHECK_RATE_LIMIT": f"{LIMIT}/hour"}


def change_password(client, current: str, confirm: str = NEW_PASSWORD):
    return client.post(
        "/account/password",
        data={
            "current_password": current,
            "new_password": NEW_PASSWORD,
            "confirm_password": confirm,
        },
    )


def turn_off_two_factor(client, password: str):
    return client.post("/account/two-factor/disable", data={"password": password})


def reload(user) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def test_wrong_current_passwords_are_limited(client, logged_in):
    for _ in range(LIMIT):
        assert change_password(client, "not it").status_code == 422
    response = change_password(client, PASSWORD)  # the right one, too late
    assert response.status_code == 429
    assert "Too many wrong passwords for this account: try again in" in response.get_data(
        as_text=True
    )
    assert password_matches(reload(logged_in).password_hash, PASSWORD)  # unchanged


def test_only_wrong_passwords_count(client, logged_in):
    for _ in range(LIMIT + 2):  # a typo in the new password is no guess
        assert change_password(client, PASSWORD, confirm="something else").status_code == 422
    assert change_password(client, PASSWORD).status_code == 303


def test_turning_two_factor_off_is_limited(client, logged_in):
    secret = new_secret()
    enable(reload(logged_in), secret, pyotp.TOTP(secret).timecode(0))
    for _ in range(LIMIT):
        response = turn_off_two_factor(client, "not it")
        assert response.status_code == 303  # back to the page, which says it is still on
    response = turn_off_two_factor(client, PASSWORD)
    assert response.status_code == 429
    assert "Too many wrong passwords" in response.get_data(as_text=True)
    assert reload(logged_in).two_factor_enabled


def test_the_forms_share_one_budget(client, logged_in):
    secret = new_secret()
    enable(reload(logged_in), secret, pyotp.TOTP(secret).timecode(0))
    for _ in range(LIMIT // 2):
        assert change_password(client, "not it").status_code == 422
        assert turn_off_two_factor(client, "not it").status_code == 303
    assert turn_off_two_factor(client, PASSWORD).status_code == 429
    response = client.post(
        "/account/email", data={"change-new_email": "x@example.com", "change-password": PASSWORD}
    )
    assert response.status_code == 429


def test_the_budget_is_the_accounts_own(client, logged_in, make_user, auth):
    for _ in range(LIMIT):
        change_password(client, "not it")
    auth.logout()
    auth.login(make_user())
    assert change_password(client, PASSWORD).status_code == 303
