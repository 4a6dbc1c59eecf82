from datetime import timedelta

import sqlalchemy as sa

from dashboard.api.metering import record_call
from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import ToolLog, utcnow


def make_calls(user, ages_in_days):
    key, _ = create_key(user, "k")
    now = utcnow()
    return [
        record_call(
            user_id=user.id,
            api_key_id=key.id,
            tool_name="echo",
            tool_version="v1",
            input_payload={},
            output_payload={},
            status="success",
            execution_time_ms=1,
            tokens_used=1,
            at=now - timedelta(days=days),
        )
        for days in ages_in_days
    ]


def remaining(ids) -> set:
    return set(db.session.scalars(sa.select(ToolLog.id).where(ToolLog.id.in_(ids))))


def test_purge_deletes_by_each_plans_retention(runner, make_user):
    free = make_calls(make_user(plan="free"), [1, 6.9, 8, 30])  # keeps 7 days
    pro = make_calls(make_user(plan="pro"), [8, 89, 91])  # keeps 90 days
    odd = make_calls(make_user(plan="legacy-gold"), [1, 8])  # unknown plan: treated as free
    result = runner.invoke(args=["logs", "purge", "--batch-size", "1"])
    assert result.exit_code == 0, result.output
    assert "Deleted 4 log rows" in result.output
    assert remaining(free + pro + odd) == {free[0], free[1], pro[0], pro[1], odd[0]}
    again = runner.invoke(args=["logs", "purge"])
    assert "Deleted 0 log rows" in again.output


def test_purge_refuses_a_zero_batch(runner):
    result = runner.invoke(args=["logs", "purge", "--batch-size", "0"])
    assert result.exit_code != 0
    assert "at least 1" in result.output
