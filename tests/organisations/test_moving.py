"""Moving a key from a person's own account into an organisation they manage, with its history;
and the organisation's activity on its members page."""

import datetime as dt

import pytest
import sqlalchemy as sa

from dashboard.alerts.key_events import SYSTEM
from dashboard.api.metering import record_call
from dashboard.extensions import db
from dashboard.keys.service import create_key, expire_key, roll_key
from dashboard.models import (
    ApiKey,
    AuditEvent,
    ErrorGroupDay,
    ToolLog,
    UsageDaily,
    UsageSummary,
)
from dashboard.organisations.roles import Role
from dashboard.plans import plan_named
from tests.conftest import AuthActions
from tests.organisations.conftest import join


def as_member(app, person):
    client = app.test_client()
    AuthActions(client).login(person)
    return client


def a_call(key, status="success") -> None:
    record_call(
        user_id=key.user_id,
        api_key_id=key.id,
        tool_name="echo",
        tool_version="v1",
        input_payload={"message": "x"},
        output_payload={"echo": "x", "length": 1} if status == "success" else None,
        status=status,
        error_message=None if status == "success" else "upstream failed",
        error_code=None if status == "success" else "tool_error",
        execution_time_ms=3,
        tokens_used=1,
    )


def owners_of(model, key_ids) -> set:
    return set(db.session.scalars(sa.select(model.user_id).where(model.api_key_id.in_(key_ids))))


def test_a_key_moves_with_its_roll_chain_and_history(app, owner, acme):
    first, _ = create_key(owner, "Production")
    a_call(first)
    a_call(first, status="error")
    second, _ = roll_key(first, dt.timedelta(hours=1), actor=SYSTEM)
    a_call(second)
    keep, _ = create_key(owner, "Stays personal")
    a_call(keep)
    month_before = db.session.scalar(
        sa.select(UsageSummary.total_calls).where(UsageSummary.user_id == owner.id)
    )
    ids = [first.id, second.id]
    client = as_member(app, owner)
    page = client.get(f"/keys/{second.id}").get_data(as_text=True)
    assert "Move to an organisation" in page and f'value="{acme.user_id}"' in page

    answer = client.post(f"/keys/{second.id}/move", data={"account": str(acme.user_id)})

    assert answer.status_code == 303
    db.session.expire_all()
    assert {k.user_id for k in db.session.scalars(sa.select(ApiKey).where(ApiKey.id.in_(ids)))} == {
        acme.user_id
    }
    for model in (ToolLog, UsageDaily, ErrorGroupDay):
        assert owners_of(model, ids) == {acme.user_id}, model.__name__
    assert owners_of(ToolLog, [keep.id]) == {owner.id}
    assert db.session.get(ApiKey, keep.id).user_id == owner.id
    # The month's total stays where the calls were counted.
    assert (
        db.session.scalar(
            sa.select(UsageSummary.total_calls).where(UsageSummary.user_id == owner.id)
        )
        == month_before
    )
    # The organisation is open now, and the key's page shows it with its history.
    moved = client.get(f"/keys/{second.id}").get_data(as_text=True)
    assert 'data-testid="current-account">Acme<' in moved
    assert "Moved here from a personal account" in moved
    assert "2 calls in the last 30 days: 1 succeeded, 1 failed" in client.get(
        f"/keys/{first.id}"
    ).get_data(as_text=True)
    logs = client.get("/logs/").get_data(as_text=True)
    assert "upstream failed" in logs
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "key.move"))
    assert {event.subject_id for event in events} == {owner.id, acme.user_id}


@pytest.mark.parametrize("role", [Role.DEVELOPER, Role.VIEWER, Role.BILLING])
def test_only_an_organisations_owners_and_admins_may_move_keys_into_it(
    app, owner, acme, make_user, role
):
    person = make_user("someone@example.com")
    join(acme, person, role)
    key, _ = create_key(person, "Mine")
    client = as_member(app, person)
    assert "Move to an organisation" not in client.get(f"/keys/{key.id}").get_data(as_text=True)
    answer = client.post(
        f"/keys/{key.id}/move", data={"account": str(acme.user_id)}, follow_redirects=True
    )
    assert "Choose an organisation where you are an owner or admin." in answer.get_data(
        as_text=True
    )
    db.session.expire_all()
    assert db.session.get(ApiKey, key.id).user_id == person.id


def test_a_key_does_not_move_past_the_organisations_key_cap(app, owner, acme):
    cap = plan_named("free").max_active_keys
    for number in range(cap):
        create_key(acme.account, f"Acme {number}")
    key, _ = create_key(owner, "Mine")
    client = as_member(app, owner)
    answer = client.post(
        f"/keys/{key.id}/move", data={"account": str(acme.user_id)}, follow_redirects=True
    )
    assert f"allows {cap} working keys" in answer.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(ApiKey, key.id).user_id == owner.id
    expired, _ = create_key(owner, "Old")
    expire_key(expired, actor=SYSTEM)
    assert (
        client.post(f"/keys/{expired.id}/move", data={"account": str(acme.user_id)}).status_code
        == 303
    )
    db.session.expire_all()
    assert db.session.get(ApiKey, expired.id).user_id == acme.user_id


def test_keys_of_an_organisation_do_not_move_out(app, owner, acme):
    key, _ = create_key(acme.account, "Acme production")
    client = as_member(app, owner)
    client.post("/accounts/switch", data={"account": str(acme.user_id)})
    assert "Move to an organisation" not in client.get(f"/keys/{key.id}").get_data(as_text=True)
    client.post(f"/keys/{key.id}/move", data={"account": str(owner.id)})
    db.session.expire_all()
    assert db.session.get(ApiKey, key.id).user_id == acme.user_id


def test_the_members_page_shows_the_organisations_activity(app, owner, acme, make_user):
    person = make_user("dev@example.com")
    join(acme, person, Role.DEVELOPER)
    client = as_member(app, owner)
    client.post(f"/o/{acme.slug}/members/{person.id}/role", data={"role": "admin"})
    page = client.get(f"/o/{acme.slug}/members/").get_data(as_text=True)
    assert 'data-testid="organisation-activity"' in page
    assert 'Changed a member&#39;s role: <span class="text-break">dev@example.com</span>' in page
    assert "Created the organisation" in page
