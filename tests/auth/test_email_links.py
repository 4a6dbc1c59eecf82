"""Email verification, password reset and email change, through a real SMTP server."""

import pytest
import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.models import SecurityEvent, User
from tests.auth.test_enumeration import CSRF
from tests.conftest import PASSWORD, AuthActions
from tests.mail_server import smtp_server  # noqa: F401 (fixture)

NEW_PASSWORD = "a brand new secret"


@pytest.fixture
def app_overrides(smtp_server):  # noqa: F811
    _, port = smtp_server
    # Jobs (the reset mail) run inside the request here; tests/auth/test_reset_by_job.py
    # proves the request only queues it.
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "QUEUE_URL": "immediate://"}


@pytest.fixture
def inbox(smtp_server):  # noqa: F811
    return smtp_server[0]


def signup(client, email, password=PASSWORD):
    return client.post("/signup", data={"email": email, "password": password})


def reload(user) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def actions(user) -> list[str]:
    query = sa.select(SecurityEvent.action).where(SecurityEvent.user_id == user.id)
    return list(db.session.scalars(query))


def test_sign_up_then_confirm_by_the_emailed_link(client, inbox, auth):
    signup(client, "ana@example.com")
    message = inbox.last_to("ana@example.com")
    assert message["Subject"] == "Confirm your email address"
    user = db.session.scalar(sa.select(User))
    auth.login(user)
    assert 'data-testid="verify-banner"' in client.get("/keys/").get_data(as_text=True)
    response = client.get(inbox.link_to("ana@example.com"))
    assert response.status_code == 303
    assert reload(user).email_verified_at is not None
    page = client.get("/keys/").get_data(as_text=True)
    assert "is confirmed" in page and 'data-testid="verify-banner"' not in page
    assert "email.verify" in actions(user)


def test_sign_up_answers_the_same_for_a_taken_address(client, inbox, make_user):
    make_user("taken@example.com")
    answers = []
    for email in ("taken@example.com", "free@example.com"):
        response = signup(client, email)
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        answers.append(
            (
                response.status_code,
                response.headers["Location"],
                CSRF.sub("CSRF", page.replace(email, "EMAIL")),
            )
        )
    assert answers[0] == answers[1]
    assert inbox.last_to("taken@example.com")["Subject"].startswith("Someone tried to sign up")
    assert inbox.last_to("free@example.com")["Subject"] == "Confirm your email address"


def test_resend_the_confirmation(client, inbox, logged_in):
    response = client.post("/verify/resend")
    assert response.status_code == 303
    assert inbox.last_to(logged_in.email)["Subject"] == "Confirm your email address"


@pytest.mark.parametrize("reason", ["tampered", "used"])
def test_bad_verification_links_get_a_clear_page(client, inbox, logged_in, reason):
    client.post("/verify/resend")
    link = inbox.link_to(logged_in.email)
    if reason == "tampered":
        link = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    else:
        user = reload(logged_in)
        user.email = "changed@example.com"
        db.session.commit()
    response = client.get(link)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'data-testid="link-problem"' in page
    assert "Email me a new link" in page


def forgot(client, email):
    return client.post("/password/forgot", data={"email": email})


