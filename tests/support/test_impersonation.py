"""Viewing as a customer: starting, the banner, ending three ways, and the audit rows."""

import contextvars
import csv
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.api.metering import record_rejection
from dashboard.extensions import db
from dashboard.models import Impersonation, User, utcnow
from tests.conftest import AuthActions
from tests.support.conftest import REASON, events, make_call, start_viewing


def session_of(client) -> dict:
    with client.session_transaction() as session:
        return dict(session)


def open_views() -> list[Impersonation]:
    db.session.expire_all()
    return list(
        db.session.scalars(sa.select(Impersonation).where(Impersonation.ended_at.is_(None)))
    )


def only_view() -> Impersonation:
    db.session.expire_all()
    (viewing,) = db.session.scalars(sa.select(Impersonation))
    return viewing


def test_start_acts_as_the_customer_and_shows_the_banner(client, auth, support, customer):
    auth.login(support)
    response = start_viewing(client, customer)
    assert response.status_code == 303
    state = session_of(client)
    assert state["_user_id"] == str(support.id)  # Flask-Login still knows the support person
    assert not any(key.startswith("impersonat") for key in state)  # the state is on the server
    viewing = only_view()
    assert (viewing.actor_id, viewing.subject_id, viewing.reason) == (
        support.id,
        customer.id,
        REASON,
    )
    assert str(viewing.session_id) == state["account_session_id"]
    page = client.get("/account/").get_data(as_text=True)
    assert 'data-testid="plan-name">Pro<' in page  # the customer's plan, not the support person's
    assert f'data-testid="impersonated-email">{customer.email}<' in page
    assert "impersonated-email" in page
    assert 'href="/support/"' not in page  # no console link while viewing


def test_start_writes_an_audit_row(client, auth, support, customer):
    auth.login(support)
    start_viewing(client, customer)
    (event,) = events("impersonation.start")
    assert (event.actor_id, event.actor_email) == (support.id, support.email)
    assert (event.subject_id, event.subject_email) == (customer.id, customer.email)
    assert event.details == {"reason": REASON, "impersonation_id": str(only_view().id)}
    assert event.ip == "127.0.0.1"
    assert abs(event.created_at - utcnow()) < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "Say why you need to view as this customer."),
        ("   ", "Say why you need to view as this customer."),
        ("abcd", "Write between 5 and 500 characters."),
        ("x" * 501, "Write between 5 and 500 characters."),
    ],
)
def test_a_reason_of_5_to_500_characters_is_required(
    client, auth, support, customer, reason, message
):
    auth.login(support)
    response = start_viewing(client, customer, reason)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert open_views() == []
    assert events() == []


def test_reasons_of_exactly_5_and_500_characters_work(client, auth, support, customer):
    auth.login(support)
    assert start_viewing(client, customer, "x" * 500).status_code == 303
    client.post("/support/impersonation/end")
    assert start_viewing(client, customer, "12345").status_code == 303


@pytest.mark.parametrize("target", ["admin", "other_support", "self"])
def test_nobody_views_as_staff_or_themselves(client, auth, support, make_user, request, target):
    subject = {
        "admin": lambda: request.getfixturevalue("admin"),
        "other_support": lambda: make_user(role="support"),
        "self": lambda: support,
    }[target]()
    auth.login(support)
    response = start_viewing(client, subject)
    assert response.status_code == 403
    assert "view as" in response.get_data(as_text=True)
    assert open_views() == []
    assert events() == []


def test_super_admins_cannot_view_as_a_super_admin_either(client, auth, admin, make_user):
    other = make_user()
    from dashboard.models import SuperAdmin

    db.session.add(SuperAdmin(user_id=other.id))
    db.session.commit()
    auth.login(admin)
    assert start_viewing(client, other).status_code == 403


def test_super_admins_can_view_as_a_customer(client, auth, admin, customer):
    auth.login(admin)
    assert start_viewing(client, customer).status_code == 303
    assert customer.email in client.get("/account/").get_data(as_text=True)


def test_disabled_accounts_cannot_be_viewed_as(client, auth, support, customer):
    customer.is_disabled = True
    db.session.commit()
    auth.login(support)
    response = start_viewing(client, customer)
    assert response.status_code == 403
    assert "disabled" in response.get_data(as_text=True)


