"""Key lifecycle events (key.created, key.rolled, key.expired, key.deleted, key.quota_reached):
made by real requests on the keys page, by an organisation's member and by support viewing as a
customer, delivered by the real queue to a real receiver, signed, with the actor who acted."""

import json
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook

from dashboard.alerts import key_events, tasks
from dashboard.alerts.events import EVENT_TYPES, KEY_EVENTS
from dashboard.alerts.key_events import SYSTEM, Actor
from dashboard.alerts.service import save_settings
from dashboard.extensions import db
from dashboard.jobs import jobs
from dashboard.keys.root import create_root_key
from dashboard.keys.service import create_key, expire_key, playground_key, roll_key
from dashboard.models import AlertEvent, ApiKey, RootKey, WebhookDelivery, utcnow
from dashboard.organisations.roles import Role
from dashboard.organisations.service import create_organisation
from dashboard.webhooks import service as webhooks
from tests.alerts.conftest import wait_for
from tests.conftest import AuthActions
from tests.organisations.conftest import join
from tests.support.conftest import start_viewing


def deliveries(count: int):
    """Wait for `count` succeeded deliveries; them, oldest first."""

    def check():
        query = (
            sa.select(WebhookDelivery)
            .where(WebhookDelivery.status == "succeeded")
            .order_by(WebhookDelivery.created_at)
        )
        found = list(db.session.scalars(query))
        return found if len(found) >= count else None

    return wait_for(check, what=f"{count} deliveries")


def received(receiver, secret) -> dict:
    """The events the receiver got, verified with the endpoint's secret, by type."""
    events = [Webhook(secret).verify(body, headers) for headers, body in receiver.received]
    return {event["type"]: event for event in events}


def alerts_of(account_id, event_type=None) -> list[AlertEvent]:
    query = sa.select(AlertEvent).where(AlertEvent.user_id == account_id)
    if event_type:
        query = query.where(AlertEvent.event_type == event_type)
    return list(db.session.scalars(query))


def newest_key(account_id) -> ApiKey:
    query = sa.select(ApiKey).where(ApiKey.user_id == account_id)
    return db.session.scalars(query.order_by(ApiKey.created_at.desc())).first()


@pytest.fixture
def acme(make_user):
    return create_organisation(make_user("owner@example.com"), "Acme")


@pytest.fixture
def support(make_user):
    return make_user(role="support")


CREATE = {"name": "production", "expiry": "never", "rate_limit_per_minute": "100"}


def test_the_endpoint_form_offers_the_key_events_and_saves_them(client, logged_in, receiver):
    page = client.get("/webhooks/").get_data(as_text=True)
    for event_type in KEY_EVENTS:
        assert f'value="{event_type}"' in page and EVENT_TYPES[event_type] in page
    data = {"url": receiver.url, "event_types": ["key.created", "key.expired"]}
    assert client.post("/webhooks/", data=data).status_code == 303
    (endpoint,) = webhooks.endpoints_of(logged_in.id)
    assert endpoint.event_types == ["key.created", "key.expired"]


