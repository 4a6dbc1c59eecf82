"""Nobody learns which addresses have accounts: same words, comparable time, throttles."""

import re
import time

import pytest

from dashboard.extensions import db
from tests.conftest import PASSWORD

CSRF = re.compile(r"[\w-]{20,}\.[\w-]{4,}\.[\w-]{20,}")


def login_page(client, email: str, password: str = "wrong password!!") -> str:
    response = client.post("/login", data={"email": email, "password": password})
    page = response.get_data(as_text=True).replace(email, "EMAIL")
    return CSRF.sub("CSRF", page)  # a token signed with the time, whoever asks


def test_log_in_answers_the_same_for_unknown_passwordless_and_wrong(client, make_user):
    known = make_user("known@example.com")
    passwordless = make_user("adopted@example.com")
    passwordless.password_hash = None
    db.session.commit()
    pages = {
        email: login_page(client, email)
        for email in (known.email, passwordless.email, "nobody@example.com")
    }
    assert len(set(pages.values())) == 1
    assert "That email and password do not match an account." in pages[known.email]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("app_overrides", [{"PASSWORD_HASH_FAST": False}])
def test_log_in_takes_as_long_without_a_password(client, make_user):
    """Real Argon2 costs: a passwordless account checks a dummy hash like a wrong password."""
    make_user("known@example.com")
    passwordless = make_user("adopted@example.com")
    passwordless.password_hash = None
    db.session.commit()

    def seconds(email: str) -> float:
        start = time.perf_counter()
        client.post("/login", data={"email": email, "password": "wrong password!!"})
        return time.perf_counter() - start

    wrong = min(seconds("known@example.com") for _ in range(2))
    for email in ("adopted@example.com", "nobody@example.com"):
        assert min(seconds(email) for _ in range(2)) > wrong / 2, email


def test_sign_up_is_throttled_per_email(client):
    for _ in range(3):
        assert (
            client.post(
                "/signup", data={"email": "a@example.com", "password": PASSWORD}
            ).status_code
            == 303
        )
    response = client.post("/signup", data={"email": "A@example.com", "password": PASSWORD})
    assert response.status_code == 429
    assert (
        client.post("/signup", data={"email": "b@example.com", "password": PASSWORD}).status_code
        == 303
    )


@pytest.mark.parametrize("app_overrides", [{"SIGNUP_RATE_LIMIT_PER_IP": "2/hour"}])
def test_sign_up_is_throttled_per_ip(client):
    for n in range(2):
        client.post("/signup", data={"email": f"x{n}@example.com", "password": PASSWORD})
    response = client.post("/signup", data={"email": "y@example.com", "password": PASSWORD})
    assert response.status_code == 429


def test_reset_is_throttled_per_email(client, user):
    for _ in range(3):
        assert client.post("/password/forgot", data={"email": user.email}).status_code == 303
    assert client.post("/password/forgot", data={"email": user.email}).status_code == 429


@pytest.mark.parametrize("app_overrides", [{"RESET_RATE_LIMIT_PER_IP": "2/hour"}])
def test_reset_is_throttled_per_ip(client):
    for n in range(2):
        client.post("/password/forgot", data={"email": f"x{n}@example.com"})
    assert client.post("/password/forgot", data={"email": "y@example.com"}).status_code == 429
