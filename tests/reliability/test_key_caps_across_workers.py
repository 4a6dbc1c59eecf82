"""A key's monthly cap across workers: real gunicorn (4 workers), PostgreSQL and Redis.

The cap is counted in the same Redis script as the rate limits, so however the calls are spread
over the workers, a capped key never gets one call past its cap; the count starts from what
the key had already made this month (usage_daily).
"""

import uuid

import pytest
import sqlalchemy as sa

from dashboard.api.metering import record_call
from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import ApiKey, RejectedCalls, ToolLog, UsageDaily, User
from tests.reliability.conftest import redis_gunicorn
from tests.reliability.test_limits_across_workers import fire, new_account

pytestmark = pytest.mark.slow

WORKERS = 4
PREFIX = f"test-key-caps-{uuid.uuid4().hex[:12]}"
CAP = 60
MADE_BEFORE = 20  # calls the key made this month before the server started


@pytest.fixture(scope="module")
def server(databases, tmp_path_factory):
    with redis_gunicorn(
        databases,
        tmp_path_factory,
        WORKERS,
        PREFIX,
        API_KEY_CACHE_SECONDS="60",
        PLAN_CALLS_IN_FLIGHT="scale=none",
    ) as served:
        yield served


def test_four_workers_never_let_a_capped_key_past_its_cap(server):
    gunicorn, app = server
    account = new_account(app, plan="scale")  # 10,000 calls a minute: only the cap binds
    with app.app_context():
        user = db.session.get(User, account.id)
        key, capped = create_key(user, "capped", rate_limit_per_minute=10_000, monthly_call_cap=CAP)
        _, uncapped = create_key(user, "uncapped", rate_limit_per_minute=10_000)
        key_id = key.id
        for n in range(MADE_BEFORE):
            record_call(
                user_id=user.id,
                api_key_id=key_id,
                tool_name="echo",
                tool_version="v1",
                input_payload={"message": str(n)},
                output_payload={"message": str(n)},
                status="success",
                execution_time_ms=1,
                tokens_used=1,
            )

    answers = fire(gunicorn.base_url, [capped], 200)

    statuses = [status for status, _, _ in answers]
    assert statuses.count(200) == CAP - MADE_BEFORE
    assert statuses.count(429) == 200 - (CAP - MADE_BEFORE)
    refused = [body for status, _, body in answers if status == 429]
    assert {body["error"]["code"] for body in refused} == {"key_quota_exceeded"}
    assert {(body["error"]["limit"], body["error"]["used"]) for body in refused} == {(CAP, CAP)}
    # Every call let through was told a different number of calls left: none was counted twice.
    remaining = sorted(int(h["X-Key-Quota-Remaining"]) for s, h, _ in answers if s == 200)
    assert remaining == list(range(CAP - MADE_BEFORE))
    assert {h["X-Key-Quota-Limit"] for _, h, _ in answers} == {str(CAP)}
    assert len(gunicorn.worker_pids()) > 1  # the calls really were spread over workers
    # The account's other keys are not held by this key's cap.
    assert [status for status, _, _ in fire(gunicorn.base_url, [uncapped], 5)] == [200] * 5

    with app.app_context():
        logged = db.session.scalar(
            sa.select(sa.func.count()).select_from(ToolLog).where(ToolLog.api_key_id == key_id)
        )
        calls, rejected = db.session.execute(
            sa.select(sa.func.sum(UsageDaily.calls), sa.func.sum(UsageDaily.rejected_quota)).where(
                UsageDaily.api_key_id == key_id
            )
        ).one()
        refusals = db.session.scalar(
            sa.select(sa.func.sum(RejectedCalls.count)).where(
                RejectedCalls.api_key_id == key_id, RejectedCalls.reason == "key_quota"
            )
        )
        assert db.session.get(ApiKey, key_id).monthly_call_cap == CAP
    assert logged == CAP  # the 20 made before and the 40 let through; refusals are no rows
    assert (calls, rejected, refusals) == (CAP, 160, 160)