def test_create_roll_and_expire_on_the_page_send_signed_events_naming_the_person(
    client, logged_in, worker, receiver, mailbox
):
    _, secret = webhooks.create_endpoint(logged_in.id, receiver.url, "", list(KEY_EVENTS))
    assert client.post("/keys/", data=CREATE).status_code == 303
    key = newest_key(logged_in.id)
    assert client.post(f"/keys/{key.id}/roll", data={"grace": "1h"}).status_code == 303
    successor = newest_key(logged_in.id)
    assert client.post(f"/keys/{successor.id}/expire").status_code == 303

    stored = {d.event_type: d.payload for d in deliveries(3)}
    events = received(receiver, secret)
    assert set(events) == {"key.created", "key.rolled", "key.expired"}
    assert events == stored  # what was signed and sent is what the delivery log shows
    person = {"type": "member", "id": str(logged_in.id), "email": logged_in.email}
    created, rolled, expired = (
        events[t]["data"] for t in ("key.created", "key.rolled", "key.expired")
    )
    assert created == {
        "key": {"id": str(key.id), "prefix": key.prefix, "name": "production"},
        "actor": person,
        "expires_at": None,
    }
    assert rolled["key"]["id"] == str(key.id) and rolled["actor"] == person
    assert rolled["successor"] == {
        "id": str(successor.id),
        "prefix": successor.prefix,
        "name": "production",
    }
    assert rolled["grace_ends_at"].endswith("Z")
    assert expired["key"]["id"] == str(successor.id) and expired["actor"] == person
    assert expired["reason"] == "expired_now" and expired["expired_at"].endswith("Z")
    # Lifecycle events are listed on the Alerts page but never emailed.
    assert {a.email_status for a in alerts_of(logged_in.id)} == {None}
    page = client.get("/alerts/").get_data(as_text=True)
    assert "key.rolled" in page and f"{key.prefix}…</span>) · by {logged_in.email}" in page
    assert "Key events are always listed here" in page
    assert mailbox.messages == []


def test_expiring_twice_or_a_playground_key_raises_nothing_more(client, logged_in, worker):
    key, _ = create_key(logged_in, "k")
    assert client.post(f"/keys/{key.id}/expire").status_code == 303
    assert client.post(f"/keys/{key.id}/expire").status_code == 303  # "already expired"
    expire_key(db.session.get(ApiKey, key.id), actor=SYSTEM)  # e.g. a retried API call
    assert len(alerts_of(logged_in.id, "key.expired")) == 1
    playground, _ = playground_key(logged_in)
    assert client.post(f"/keys/{playground.id}/expire").status_code == 303
    assert len(alerts_of(logged_in.id)) == 1


def test_an_organisation_members_change_names_them_on_the_organisations_events(
    app, acme, make_user, worker, receiver
):
    developer = make_user("dev@example.com")
    join(acme, developer, Role.DEVELOPER)
    _, secret = webhooks.create_endpoint(acme.user_id, receiver.url, "", ["key.created"])
    client = app.test_client()
    AuthActions(client).login(developer)
    answer = client.post("/accounts/switch", data={"account": str(acme.user_id), "next": "/keys/"})
    assert answer.status_code == 303

    assert client.post("/keys/", data={**CREATE, "name": "CI"}).status_code == 303

    (delivery,) = deliveries(1)
    assert delivery.user_id == acme.user_id
    event = received(receiver, secret)["key.created"]
    key = newest_key(acme.user_id)
    assert event["data"]["key"]["id"] == str(key.id) and event["data"]["key"]["name"] == "CI"
    assert event["data"]["actor"] == {
        "type": "member",
        "id": str(developer.id),
        "email": "dev@example.com",
    }
    assert alerts_of(developer.id) == []  # the organisation's event, not the person's


def test_support_expiring_a_key_while_viewing_is_named_as_support(
    client, auth, support, user, worker, receiver
):
    key, _ = create_key(user, "Leaked key")
    _, secret = webhooks.create_endpoint(user.id, receiver.url, "", ["key.expired"])
    auth.login(support)
    assert start_viewing(client, user).status_code == 303

    assert client.post(f"/keys/{key.id}/expire").status_code == 303

    deliveries(1)
    data = received(receiver, secret)["key.expired"]["data"]
    assert data["actor"] == {"type": "support", "id": str(support.id), "email": support.email}
    assert data["key"]["prefix"] == key.prefix and data["reason"] == "expired_now"


