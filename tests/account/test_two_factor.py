"""Two-factor sign-in: set-up with an inline QR code, log-in with a code, recovery codes,
throttled wrong codes, and the support console's requirement."""

import re
import time
from datetime import datetime, timedelta

import pyotp
import pytest
import sqlalchemy as sa

from dashboard.auth.two_factor import code_is_right, second_factor_ok
from dashboard.extensions import db
from dashboard.models import RecoveryCode, SecurityEvent, User
from tests.conftest import PASSWORD

SECRET_RE = re.compile(r'data-testid="totp-secret">([A-Z2-7]+)<')
CODES_RE = re.compile(r"<li class=\"col\">([0-9a-f]{6}-[0-9a-f]{6})</li>")


def test_codes_with_a_frozen_clock():
    secret = pyotp.random_base32()
    at = datetime(2026, 12, 3, 12, 0, 0)
    code = pyotp.TOTP(secret).at(at)
    assert code_is_right(secret, code, at=at)
    assert code_is_right(secret, code, at=at + timedelta(seconds=30))  # one step of drift
    assert not code_is_right(secret, code, at=at + timedelta(seconds=90))
    assert not code_is_right(secret, "12345", at=at)
    assert not code_is_right(secret, "abcdef", at=at)


def next_code(secret: str) -> str:
    """A right code the server has not seen: set-up used this step's, drift allows the next."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def turn_on(client) -> tuple[str, list[str]]:
    """Set up two-factor through the pages; (secret, recovery codes)."""
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert re.search(r'data-testid="totp-qr"[^>]*><svg ', page)  # an inline SVG made here
    (secret,) = SECRET_RE.findall(page)
    response = client.post("/account/two-factor", data={"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    codes = CODES_RE.findall(response.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def test_set_up_then_log_in_with_a_code(client, logged_in, auth):
    secret, codes = turn_on(client)
    user = db.session.get(User, logged_in.id)
    assert user.two_factor_enabled and user.totp_secret == secret
    stored = list(db.session.scalars(sa.select(RecoveryCode.code_hash)))
    assert len(stored) == 10 and not set(codes) & set(stored)  # only hashes are kept
    assert codes[0] not in client.get("/account/two-factor").get_data(as_text=True)

    auth.logout()
    response = client.post("/login", data={"email": logged_in.email, "password": PASSWORD})
    assert response.status_code == 303 and response.headers["Location"].endswith("/login/code")
    assert client.get("/account/").status_code == 302  # not logged in before the code
    response = client.post("/login/code", data={"code": next_code(secret)})
    assert response.status_code == 303
    assert client.get("/account/").status_code == 200


def test_wrong_code_refused_and_throttled(client, logged_in, auth):
    turn_on(client)
    auth.logout()
    client.post("/login", data={"email": logged_in.email, "password": PASSWORD})
    for _ in range(5):
        response = client.post("/login/code", data={"code": "000000"})
        assert response.status_code == 422
        assert "That code is not right." in response.get_data(as_text=True)
    assert client.post("/login/code", data={"code": "000000"}).status_code == 429
    assert client.get("/account/").status_code == 302
    actions = list(db.session.scalars(sa.select(SecurityEvent.action)))
    assert actions.count("login.failed_code") == 5


def test_a_recovery_code_works_once(client, logged_in, auth):
    _, codes = turn_on(client)
    auth.logout()
    client.post("/login", data={"email": logged_in.email, "password": PASSWORD})
    assert client.post("/login/code", data={"code": codes[3]}).status_code == 303
    auth.logout()
    client.post("/login", data={"email": logged_in.email, "password": PASSWORD})
    assert client.post("/login/code", data={"code": codes[3]}).status_code == 422
    assert second_factor_ok(db.session.get(User, logged_in.id), codes[4]) == "recovery"


def test_the_code_page_needs_a_password_first(client):
    response = client.get("/login/code")
    assert response.status_code == 303 and response.headers["Location"].endswith("/login")


def test_a_wrong_set_up_code_says_so(client, logged_in):
    client.get("/account/two-factor")
    response = client.post("/account/two-factor", data={"code": "000000"})
    assert response.status_code == 422
    assert "That code is not right" in response.get_data(as_text=True)
    assert not db.session.get(User, logged_in.id).two_factor_enabled


def test_turn_off_needs_the_password(client, logged_in):
    turn_on(client)
    client.post("/account/two-factor/disable", data={"password": "not it"})
    assert db.session.get(User, logged_in.id).two_factor_enabled
    client.post("/account/two-factor/disable", data={"password": PASSWORD})
    db.session.expire_all()
    assert not db.session.get(User, logged_in.id).two_factor_enabled
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode)) == 0


@pytest.mark.parametrize("app_overrides", [{"STAFF_REQUIRE_TWO_FACTOR": True}])
def test_support_console_needs_two_factor(client, auth, make_user):
    support = make_user(role="support")
    auth.login(support)
    response = client.get("/support/")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/account/two-factor")
    turn_on(client)
    assert client.get("/support/").status_code == 200
    from dashboard.models import AuditEvent

    assert "account.two_factor.enable" in set(db.session.scalars(sa.select(AuditEvent.action)))


def log_in_with_password(client, user) -> None:
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.headers["Location"].endswith("/login/code")


def test_a_code_works_once(client, logged_in, auth):
    secret, _ = turn_on(client)
    auth.logout()
    log_in_with_password(client, logged_in)
    set_up_code = pyotp.TOTP(secret).now()
    response = client.post("/login/code", data={"code": set_up_code})  # set-up used this one
    assert response.status_code == 422
    assert "That code was used already" in response.get_data(as_text=True)
    code = next_code(secret)
    assert client.post("/login/code", data={"code": code}).status_code == 303

    auth.logout()
    log_in_with_password(client, logged_in)
    for replayed in (code, set_up_code):  # the same code again, and the step before it
        response = client.post("/login/code", data={"code": replayed})
        assert response.status_code == 422
        assert "That code was used already" in response.get_data(as_text=True)
    assert client.get("/account/").status_code == 302


def test_a_code_step_is_claimed_once_per_account(logged_in):
    from dashboard.stamps import claim_totp_step

    user = db.session.get(User, logged_in.id)
    assert claim_totp_step(user, 1000)
    assert not claim_totp_step(user, 1000)
    assert not claim_totp_step(user, 999)
    assert claim_totp_step(user, 1001)


@pytest.mark.parametrize(
    "app_overrides", [{"TWO_FACTOR_RATE_LIMIT": "100/minute", "TWO_FACTOR_LOCKOUT": "10/hour"}]
)
def test_wrong_codes_lock_the_account_for_the_window(client, logged_in, auth):
    secret, _ = turn_on(client)
    auth.logout()
    log_in_with_password(client, logged_in)
    for _ in range(10):
        assert client.post("/login/code", data={"code": "000000"}).status_code == 422
    response = client.post("/login/code", data={"code": next_code(secret)})  # even a right one
    assert response.status_code == 429
    page = response.get_data(as_text=True)
    assert "Too many wrong codes for this account: try again in" in page
    assert 'name="code"' in page  # the form, with its message, not a bare error page
    assert client.get("/account/").status_code == 302

    other = client.application.test_client()  # another browser: the lock is the account's
    log_in_with_password(other, logged_in)
    assert other.post("/login/code", data={"code": next_code(secret)}).status_code == 429
