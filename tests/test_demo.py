"""Demo data: several customers, keys, error rates and weeks of history, metered for real."""

import pytest
import sqlalchemy as sa

from dashboard.alerts.key_events import SYSTEM
from dashboard.auth.service import user_by_email
from dashboard.demo import DEMO_EMAIL, ORGANISATION_NAME, customer_email, load_demo
from dashboard.extensions import db
from dashboard.keys.service import KeyLimitReached, active_key_count, create_key_within_plan
from dashboard.models import ApiKey, AuditEvent, ToolLog, UsageDaily, UsageSummary, User, utcnow
from dashboard.organisations.roles import Role
from dashboard.organisations.service import accounts_of, members_of


def test_demo_load_makes_customers_keys_errors_and_history(app):
    result = load_demo(days=40, calls=300, users=3)
    assert result["created"]

    emails = set(db.session.scalars(sa.select(User.email)))
    assert {DEMO_EMAIL, customer_email(1), customer_email(3)} <= emails
    owners = db.session.scalar(sa.select(sa.func.count(sa.distinct(ToolLog.user_id))))
    assert owners == 5  # the demo account, 3 customers and the demo organisation
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiKey)) == 3 + 2 + 3 * 2

    logs = db.session.scalar(sa.select(sa.func.count()).select_from(ToolLog))
    rejected = db.session.scalar(
        sa.select(sa.func.sum(UsageDaily.rejected_rate_limit + UsageDaily.rejected_quota))
    )
    assert result["month_calls_added"] > 0
    assert logs + rejected == 300 + result["month_calls_added"]
    errors = db.session.scalar(
        sa.select(sa.func.count()).select_from(ToolLog).where(ToolLog.status == "error")
    )
    assert 0 < errors < logs
    first, last = db.session.execute(
        sa.select(sa.func.min(ToolLog.created_at), sa.func.max(ToolLog.created_at))
    ).one()
    assert (last - first).days >= 30  # a month or more of history

    # One story: keys exist before their calls, the expired key was not used after its expiry,
    # failed calls carry the gateway's own schema messages, nobody hit a quota.
    first_call = sa.select(sa.func.min(ToolLog.created_at)).where(ToolLog.api_key_id == ApiKey.id)
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(ApiKey)
            .where(ApiKey.created_at > first_call.scalar_subquery())
        )
        == 0
    )
    laptop = db.session.scalars(sa.select(ApiKey).where(ApiKey.name == "Old laptop")).one()
    assert laptop.last_request_at < laptop.expires_at
    messages = set(
        db.session.scalars(sa.select(ToolLog.error_message).where(ToolLog.status == "error"))
    )
    assert all(m.startswith("The input does not match the schema: ") for m in messages)
    json_errors = db.session.scalars(
        sa.select(ToolLog.error_message).where(
            ToolLog.tool_name == "json_validate", ToolLog.status == "error"
        )
    )
    assert not any("'text'" in m for m in json_errors)  # json_validate has no `text` field
    assert not db.session.scalar(sa.select(sa.func.sum(UsageDaily.rejected_quota)))

    # The demo account's month is near its Free quota (1,000 calls), not past it.
    demo = db.session.scalars(sa.select(User).where(User.email == DEMO_EMAIL)).one()
    month = db.session.scalar(
        sa.select(UsageSummary.total_calls).where(
            UsageSummary.user_id == demo.id, UsageSummary.month_year == utcnow().strftime("%Y-%m")
        )
    )
    assert demo.subscription_plan == "free"
    assert 800 <= month < 1000

    # Through the real metering path: counters agree with the log rows.
    assert db.session.scalar(sa.select(sa.func.sum(UsageSummary.total_calls))) == logs
    assert db.session.scalar(sa.select(sa.func.sum(UsageDaily.calls))) == logs


def test_the_demo_account_has_room_for_two_new_keys(app):
    """Issue 26 #13: after one new key the demo account was at 3 of 3."""
    load_demo(days=15, calls=50)
    demo = db.session.scalars(sa.select(User).where(User.email == DEMO_EMAIL)).one()
    assert active_key_count(demo) == 1
    create_key_within_plan(demo, "Try one", actor=SYSTEM)
    create_key_within_plan(demo, "Try two", actor=SYSTEM)
    with pytest.raises(KeyLimitReached):
        create_key_within_plan(demo, "One too many", actor=SYSTEM)
    staging = db.session.scalars(sa.select(ApiKey).where(ApiKey.name == "Staging")).one()
    assert staging.last_request_at < staging.expires_at  # no call after it expired


def test_demo_load_runs_once(app):
    load_demo(days=5, calls=20)
    assert load_demo(days=5, calls=20) == {"created": False}


def test_demo_command_takes_users(runner):
    result = runner.invoke(args=["demo", "load", "--days", "35", "--calls", "50", "--users", "2"])
    assert result.exit_code == 0, result.output
    # demo, support, admin, two teammates and the organisation's row; and the two customers
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 6 + 2


def test_demo_command_says_plainly_when_the_data_is_there(runner):
    first = runner.invoke(args=["demo", "load", "--days", "5", "--calls", "20"])
    assert "Making demo calls" in first.output

    second = runner.invoke(args=["demo", "load", "--days", "5", "--calls", "20"])
    assert second.exit_code == 0, second.output
    assert second.output.startswith("Demo data is already there")
    assert "Making demo calls" not in second.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 6


def test_the_demo_organisation_has_three_members_and_a_key_each_made(app):
    load_demo(days=3, calls=20)
    demo = user_by_email(DEMO_EMAIL)
    choices = accounts_of(demo)
    organisation = choices[1].organisation
    assert (organisation.name, choices[1].role) == (ORGANISATION_NAME, Role.OWNER)
    roles = {person.email: membership.role for membership, person in members_of(organisation)}
    assert roles == {
        DEMO_EMAIL: "owner",
        "dev@example.com": "developer",
        "viewer@example.com": "viewer",
    }
    makers = dict(
        db.session.execute(
            sa.select(AuditEvent.details["key_name"].as_string(), AuditEvent.actor_email).where(
                AuditEvent.subject_id == organisation.user_id, AuditEvent.action == "key.create"
            )
        ).all()
    )
    assert makers == {"Backend": DEMO_EMAIL, "CI": "dev@example.com"}
    calls = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(ToolLog)
        .where(ToolLog.user_id == organisation.user_id)
    )
    assert calls > 0