def test_the_management_api_names_the_root_key(client, user, worker, receiver):
    root_key, root_secret = create_root_key(user, user, "Terraform", ["keys:read", "keys:write"])
    _, secret = webhooks.create_endpoint(user.id, receiver.url, "", list(KEY_EVENTS))
    auth = {"Authorization": f"Bearer {root_secret}"}
    create = {"json": {"name": "backend"}, "headers": {**auth, "Idempotency-Key": "create-1"}}
    made = client.post("/api/v1/keys", **create)
    assert made.status_code == 201
    assert client.post("/api/v1/keys", **create).status_code == 201  # a retry: no second key
    key_id = made.get_json()["key"]["id"]
    rolled = client.post(f"/api/v1/keys/{key_id}/roll", json={"grace": "1h"}, headers=auth)
    successor_id = rolled.get_json()["key"]["id"]
    assert client.post(f"/api/v1/keys/{successor_id}/expire", headers=auth).status_code == 200

    deliveries(3)
    events = received(receiver, secret)
    assert len(receiver.received) == 3 and set(events) == {
        "key.created",
        "key.rolled",
        "key.expired",
    }
    by_root_key = {"type": "root_key", "id": str(root_key.id), "name": "Terraform"}
    assert all(event["data"]["actor"] == by_root_key for event in events.values())
    assert events["key.created"]["data"]["key"]["id"] == key_id
    assert events["key.rolled"]["data"]["successor"]["id"] == successor_id
    assert events["key.expired"]["data"]["key"]["id"] == successor_id


def test_an_endpoint_added_by_the_management_api_receives_signed_events(
    client, user, worker, receiver
):
    """Made by code with the secret from the create answer, it gets what the page's would; once
    disabled by code it gets nothing more."""
    _, root_secret = create_root_key(user, user, "Terraform", ["keys:write", "webhooks:write"])
    auth = {"Authorization": f"Bearer {root_secret}"}
    made = client.post(
        "/api/v1/webhooks",
        json={"url": receiver.url, "event_types": ["key.created"]},
        headers=auth,
    )
    assert made.status_code == 201
    hook_id, secret = made.get_json()["webhook"]["id"], made.get_json()["secret"]
    key_id = client.post("/api/v1/keys", json={"name": "a"}, headers=auth).get_json()["key"]["id"]

    deliveries(1)
    event = received(receiver, secret)["key.created"]
    assert event["data"]["key"]["id"] == key_id
    off = client.patch(f"/api/v1/webhooks/{hook_id}", json={"enabled": False}, headers=auth)
    assert off.get_json()["enabled"] is False
    assert client.post("/api/v1/keys", json={"name": "b"}, headers=auth).status_code == 201
    wait_for(worker.idle, what="the queue to run every job")
    assert len(receiver.received) == 1


def test_a_key_reaching_its_expiry_date_raises_key_expired_once_by_the_system(
    app, user, worker, receiver
):
    now = utcnow()
    dated, _ = create_key(user, "dated", expires_at=now - timedelta(minutes=3))
    create_key(user, "later", expires_at=now + timedelta(days=1))
    create_key(user, "long ago", expires_at=now - timedelta(days=2))  # before the lookback
    stopped, _ = create_key(user, "stopped", expires_at=now - timedelta(minutes=3))
    expire_key(stopped, actor=SYSTEM, now=now - timedelta(hours=1))  # raised then, not again
    # Rolled with no grace an hour ago: it stopped then; its successor worked until the date.
    rolled, _ = create_key(user, "rolled", expires_at=now - timedelta(minutes=3))
    successor, _ = roll_key(rolled, timedelta(0), actor=SYSTEM, now=now - timedelta(hours=1))
    playground_key(user, now - timedelta(minutes=30))  # expired 15 minutes ago: no event
    _, secret = webhooks.create_endpoint(user.id, receiver.url, "", ["key.expired"])

    assert key_events.check_expired_keys(now) == 2
    assert key_events.check_expired_keys(now) == 0
    assert key_events.check_expired_keys(now + timedelta(hours=1)) == 0

    deliveries(2)
    events = [Webhook(secret).verify(b, h)["data"] for h, b in receiver.received]
    assert {e["key"]["id"] for e in events} == {str(dated.id), str(successor.id)}
    data = next(e for e in events if e["key"]["id"] == str(dated.id))
    assert data["actor"] == {"type": "system", "id": None, "name": "Toolbox"}
    assert data["reason"] == "expiry_date"
    assert data["expired_at"].startswith(dated.expires_at.isoformat(timespec="seconds"))