@pytest.mark.parametrize("user_id", ["00000000-0000-0000-0000-000000000000", "garbage", "1 OR 1=1"])
def test_forged_ids_answer_404(client, auth, support, user_id):
    auth.login(support)
    response = client.post(f"/support/users/{user_id}/impersonate", data={"reason": REASON})
    assert response.status_code == 404
    assert "No account has that id" in response.get_data(as_text=True)
    assert events() == []


def test_end_button_goes_back_to_the_console_and_audits(client, viewing, support):
    response = client.post("/support/impersonation/end")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/support/users/{viewing.id}"
    assert open_views() == []
    assert only_view().ended_how == "button"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"You stopped viewing as {viewing.email}." in page
    assert "impersonated-email" not in page
    (end,) = events("impersonation.end")
    assert end.details["how"] == "button"
    assert end.details["reason"] == REASON
    assert (end.actor_id, end.subject_id) == (support.id, viewing.id)


def test_end_when_not_viewing(client, auth, support):
    auth.login(support)
    response = client.post("/support/impersonation/end", follow_redirects=True)
    assert "You were not viewing as anyone." in response.get_data(as_text=True)
    assert events() == []


def test_logout_ends_viewing_and_audits(client, viewing, support):
    response = client.post("/logout")
    assert response.status_code == 303
    assert "_user_id" not in session_of(client)
    assert only_view().ended_how == "logout"
    (end,) = events("impersonation.end")
    assert end.details["how"] == "logout"
    assert end.actor_id == support.id
    assert client.get("/account/").status_code == 302  # logged out entirely


def expire_the_view(client, minutes: int = 31) -> None:
    viewing = only_view()
    viewing.started_at = utcnow() - timedelta(minutes=minutes)
    viewing.ends_at = viewing.started_at + timedelta(minutes=30)
    db.session.commit()


def test_expiry_ends_on_the_next_request(client, viewing, support):
    expire_the_view(client)
    response = client.get("/logs/")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/support/users/{viewing.id}"
    assert open_views() == []
    (end,) = events("impersonation.end")
    assert end.details["how"] == "expired"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "ended by itself after 30 minutes" in page
    assert "impersonated-email" not in page


def test_just_before_expiry_still_viewing(client, viewing):
    expire_the_view(client, minutes=29)
    assert "impersonated-email" in client.get("/logs/").get_data(as_text=True)


def test_expiry_with_htmx_redirects_through_a_header(client, viewing):
    expire_the_view(client)
    response = client.get("/logs/", headers={"HX-Request": "true"})
    assert response.headers["HX-Redirect"] == f"/support/users/{viewing.id}"


def test_expiry_follows_the_configured_minutes(app, client, auth, support, customer):
    app.config["IMPERSONATION_MINUTES"] = 0
    auth.login(support)
    start_viewing(client, customer)
    response = client.get("/account/")
    assert response.status_code == 303
    assert events("impersonation.end")[0].details["how"] == "expired"


def test_an_expired_write_is_not_replayed_as_the_support_person(client, viewing, support):
    expire_the_view(client)
    response = client.post("/account/delete", data={"confirm_email": support.email})
    assert response.status_code == 303
    assert db.session.get(User, support.id) is not None


def test_logout_after_expiry_still_logs_out(client, viewing):
    expire_the_view(client)
    client.post("/logout")
    assert client.get("/account/").status_code == 302
    assert [e.details["how"] for e in events("impersonation.end")] == ["expired"]


def test_losing_the_support_role_ends_viewing(client, viewing, support):
    support.role = "user"
    db.session.commit()
    response = client.get("/account/")
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert events("impersonation.end")[0].details["how"] == "invalid"
    page = client.get("/account/").get_data(as_text=True)
    assert support.email in page and "impersonated-email" not in page


def test_viewing_belongs_to_one_session_of_the_support_person(app, client, viewing, support):
    """Another browser of the same support person is not viewing as anyone."""
    other = app.test_client()
    AuthActions(other).login(support)
    page = other.get("/account/").get_data(as_text=True)
    assert "impersonated-email" not in page and support.email in page
    assert len(open_views()) == 1  # and it did not end the first browser's viewing


