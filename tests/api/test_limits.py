"""Rate limits (memory and Redis storage, fail-open) and the plan's monthly quota."""

from datetime import timedelta

import pytest
import redis
import sqlalchemy as sa

from dashboard.api.credentials import find_key
from dashboard.api.metering import record_call
from dashboard.extensions import db
from dashboard.models import ApiKey, ToolLog, UsageDaily, utcnow
from dashboard.plans import Plan
from tests.api.conftest import error_code
from tests.conftest import REDIS_KEY_PREFIX, REDIS_SERVER, make_app, require_redis

REDIS_URL = REDIS_SERVER
TINY_PLANS = {
    "free": Plan("free", "Free", 2, 100, 3, 7, 0),
    "pro": Plan("pro", "Pro", 100_000, 1_000, 20, 90, 49),
}


def daily_totals():
    row = db.session.execute(
        sa.select(
            sa.func.sum(UsageDaily.calls),
            sa.func.sum(UsageDaily.rejected_rate_limit),
            sa.func.sum(UsageDaily.rejected_quota),
        )
    ).one()
    return tuple(int(value or 0) for value in row)


def log_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(ToolLog))


def test_rate_limit_headers_count_down_then_429(api, make_key):
    secret = make_key(rate_limit_per_minute=3)
    answers = [api.call("echo", {"message": "hi"}, key=secret) for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-RateLimit-Limit"] for a in answers] == ["3"] * 4
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert all(0 < int(a.headers["X-RateLimit-Reset"]) <= 60 for a in answers)
    refused = answers[-1]
    assert error_code(refused) == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert log_count() == 3
    assert daily_totals() == (3, 1, 0)


def test_rate_limit_headers_on_errors_too(api, make_key):
    secret = make_key(rate_limit_per_minute=5)
    invalid = api.call("echo", {"message": 1}, key=secret)
    assert invalid.status_code == 422
    assert invalid.headers["X-RateLimit-Remaining"] == "4"


def test_rate_limit_is_per_key(api, make_key):
    first, second = make_key(rate_limit_per_minute=1), make_key(rate_limit_per_minute=1)
    assert api.call("echo", {"message": "a"}, key=first).status_code == 200
    assert api.call("echo", {"message": "a"}, key=first).status_code == 429
    assert api.call("echo", {"message": "a"}, key=second).status_code == 200


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("app_overrides", [{"RATELIMIT_STORAGE_URI": REDIS_URL}])
def test_redis_storage_is_shared_by_workers(app, api_app, api, make_key):
    """Two apps (as two gunicorn workers) count the same key's calls in Redis."""
    require_redis()
    secret = make_key(rate_limit_per_minute=2)
    other_worker = make_app(
        app.config["SQLALCHEMY_DATABASE_URI"], RATELIMIT_STORAGE_URI=REDIS_URL
    ).test_client()
    headers = {"Authorization": f"Bearer {secret}"}

    assert api.call("echo", {"message": "a"}, key=secret).headers["X-RateLimit-Remaining"] == "1"
    second = other_worker.post("/api/v1/tools/echo", json={"message": "b"}, headers=headers)
    assert (second.status_code, second.headers["X-RateLimit-Remaining"]) == (200, "0")
    third = api.call("echo", {"message": "c"}, key=secret)
    assert (third.status_code, error_code(third)) == (429, "rate_limited")
    assert "Retry-After" in third.headers
    # The counter lives under the run's RATELIMIT_KEY_PREFIX, which the run deletes at its end.
    with api_app.app_context():  # find_key reads the API app's key cache
        key_id = find_key(secret).id
        user_id = find_key(secret).user_id
    client = redis.Redis.from_url(REDIS_URL)
    found = {key.decode() for key in client.scan_iter(match=f"{REDIS_KEY_PREFIX}:log:*")}
    assert found == {
        f"{REDIS_KEY_PREFIX}:log:key:{key_id}",
        f"{REDIS_KEY_PREFIX}:log:account:{user_id}",
    }


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(
    "app_overrides", [{"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1", "RATELIMIT_FAIL_OPEN": True}]
)
def test_redis_down_fails_open(client, make_key):
    secret = make_key(rate_limit_per_minute=1)
    headers = {"X-API-Key": secret}
    answers = [client.post("/api/v1/tools/echo", json={"message": "a"}, headers=headers)]
    answers.append(client.post("/api/v1/tools/echo", json={"message": "b"}, headers=headers))
    assert [a.status_code for a in answers] == [200, 200]
    assert "X-RateLimit-Limit" not in answers[0].headers


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(
    "app_overrides",
    [{"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1", "RATELIMIT_FAIL_OPEN": False}],
)
def test_redis_down_fails_closed_when_configured(api, make_key):
    response = api.call("echo", {"message": "a"}, key=make_key())
    assert (response.status_code, error_code(response)) == (503, "rate_limiter_unavailable")


@pytest.mark.parametrize("app_overrides", [{"PLANS": TINY_PLANS}])
def test_quota_exceeded_after_the_plans_monthly_calls(api, secret, user):
    answers = [api.call("echo", {"message": "hi"}, key=secret) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    error = answers[-1].get_json()["error"]
    assert error["code"] == "quota_exceeded"
    assert "2 calls a month" in error["message"] and "2 were made" in error["message"]
    assert (error["limit"], error["used"]) == (2, 2)
    assert int(answers[-1].headers["Retry-After"]) > 0
    assert log_count() == 2
    assert daily_totals() == (2, 0, 1)


@pytest.mark.parametrize("app_overrides", [{"PLANS": TINY_PLANS}])
def test_quota_counts_only_this_month(api, secret, user):
    key_id = db.session.scalar(sa.select(ApiKey.id))
    for _ in range(2):
        record_call(
            user_id=user.id,
            api_key_id=key_id,
            tool_name="echo",
            tool_version="v1",
            input_payload={},
            output_payload={},
            status="success",
            execution_time_ms=1,
            tokens_used=1,
            at=utcnow().replace(day=1) - timedelta(days=1),
        )
    assert api.call("echo", {"message": "hi"}, key=secret).status_code == 200


@pytest.mark.parametrize("app_overrides", [{"PLANS": TINY_PLANS}])
def test_quota_follows_the_users_plan(api, make_user, make_key):
    pro = make_user(plan="pro")
    secret = make_key(pro)
    assert [api.call("echo", {"message": "x"}, key=secret).status_code for _ in range(3)] == [
        200
    ] * 3
