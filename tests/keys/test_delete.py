"""Deleting a key on the keys page: a confirmation with the key's name typed again, then the key
stops at once and leaves every list, while its logged calls and the month's usage stay (named
"deleted key <prefix>"); key.deleted is raised with the person, and the change is audited."""

import html
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.alerts.key_events import SYSTEM
from dashboard.api.metering import record_call
from dashboard.extensions import db
from dashboard.keys.service import create_key, delete_key, expire_key, keys_of
from dashboard.models import AlertEvent, ApiKey, AuditEvent, Tool, UsageSummary, utcnow
from dashboard.support.service import keys_overview
from dashboard.tools.sync import sync_tools


@pytest.fixture(autouse=True)
def tools_served(app):
    sync_tools(db.session, Tool)
    db.session.commit()


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def call(client, secret):
    return client.post(
        "/api/v1/tools/echo",
        json={"message": "hi"},
        headers={"Authorization": f"Bearer {secret}"},
    )


def logged_call(user, key, message="logged before the deletion"):
    return record_call(
        user_id=user.id,
        api_key_id=key.id,
        tool_name="echo",
        tool_version="v1",
        input_payload={"message": message},
        output_payload={"echo": message, "length": len(message)},
        status="error",
        error_message=message,
        error_code="tool_error",
        execution_time_ms=3,
        tokens_used=2,
    )


def month_calls(user) -> int:
    return db.session.scalar(
        sa.select(sa.func.sum(UsageSummary.total_calls)).where(UsageSummary.user_id == user.id)
    )


def test_the_key_page_offers_delete_and_asks_for_the_name(client, logged_in):
    key, _ = create_key(logged_in, "production")
    page = text(client.get(f"/keys/{key.id}"))
    assert f'href="/keys/{key.id}/delete"' in page
    confirm = client.get(f"/keys/{key.id}/delete")
    assert confirm.status_code == 200
    shown = text(confirm)
    assert "Delete “production”?" in shown and "Type the key's name to confirm" in shown
    assert "This cannot be undone" in shown and f"{key.prefix}…" in shown

    for wrong in ("", "Production", "prod"):
        refused = client.post(f"/keys/{key.id}/delete", data={"confirm": wrong})
        assert refused.status_code == 422
        assert "production" in text(refused)
    db.session.expire_all()
    assert db.session.get(ApiKey, key.id).deleted_at is None


def test_an_unnamed_key_is_confirmed_by_its_prefix(client, logged_in):
    key, _ = create_key(logged_in, "")
    assert "Type the key's prefix" in text(client.get(f"/keys/{key.id}/delete"))
    assert client.post(f"/keys/{key.id}/delete", data={"confirm": key.prefix}).status_code == 303
    db.session.expire_all()
    assert db.session.get(ApiKey, key.id).deleted_at is not None


def test_a_deleted_key_stops_at_once_and_leaves_the_lists_but_its_calls_stay(client, logged_in):
    key, secret = create_key(logged_in, "production")
    kept, _ = create_key(logged_in, "kept")
    assert call(client, secret).status_code == 200
    log_id = logged_call(logged_in, key)
    calls_before = month_calls(logged_in)
    assert calls_before == 2

    answer = client.post(f"/keys/{key.id}/delete", data={"confirm": " production "})
    assert (answer.status_code, answer.headers["Location"]) == (303, "/keys/")
    flashed = text(client.get("/keys/"))
    assert "Key “production” deleted." in flashed
    assert f"/keys/{key.id}" not in flashed and f"/keys/{kept.id}" in flashed

    db.session.expire_all()
    stored = db.session.get(ApiKey, key.id)
    assert stored.deleted_at is not None and stored.revoked_at == stored.deleted_at
    assert not stored.is_active
    assert [k.id for k in keys_of(logged_in)] == [kept.id]
    refused = call(client, secret)
    assert (refused.status_code, refused.json["error"]["code"]) == (401, "revoked_api_key")
    for path in (f"/keys/{key.id}", f"/keys/{key.id}/delete", f"/keys/{key.id}/edit"):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/keys/{key.id}/delete", data={"confirm": "production"}).status_code == 404

    # Its calls stay: in the logs (named as a deleted key), the log's page, the usage page.
    logs = text(client.get("/logs/"))
    assert "logged before the deletion" in logs and "Deleted key <span" in logs
    assert f"{key.prefix}…" in logs
    detail = text(client.get(f"/logs/{log_id}"))
    assert "Deleted key" in detail and f"{key.prefix}…" in detail
    assert "Deleted key" in text(client.get(f"/logs/?key={key.id}"))
    usage = text(client.get("/usage/"))
    assert "Deleted key" in usage and f"/keys/{key.id}" not in usage
    assert month_calls(logged_in) == calls_before  # the month's usage keeps counting them

    event = db.session.scalar(sa.select(AlertEvent).where(AlertEvent.event_type == "key.deleted"))
    assert event.payload["key"] == {"id": str(key.id), "prefix": key.prefix, "name": "production"}
    assert event.payload["actor"] == {
        "type": "member",
        "id": str(logged_in.id),
        "email": logged_in.email,
    }
    assert event.payload["deleted_at"].endswith("Z")
    audit = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "key.delete"))
    assert (audit.actor_id, audit.details["key_id"]) == (logged_in.id, str(key.id))


def test_an_expired_key_can_be_deleted_to_clear_it_from_the_list(client, logged_in):
    key, _ = create_key(logged_in, "old")
    expired_at = (utcnow() - timedelta(hours=1)).replace(microsecond=0)
    expire_key(key, actor=SYSTEM, now=expired_at)
    assert f"/keys/{key.id}/delete" in text(client.get(f"/keys/{key.id}"))
    assert client.post(f"/keys/{key.id}/delete", data={"confirm": "old"}).status_code == 303
    assert keys_of(logged_in) == []
    db.session.expire_all()
    stored = db.session.get(ApiKey, key.id)
    assert stored.revoked_at == expired_at  # it stopped when it was expired, not later


def test_support_sees_a_deleted_key_as_deleted(logged_in):
    key, _ = create_key(logged_in, "gone")
    create_key(logged_in, "here")
    delete_key(key, actor=SYSTEM)
    statuses = {row["name"]: row["status"] for row in keys_overview(logged_in)}
    assert statuses == {"gone": "deleted", "here": "active"}