def test_starting_to_view_rotates_the_session_id(app, client, auth, support, customer):
    auth.login(support)
    before = client.get_cookie("session").value
    assert start_viewing(client, customer).status_code == 303
    assert client.get_cookie("session").value != before
    replay = app.test_client()
    replay.set_cookie("session", before)
    assert replay.get("/account/").status_code == 302  # to the log-in page
    assert "impersonated-email" in client.get("/keys/").get_data(as_text=True)


def test_a_saved_cookie_stops_working_after_end(app, client, viewing, support, customer_key):
    saved = client.get_cookie("session").value
    client.post("/support/impersonation/end")
    assert client.get_cookie("session").value != saved
    replay = app.test_client()
    replay.set_cookie("session", saved)
    response = replay.get("/keys/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    page = client.get("/keys/").get_data(as_text=True)  # the support person goes on, as themselves
    assert "impersonated-email" not in page and customer_key[0].prefix not in page


def test_expiry_rotates_the_session_id(app, client, viewing):
    saved = client.get_cookie("session").value
    expire_the_view(client)
    client.get("/keys/")
    assert client.get_cookie("session").value != saved
    replay = app.test_client()
    replay.set_cookie("session", saved)
    assert replay.get("/keys/").status_code == 302


def test_a_saved_cookie_is_refused_after_end_and_log_out(app, client, viewing):
    saved = client.get_cookie("session").value
    client.post("/support/impersonation/end")
    client.post("/logout")
    replay = app.test_client()
    replay.set_cookie("session", saved)
    assert replay.get("/logs/").status_code == 302  # to the log-in page
    assert replay.get("/account/").status_code == 302


def test_logging_out_everywhere_ends_viewing_in_the_other_browser(app, client, viewing, support):
    other = app.test_client()
    AuthActions(other).login(support)
    assert other.post("/account/sessions/end-others").status_code == 303
    assert open_views() == []
    assert client.get("/account/").status_code == 302


def test_reads_while_viewing_are_audited_with_the_viewing_record(client, viewing):
    client.get("/logs/")
    (read,) = [e for e in events("impersonation.read") if e.details["path"] == "/logs/"]
    assert read.details["impersonation_id"] == str(only_view().id)
    assert read.subject_id == viewing.id


def test_the_customer_sees_support_access_on_their_account_page(client, viewing, support, auth):
    client.post("/support/impersonation/end")
    auth.logout()
    auth.login(viewing)
    page = client.get("/account/").get_data(as_text=True)
    assert f"Support ({support.email})" in page
    assert REASON in page
    assert "viewed your account" in page


def test_no_support_access_yet(client, logged_in):
    page = client.get("/account/").get_data(as_text=True)
    assert "Support has not viewed your account." in page


def test_support_access_lists_only_this_customer(client, auth, support, customer, make_user):
    other = make_user()
    auth.login(support)
    start_viewing(client, other, "About the other account")
    client.post("/support/impersonation/end")
    auth.logout()
    auth.login(customer)
    page = client.get("/account/").get_data(as_text=True)
    assert "About the other account" not in page


def outside_the_tests_app_context(request):
    """Run `request()` as production runs a request: with no app context already open.

    The `app` fixture keeps one app context open, which Flask reuses for the test client's
    requests, so the database session outlives each request and hides what a streamed response
    meets in production: the request's session is gone before the body is sent. A fresh
    contextvars.Context has no app context, so the request pushes (and tears down) its own.
    """
    return contextvars.Context().run(request)


@pytest.mark.parametrize("status", ["", "rejected"])
def test_the_csv_export_arrives_whole_while_viewing(client, viewing, customer_key, status):
    key, _ = customer_key
    for _ in range(3):
        make_call(viewing, key)
    for _ in range(2):
        record_rejection(user_id=viewing.id, api_key_id=key.id, tool_name="echo", reason="quota")

    def export():
        response = client.get("/logs/export.csv", query_string={"status": status})
        return response.status_code, response.get_data(as_text=True)

    code, body = outside_the_tests_app_context(export)
    assert code == 200
    header, *rows = list(csv.reader(io.StringIO(body)))
    assert header[:3] == ["created_at", "request_id", "tool"]
    if status == "rejected":
        assert [(row[4], row[-2]) for row in rows] == [("rejected", "2")]
    else:
        assert len(rows) == 3 and {row[6] for row in rows} == {key.name}
    assert body.endswith("\r\n")
    assert events("impersonation.read")[-1].details["path"] == "/logs/export.csv"
