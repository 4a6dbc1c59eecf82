"""The account page's choice of what a leak report does to the person's own keys."""

import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.models import AuditEvent
from dashboard.organisations.settings import leaked_key_action
from tests.conftest import csrf_token


def test_a_person_chooses_to_keep_leaked_keys_working_and_back(app, client, logged_in):
    page = client.get("/account/").get_data(as_text=True)
    assert 'id="leaked-keys-heading"' in page
    assert '<option selected value="expire">' in page  # the default
    saved = client.post("/account/leaked-keys", data={"leaked_key_action": "alert"})
    assert saved.status_code == 303
    assert saved.headers["Location"].endswith("/account/#leaked-keys")
    assert leaked_key_action(logged_in.id) == "alert"
    page = client.get("/account/").get_data(as_text=True)
    assert '<option selected value="alert">' in page
    (event,) = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "account.settings")
    )
    assert event.actor_id == logged_in.id == event.subject_id
    client.post("/account/leaked-keys", data={"leaked_key_action": "expire"})
    assert leaked_key_action(logged_in.id) == "expire"


def test_an_unknown_choice_changes_nothing(client, logged_in):
    client.post("/account/leaked-keys", data={"leaked_key_action": "alert"})
    refused = client.post(
        "/account/leaked-keys", data={"leaked_key_action": "shrug"}, follow_redirects=True
    )
    assert "Not a valid choice" in refused.get_data(as_text=True)
    assert leaked_key_action(logged_in.id) == "alert"


def test_the_form_carries_its_csrf_token(app, make_user, auth, client):
    app.config["WTF_CSRF_ENABLED"] = True
    person = make_user()
    auth.login(person)
    client.post("/account/leaked-keys", data={"leaked_key_action": "alert"})
    assert leaked_key_action(person.id) == "expire"
    token = csrf_token(client, "/account/")
    saved = client.post(
        "/account/leaked-keys", data={"leaked_key_action": "alert", "csrf_token": token}
    )
    assert saved.status_code == 303
    assert leaked_key_action(person.id) == "alert"
