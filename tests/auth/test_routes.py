import pytest
import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.models import User
from tests.conftest import PASSWORD


def signup(client, email="new@example.com", password=PASSWORD):
    return client.post("/signup", data={"email": email, "password": password})


def test_signup_creates_the_account_and_offers_to_log_in(client, auth):
    response = signup(client, email="  New.Person@Example.COM ")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/signup/sent")
    user = db.session.scalar(sa.select(User))
    assert user.email == "new.person@example.com"
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert user.email_verified_at is None
    page = client.get("/signup/sent").get_data(as_text=True)
    assert "new.person@example.com" in page and "Check your inbox" in page
    auth.login(user)  # no need to confirm the address first
    page = client.get("/account/").get_data(as_text=True)
    assert 'data-testid="verify-banner"' in page


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("", PASSWORD, "Enter your email address."),
        ("not-an-email", PASSWORD, "Enter a valid email address"),
        ("a" * 250 + "@x.io", PASSWORD, "at most 254 characters"),
        ("ok@example.com", "short", "Use between 10 and 128 characters."),
        ("ok@example.com", "x" * 129, "Use between 10 and 128 characters."),
        ("ok@example.com", "", "Choose a password."),
    ],
)
def test_signup_rejects_bad_input_with_a_message(client, email, password, message):
    response = signup(client, email=email, password=password)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_signup_with_a_taken_email_makes_no_account_and_says_nothing_of_it(client, make_user):
    make_user("taken@example.com")
    response = signup(client, email="TAKEN@example.com")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/signup/sent")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_login_and_logout(client, user, auth):
    response = auth.login(user.email.upper())
    assert response.headers["Location"].endswith("/")
    assert client.get("/account/").status_code == 200
    assert db.session.get(User, user.id).last_login_at is not None
    auth.logout()
    response = client.get("/account/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_wrong_password_says_so(client, user):
    response = client.post("/login", data={"email": user.email, "password": "wrong password!"})
    assert response.status_code == 200
    assert "do not match an account" in response.get_data(as_text=True)
    assert client.get("/account/").status_code == 302


def test_unknown_email_gets_the_same_message(client):
    response = client.post("/login", data={"email": "nobody@example.com", "password": PASSWORD})
    assert "do not match an account" in response.get_data(as_text=True)


def test_disabled_account_cannot_log_in(client, make_user):
    user = make_user()
    user.is_disabled = True
    db.session.commit()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert "disabled" in response.get_data(as_text=True)
    assert client.get("/account/").status_code == 302


def test_login_redirects_only_to_local_next(client, user):
    ok = client.post("/login?next=/logs/", data={"email": user.email, "password": PASSWORD})
    assert ok.headers["Location"] == "/logs/"
    client.post("/logout")
    evil = client.post(
        "/login?next=//evil.example/x", data={"email": user.email, "password": PASSWORD}
    )
    assert "evil" not in evil.headers["Location"]


def test_login_is_throttled_per_email(client, user):
    for _ in range(5):
        client.post("/login", data={"email": user.email, "password": "wrong password!"})
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)


@pytest.mark.parametrize("app_overrides", [{"LOGIN_RATE_LIMIT_PER_IP": "3/minute"}])
def test_login_is_throttled_per_ip_across_emails(client):
    for n in range(3):
        client.post("/login", data={"email": f"x{n}@example.com", "password": "wrong password!"})
    response = client.post("/login", data={"email": "y@example.com", "password": PASSWORD})
    assert response.status_code == 429


def test_successful_logins_do_not_count_towards_the_throttle(client, user, auth):
    for _ in range(7):
        auth.login(user)
        auth.logout()


def test_login_starts_a_fresh_session(client, user):
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    client.post("/login", data={"email": user.email, "password": PASSWORD})
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"] == str(user.id)


def test_logout_needs_post(client, logged_in):
    assert client.get("/logout").status_code == 405
    assert client.get("/account/").status_code == 200


def test_home_sends_people_to_the_right_place(app, client, user, auth):
    assert 'id="portal-title"' in client.get("/").get_data(as_text=True)  # the portal's landing
    app.config["PORTAL_ENABLED"] = False
    assert "/login" in client.get("/").headers["Location"]
    app.config["PORTAL_ENABLED"] = True
    auth.login(user)
    assert "/usage/" in client.get("/").headers["Location"]


@pytest.mark.parametrize("app_overrides", [{"WTF_CSRF_ENABLED": True}])
def test_forms_refuse_posts_without_a_csrf_token(client, user):
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "expired or was sent from another site" in response.get_data(as_text=True)
    assert client.get("/account/").status_code == 302
