"""Forgot-password does the same work for every address: it queues one job, and only the job
(on the worker) looks the address up and talks to the mail server."""

import pytest

from dashboard.extensions import db
from tests.auth.test_enumeration import CSRF
from tests.jobs_queue import queued, run_queued
from tests.mail_server import smtp_server  # noqa: F401 (fixture)


@pytest.fixture
def app_overrides(smtp_server):  # noqa: F811
    _, port = smtp_server
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port}  # and the tests' memory:// queue


@pytest.fixture
def inbox(smtp_server):  # noqa: F811
    return smtp_server[0]


def forgot(client, email: str):
    """Post the form; (status, where it sends, the page there with the address blanked)."""
    response = client.post("/password/forgot", data={"email": email})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    return (
        response.status_code,
        response.headers["Location"],
        CSRF.sub("", page.replace(email, "EMAIL")),
    )


def test_known_and_unknown_addresses_queue_the_same_job_and_mail_nothing(app, client, inbox, user):
    answers = []
    for email in (user.email, "nobody@example.com"):
        before = queued(app)
        answers.append(forgot(client, email))
        assert queued(app) == [*before, ("send_reset_link", (email,))]  # one job, nothing else
    assert answers[0] == answers[1]
    assert inbox.messages == []  # neither request reached the mail server

    assert run_queued(app, "send_reset_link") == 2  # as the worker does
    assert [m["To"] for m in inbox.messages] == [user.email]  # the job mailed the account only
    assert inbox.last_to(user.email)["Subject"] == "Set a new password"
    assert inbox.link_to(user.email).startswith("/password/reset/")


def test_the_job_mails_no_disabled_account(app, client, inbox, user):
    user.is_disabled = True
    db.session.commit()
    forgot(client, user.email)
    assert run_queued(app, "send_reset_link") == 1
    assert inbox.messages == []


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("app_overrides", [{"QUEUE_URL": "redis://127.0.0.1:1"}])
def test_a_queue_that_is_down_answers_as_always(client, user):
    status, location, page = forgot(client, user.email)
    assert (status, location) == (303, "/password/forgot")
    assert "we sent it a link" in page