def test_reset_journey_ends_every_session(app, client, inbox, user):
    other = app.test_client()
    AuthActions(other).login(user)
    response = forgot(client, user.email)
    assert response.status_code == 303
    link = inbox.link_to(user.email)
    assert "/password/reset/" in link
    assert "Choose a new password" in client.get(link).get_data(as_text=True)
    response = client.post(link, data={"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.status_code == 303
    assert other.get("/account/").status_code == 302  # logged out
    AuthActions(client).login(user, NEW_PASSWORD)
    assert "password.reset" in actions(user)
    assert reload(user).email_verified_at is not None

    again = client.get(link)  # single use
    assert again.status_code == 400
    assert "already used" in again.get_data(as_text=True)
    assert "Email me a new link" in again.get_data(as_text=True)


def test_reset_answers_the_same_for_unknown_addresses(client, inbox, user):
    pages = []
    for email in (user.email, "nobody@example.com"):
        response = forgot(client, email)
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        pages.append((response.status_code, CSRF.sub("CSRF", page.replace(email, "EMAIL"))))
    assert pages[0] == pages[1]
    assert [m["To"] for m in inbox.messages] == [user.email]


def test_reset_link_checks_the_new_password(client, inbox, user):
    forgot(client, user.email)
    link = inbox.link_to(user.email)
    response = client.post(link, data={"password": "short", "confirm_password": "short"})
    assert response.status_code == 200
    assert "Use between 10 and 128 characters." in response.get_data(as_text=True)


def test_an_expired_reset_link_offers_a_new_one(app, client, inbox, user):
    forgot(client, user.email)
    link = inbox.link_to(user.email)
    app.config["PASSWORD_RESET_MINUTES"] = -1  # every link is now past its time
    response = client.get(link)
    assert response.status_code == 400
    assert "This link has expired" in response.get_data(as_text=True)
    assert client.get("/password/reset/garbage").status_code == 400


def test_an_adopted_account_without_password_sets_one_by_reset(client, inbox, user):
    user.password_hash = None
    db.session.commit()
    bad = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert "do not match" in bad.get_data(as_text=True)
    forgot(client, user.email)
    link = inbox.link_to(user.email)
    client.post(link, data={"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    AuthActions(client).login(user, NEW_PASSWORD)


def test_change_of_email_confirmed_from_the_new_address(client, inbox, logged_in):
    reload(logged_in).email_verified_at = sa.func.now()
    db.session.commit()
    old = logged_in.email
    response = client.post(
        "/account/email",
        data={"change-new_email": "New@Example.com", "change-password": PASSWORD},
    )
    assert response.status_code == 303
    assert inbox.last_to(old)["Subject"] == "Your email address is about to change"
    link = inbox.link_to("new@example.com")
    assert reload(logged_in).email == old  # not before the link is opened
    assert client.get(link).status_code == 303
    assert reload(logged_in).email == "new@example.com"
    assert inbox.last_to(old)["Subject"] == "Your email address was changed"
    assert "email.change" in actions(logged_in)
    assert client.get(link).status_code == 400  # used


def test_change_of_email_waits_for_a_confirmed_address(client, inbox, logged_in):
    response = client.post(
        "/account/email",
        data={"change-new_email": "new@example.com", "change-password": PASSWORD},
    )
    assert response.status_code == 422
    assert "Confirm your current address first" in response.get_data(as_text=True)
    assert inbox.messages == []


def test_mail_server_down_does_not_break_sign_up(app, client, inbox):
    app.config["MAIL_PORT"] = 1  # nothing listens there
    response = signup(client, "ana@example.com")
    assert response.status_code == 303
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def ask_for_email_change(client, inbox, user, new_email: str = "attacker@example.com") -> str:
    """Request an email change from a logged-in client; the emailed link's path."""
    reload(user).email_verified_at = sa.func.now()
    db.session.commit()
    response = client.post(
        "/account/email", data={"change-new_email": new_email, "change-password": PASSWORD}
    )
    assert response.status_code == 303
    return inbox.link_to(new_email)


def change_password(app, client, inbox, user) -> None:
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert response.status_code == 303


def log_out_everywhere_else(app, client, inbox, user) -> None:
    assert client.post("/account/sessions/end-others").status_code == 303


def reset_password(app, client, inbox, user) -> None:
    other = app.test_client()
    forgot(other, user.email)
    link = inbox.link_to(user.email)
    response = other.post(link, data={"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.status_code == 303


@pytest.mark.parametrize("step", [change_password, log_out_everywhere_else, reset_password])
def test_a_pending_email_change_dies_with_the_steps_its_notice_names(
    app, client, inbox, logged_in, step
):
    """Someone with the session asks to move the account to their address; the owner follows
    the notice (change the password, log out everywhere): the link, opened after, does nothing."""
    link = ask_for_email_change(client, inbox, logged_in)
    old = logged_in.email
    step(app, client, inbox, logged_in)
    attacker = app.test_client()
    response = attacker.get(link)
    assert response.status_code == 400
    assert "This link was cancelled" in response.get_data(as_text=True)
    assert reload(logged_in).email == old
    assert "email.change" not in actions(logged_in)


def test_a_reset_link_dies_when_every_other_session_is_logged_out(app, client, inbox, logged_in):
    forgot(app.test_client(), logged_in.email)
    link = inbox.link_to(logged_in.email)
    assert client.post("/account/sessions/end-others").status_code == 303
    response = app.test_client().post(
        link, data={"password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    )
    assert response.status_code == 400
    assert "This link was cancelled" in response.get_data(as_text=True)
    AuthActions(app.test_client()).login(logged_in, PASSWORD)  # the password did not change


def test_links_sent_after_a_cancellation_work(app, client, inbox, logged_in):
    assert client.post("/account/sessions/end-others").status_code == 303
    link = ask_for_email_change(client, inbox, logged_in, "new@example.com")
    assert client.get(link).status_code == 303
    assert reload(logged_in).email == "new@example.com"