def test_key_quota_reached_once_per_month_and_cap_and_emailed(user, worker, receiver, mailbox):
    """The per-key cap's own code calls key_quota_reached; by default it is emailed."""
    key, _ = create_key(user, "batch")
    _, secret = webhooks.create_endpoint(user.id, receiver.url, "", ["key.quota_reached"])

    assert key_events.key_quota_reached(user.id, key, "2026-12", 500) is True
    assert key_events.key_quota_reached(user.id, key, "2026-12", 500) is False
    assert key_events.key_quota_reached(user.id, key.id, "2026-12", 800) is True  # cap raised
    assert key_events.key_quota_reached(user.id, str(key.id), "2027-01", 800) is True

    deliveries(3)
    events = [Webhook(secret).verify(b, h) for h, b in receiver.received]
    first = next(e for e in events if e["data"]["cap"] == 500)["data"]
    assert first == {
        "key": {"id": str(key.id), "prefix": key.prefix, "name": "batch"},
        "actor": {"type": "system", "id": None, "name": "Toolbox"},
        "month": "2026-12",
        "cap": 500,
    }
    assert {a.email_status for a in alerts_of(user.id)} == {"sent"}
    wait_for(lambda: len(mailbox.messages) == 3, what="three emails")
    assert mailbox.messages[0].rcpt_tos == [user.email]
    assert "API key batch reached its monthly cap" in mailbox.texts()[0]
    assert "500 calls" in mailbox.texts()[0]


def test_key_quota_reached_follows_the_email_setting_and_runs_as_a_job(user, worker, mailbox):
    save_settings(
        user.id,
        set(),
        by_email=False,
        quota=False,
        error_rate=False,
        error_rate_percent=10,
        error_rate_min_calls=20,
        key_expiry=False,
    )
    key, _ = create_key(user, "batch")
    jobs.enqueue(tasks.key_quota_reached, str(user.id), str(key.id), "2026-12", 100)

    def decided():  # the alert row is committed first, its email status after the email step
        return [alert for alert in alerts_of(user.id) if alert.email_status]

    (alert,) = wait_for(decided, what="the job's alert")
    assert alert.event_type == "key.quota_reached" and alert.email_status == "off"
    assert mailbox.messages == []


def test_key_deleted_names_a_root_key(user, worker, receiver):
    """No deletion exists yet: the helper that it will call, with a root key as the actor."""
    root = RootKey(
        account_id=user.id,
        name="Terraform",
        key_hash="0" * 64,
        prefix="tk_root_abcd",
        scopes=["keys:write"],
    )
    db.session.add(root)
    db.session.commit()
    key, _ = create_key(user, "old")
    _, secret = webhooks.create_endpoint(user.id, receiver.url, "", ["key.deleted"])

    assert key_events.key_deleted(key, Actor.root_key(root)) is True

    deliveries(1)
    data = received(receiver, secret)["key.deleted"]["data"]
    assert data["actor"] == {"type": "root_key", "id": str(root.id), "name": "Terraform"}
    assert data["key"]["name"] == "old" and data["deleted_at"].endswith("Z")
    assert alerts_of(user.id, "key.deleted")[0].email_status is None


def test_only_known_actor_types():
    with pytest.raises(ValueError):
        Actor("robot", None, name="x")
    assert json.dumps(SYSTEM.as_data()) == '{"type": "system", "id": null, "name": "Toolbox"}'


def test_the_docs_show_a_body_for_every_event_type():
    docs = (Path(__file__).parents[2] / "docs" / "dashboard.md").read_text()
    for event_type in EVENT_TYPES:
        assert f'{{"type": "{event_type}"' in docs, event_type
    for event_type in KEY_EVENTS:
        assert f"| `{event_type}` |" in docs, event_type
