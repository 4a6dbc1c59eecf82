import sqlalchemy as sa

from dashboard.api.metering import record_call
from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import ApiKey, ToolLog, UsageDaily, UsageSummary, User
from tests.conftest import PASSWORD


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_account_page_shows_plan_and_limits(client, make_user, auth):
    user = make_user(plan="pro")
    auth.login(user)
    page = client.get("/account/").get_data(as_text=True)
    assert 'data-testid="plan-name">Pro<' in page
    assert "100,000" in page  # the pro plan's monthly calls
    assert "90 days" in page


def test_account_page_needs_login(client):
    response = client.get("/account/")
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]


def test_change_password(client, logged_in, auth):
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a brand new secret",
            "confirm_password": "a brand new secret",
        },
    )
    assert response.status_code == 303
    auth.logout()
    bad = client.post("/login", data={"email": logged_in.email, "password": PASSWORD})
    assert "do not match" in bad.get_data(as_text=True)
    auth.login(logged_in, "a brand new secret")


def test_change_password_needs_the_current_one(client, logged_in):
    response = client.post(
        "/account/password",
        data={
            "current_password": "not my password",
            "new_password": "a brand new secret",
            "confirm_password": "a brand new secret",
        },
    )
    assert response.status_code == 422
    assert "not your current password" in response.get_data(as_text=True)


def test_change_password_checks_the_new_one(client, logged_in):
    response = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": "short", "confirm_password": "other"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Use between 10 and 128 characters." in page
    assert "The two new passwords differ." in page


def test_delete_account_removes_everything_by_cascade(client, logged_in, make_user):
    other = make_user()
    for owner in (logged_in, other):
        key, _ = create_key(owner, "k")
        record_call(
            user_id=owner.id,
            api_key_id=key.id,
            tool_name="echo",
            tool_version="v1",
            input_payload={"message": "hi"},
            output_payload={"echo": "hi"},
            status="success",
            execution_time_ms=3,
            tokens_used=4,
        )
    response = client.post(
        "/account/delete", data={"confirm_email": logged_in.email, "password": PASSWORD}
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(User, logged_in.id) is None
    # Only the other account's rows are left.
    assert count(ApiKey) == count(ToolLog) == count(UsageSummary) == count(UsageDaily) == 1
    assert client.get("/account/").status_code == 302


def test_delete_account_needs_email_and_password(client, logged_in):
    wrong_email = client.post(
        "/account/delete", data={"confirm_email": "x@example.com", "password": PASSWORD}
    )
    assert "not this account" in wrong_email.get_data(as_text=True)
    wrong_password = client.post(
        "/account/delete", data={"confirm_email": logged_in.email, "password": "nope nope nope"}
    )
    assert "not your password" in wrong_password.get_data(as_text=True)
    assert db.session.get(User, logged_in.id) is not None
