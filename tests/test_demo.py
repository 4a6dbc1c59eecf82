"""Demo data: several customers, keys, error rates and weeks of history, metered for real."""

import sqlalchemy as sa

from dashboard.demo import DEMO_EMAIL, customer_email, load_demo
from dashboard.extensions import db
from dashboard.models import ApiKey, ToolLog, UsageDaily, UsageSummary, User


def test_demo_load_makes_customers_keys_errors_and_history(app):
    result = load_demo(days=40, calls=300, users=3)
    assert result["created"]

    emails = set(db.session.scalars(sa.select(User.email)))
    assert {DEMO_EMAIL, customer_email(1), customer_email(3)} <= emails
    owners = db.session.scalar(sa.select(sa.func.count(sa.distinct(ToolLog.user_id))))
    assert owners == 4
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiKey)) == 3 + 3 * 2

    logs = db.session.scalar(sa.select(sa.func.count()).select_from(ToolLog))
    rejected = db.session.scalar(
        sa.select(sa.func.sum(UsageDaily.rejected_rate_limit + UsageDaily.rejected_quota))
    )
    assert logs + rejected == 300
    errors = db.session.scalar(
        sa.select(sa.func.count()).select_from(ToolLog).where(ToolLog.status == "error")
    )
    assert 0 < errors < logs
    first, last = db.session.execute(
        sa.select(sa.func.min(ToolLog.created_at), sa.func.max(ToolLog.created_at))
    ).one()
    assert (last - first).days >= 30  # a month or more of history

    # Through the real metering path: counters agree with the log rows.
    assert db.session.scalar(sa.select(sa.func.sum(UsageSummary.total_calls))) == logs
    assert db.session.scalar(sa.select(sa.func.sum(UsageDaily.calls))) == logs


def test_demo_load_runs_once(app):
    load_demo(days=5, calls=20)
    assert load_demo(days=5, calls=20) == {"created": False}


def test_demo_command_takes_users(runner):
    result = runner.invoke(args=["demo", "load", "--days", "35", "--calls", "50", "--users", "2"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 3 + 2


def test_demo_command_says_plainly_when_the_data_is_there(runner):
    first = runner.invoke(args=["demo", "load", "--days", "5", "--calls", "20"])
    assert "Making demo calls" in first.output

    second = runner.invoke(args=["demo", "load", "--days", "5", "--calls", "20"])
    assert second.exit_code == 0, second.output
    assert second.output.startswith("Demo data is already there")
    assert "Making demo calls" not in second.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 3
