"""A key's own monthly cap on the hot path: counted with the rate limits, refused with
key_quota_exceeded (aggregated, never logged), its headers, its alert, and the statements a
call costs."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.api.metering import record_call
from dashboard.extensions import db
from dashboard.keys.secrets import hash_secret
from dashboard.keys.service import update_key
from dashboard.models import AlertEvent, ApiKey, RejectedCalls, User, utcnow
from dashboard.revocation import account_changed
from tests.api.conftest import error_code
from tests.api.test_limits import REDIS_URL, TINY_PLANS, daily_totals, log_count
from tests.api.test_organisation_keys import statements_of_a_call
from tests.conftest import REDIS_KEY_PREFIX, require_redis


def key_row(secret) -> ApiKey:
    return db.session.scalar(sa.select(ApiKey).where(ApiKey.key == hash_secret(secret)))


def echo(api, secret, message="hi"):
    return api.call("echo", {"message": message}, key=secret)


def made_earlier(key: ApiKey, calls: int, at=None) -> None:
    """Meter `calls` calls of `key` (as if made before this process started)."""
    for n in range(calls):
        record_call(
            user_id=key.user_id,
            api_key_id=key.id,
            tool_name="echo",
            tool_version="v1",
            input_payload={"message": str(n)},
            output_payload={"message": str(n)},
            status="success",
            execution_time_ms=1,
            tokens_used=1,
            at=at,
        )


def test_a_capped_key_is_refused_past_its_cap_with_its_own_code(api, make_key):
    secret = make_key(monthly_call_cap=2)
    answers = [echo(api, secret) for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 429, 429]
    assert [a.headers["X-Key-Quota-Limit"] for a in answers] == ["2"] * 4
    assert [a.headers["X-Key-Quota-Remaining"] for a in answers[:2]] == ["1", "0"]
    refused = answers[2]
    error = refused.get_json()["error"]
    assert error["code"] == "key_quota_exceeded"
    assert (error["limit"], error["used"]) == (2, 2)
    assert "2 calls a month" in error["message"]
    assert error["resets_at"].endswith("-01T00:00:00Z")
    assert int(refused.headers["Retry-After"]) > 0
    # Refusals are aggregates, never log rows: counted as quota refusals.
    assert log_count() == 2
    assert daily_totals() == (2, 0, 2)
    reasons = db.session.execute(sa.select(RejectedCalls.reason, RejectedCalls.count)).all()
    assert [tuple(r) for r in reasons] == [("key_quota", 2)]


def test_the_cap_is_the_keys_own(api, make_key):
    capped, other = make_key(monthly_call_cap=1), make_key()
    assert echo(api, capped).status_code == 200
    assert error_code(echo(api, capped)) == "key_quota_exceeded"
    answer = echo(api, other)
    assert answer.status_code == 200
    assert "X-Key-Quota-Limit" not in answer.headers  # no cap, no cap headers


def test_the_cap_counts_the_calls_already_made_this_month_only(api, make_key):
    secret = make_key(monthly_call_cap=5)
    key = key_row(secret)
    made_earlier(key, 3)
    last_month = utcnow().replace(day=1) - timedelta(days=2)
    made_earlier(key, 4, at=last_month)  # another month: not counted
    answers = [echo(api, secret).status_code for _ in range(3)]
    assert answers == [200, 200, 429]


def test_reading_usage_does_not_spend_the_cap(api, make_key):
    secret = make_key(monthly_call_cap=1)
    assert echo(api, secret).status_code == 200
    assert api.get("/api/v1/usage", key=secret).status_code == 200
    assert api.get("/api/v1/usage", key=secret).status_code == 200
    assert error_code(echo(api, secret)) == "key_quota_exceeded"


@pytest.mark.parametrize("app_overrides", [{"PLANS": TINY_PLANS}])
def test_a_call_the_accounts_quota_refuses_is_not_counted_against_the_cap(api, make_key, user):
    """Free here allows 2 calls a month: the capped key's refused call is given back, so once
    the account moves to Pro the key still has its whole cap of 3."""
    capped, other = make_key(monthly_call_cap=3), make_key()
    assert [echo(api, other).status_code for _ in range(2)] == [200, 200]
    refused = echo(api, capped)
    assert error_code(refused) == "quota_exceeded"
    db.session.get(User, user.id).subscription_plan = "pro"
    db.session.commit()
    account_changed(user.id)  # as the plan change on the support pages does
    answers = [echo(api, capped).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]


def test_an_edited_cap_takes_effect_on_the_next_call(api, make_key):
    secret = make_key(monthly_call_cap=1)
    assert echo(api, secret).status_code == 200
    assert echo(api, secret).status_code == 429
    key = key_row(secret)
    update_key(
        key,
        name=key.name,
        rate_limit_per_minute=100,
        allowed_tools=None,
        allowed_ips=None,
        monthly_call_cap=3,
    )
    answers = [echo(api, secret) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["X-Key-Quota-Limit"] == "3"
    update_key(
        key,
        name=key.name,
        rate_limit_per_minute=100,
        allowed_tools=None,
        allowed_ips=None,
        monthly_call_cap=None,
    )
    assert echo(api, secret).status_code == 200


@pytest.mark.parametrize("app_overrides", [{"QUEUE_URL": "immediate://"}])
def test_the_call_that_reaches_the_cap_raises_one_alert(api, make_key, user):
    secret = make_key(monthly_call_cap=2)
    for _ in range(4):
        echo(api, secret)
    alerts = db.session.execute(
        sa.select(AlertEvent.event_type, AlertEvent.dedupe_key, AlertEvent.payload).where(
            AlertEvent.event_type == "key.quota_reached"
        )
    ).all()
    key = key_row(secret)
    month = utcnow().strftime("%Y-%m")
    assert [(a.event_type, a.dedupe_key) for a in alerts] == [
        ("key.quota_reached", f"key.quota_reached:{key.id}:{month}:2")
    ]
    payload = alerts[0].payload
    assert (payload["month"], payload["cap"]) == (month, 2)
    assert payload["key"]["prefix"] == key.prefix


# SQLite: SQLAlchemy's events see every statement there (on PostgreSQL the hot path sends its
# statements on its own kept connection, past them); the code path is the same.
@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("app_overrides", [{"API_KEY_CACHE_SECONDS": 60}])
def test_a_plain_live_key_costs_the_same_statements_as_before(api_app, api, make_key):
    """A key without a cap and a capped key (once its month is counted) cost the same
    statements as any call: the cap is read with the key row and counted with the limits."""
    plain, capped = make_key(), make_key(monthly_call_cap=1000)
    statements_of_a_call(api_app, api, make_key())  # the process's first call loads the tools
    cold_plain = statements_of_a_call(api_app, api, plain)
    warm_plain = statements_of_a_call(api_app, api, plain)
    cold_capped = statements_of_a_call(api_app, api, capped)
    warm_capped = statements_of_a_call(api_app, api, capped)
    # The metering: the log row, the month, the day, the key's last use, the month's count.
    expected_warm = ["INSERT", "INSERT", "INSERT", "UPDATE", "SELECT"]
    assert warm_plain == expected_warm
    assert cold_plain == ["SELECT", *expected_warm]
    assert warm_capped == warm_plain
    # The capped key's month is counted from usage_daily once, when the storage lacks it.
    assert cold_capped == ["SELECT", "SELECT", *expected_warm]


@pytest.mark.parametrize("backend", ["postgresql"])
# Under a prefix of its own (deleted with the run's): test_limits counts the run's log keys.
@pytest.mark.parametrize(
    "app_overrides",
    [{"RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_KEY_PREFIX": f"{REDIS_KEY_PREFIX}-caps"}],
)
def test_the_cap_is_counted_in_redis_from_the_database(api, make_key):
    require_redis()
    secret = make_key(monthly_call_cap=4)
    made_earlier(key_row(secret), 2)
    answers = [echo(api, secret) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["X-Key-Quota-Remaining"] for a in answers] == ["1", "0", "0"]


@pytest.mark.parametrize(
    "app_overrides", [{"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1", "RATELIMIT_FAIL_OPEN": True}]
)
def test_with_redis_down_the_cap_holds_by_the_databases_count(client, make_key):
    """Failing open lets calls through without rate limits, but not past a key's cap."""
    secret = make_key(monthly_call_cap=2)
    headers = {"Authorization": f"Bearer {secret}"}
    answers = [
        client.post("/api/v1/tools/echo", json={"message": "hi"}, headers=headers) for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert "X-RateLimit-Limit" not in answers[0].headers  # the limiter really was down
    assert error_code(answers[2]) == "key_quota_exceeded"
    assert answers[2].get_json()["error"]["used"] == 2
