"""Test-mode keys (`tk_test_…`) on the hot path: same validation and answers, logged, never
billed (usage_summaries untouched, so never counted against or refused by the quota), their own
lower rate limit, and the account's limit still over them."""

import pytest
import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.keys.secrets import display_prefix, has_valid_checksum, hash_secret
from dashboard.models import ApiKey, ToolLog, UsageDaily, UsageSummary
from dashboard.plans import Plan
from tests.api.conftest import error_code
from tests.api.test_limits import TINY_PLANS


def echo(api, secret, message="hi"):
    return api.call("echo", {"message": message}, key=secret)


def summaries() -> list[tuple]:
    return [
        tuple(row)
        for row in db.session.execute(
            sa.select(UsageSummary.month_year, UsageSummary.total_calls, UsageSummary.total_tokens)
        )
    ]


def test_a_test_key_has_a_test_secret_and_a_prefix_that_says_so(make_key):
    secret = make_key(is_test=True)
    live = make_key()
    assert secret.startswith("tk_test_") and live.startswith("tk_live_")
    assert has_valid_checksum(secret)  # a scanner tells a test key from noise like a live one
    key = db.session.scalar(sa.select(ApiKey).where(ApiKey.key == hash_secret(secret)))
    assert key.is_test
    assert key.prefix == display_prefix(secret) == secret[:14]
    assert key.prefix.startswith("tk_test_") and len(key.prefix) == len("tk_test_") + 6


def test_a_test_key_gets_the_same_answers_and_is_logged_but_never_billed(api, make_key):
    test, live = make_key(is_test=True), make_key()
    answers = [echo(api, secret) for secret in (test, live)]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].get_json()["output"] == answers[1].get_json()["output"]
    assert answers[0].get_json()["usage"] == answers[1].get_json()["usage"]
    invalid = [api.call("echo", {"nope": 1}, key=secret) for secret in (test, live)]
    assert [error_code(a) for a in invalid] == ["invalid_input", "invalid_input"]
    assert invalid[0].get_json()["error"]["errors"] == invalid[1].get_json()["error"]["errors"]
    # Both keys' calls are logged and in the daily rollup; only the live key's are billed.
    logged = db.session.execute(
        sa.select(ApiKey.is_test, sa.func.count())
        .join(ToolLog, ToolLog.api_key_id == ApiKey.id)
        .group_by(ApiKey.is_test)
    ).all()
    assert dict(logged) == {True: 2, False: 2}
    daily = db.session.execute(
        sa.select(ApiKey.is_test, sa.func.sum(UsageDaily.calls))
        .join(UsageDaily, UsageDaily.api_key_id == ApiKey.id)
        .group_by(ApiKey.is_test)
    ).all()
    assert dict(daily) == {True: 2, False: 2}
    [(_, calls, _)] = summaries()
    assert calls == 2


def test_test_calls_never_touch_usage_summaries(api, make_key):
    test = make_key(is_test=True)
    for n in range(3):
        assert echo(api, test, f"call {n}").status_code == 200
    assert api.call("echo", {"nope": 1}, key=test).status_code == 422
    assert summaries() == []
    assert api.get("/api/v1/usage", key=test).get_json()["calls"] == 0


@pytest.mark.parametrize("app_overrides", [{"PLANS": TINY_PLANS}])
def test_test_calls_neither_spend_nor_are_refused_by_the_quota(api, make_key):
    """Free here allows 2 calls a month."""
    test, live = make_key(is_test=True), make_key()
    assert [echo(api, test).status_code for _ in range(3)] == [200, 200, 200]
    assert [echo(api, live).status_code for _ in range(3)] == [200, 200, 429]
    assert echo(api, test).status_code == 200  # the account's quota is used up: not for tests


@pytest.mark.parametrize("app_overrides", [{"TEST_KEY_RATE_LIMIT_PER_MINUTE": 2}])
def test_a_test_key_has_its_own_lower_rate_limit(api, make_key):
    test, live = make_key(is_test=True), make_key()
    answers = [echo(api, test) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["X-RateLimit-Limit"] == "2"
    assert error_code(answers[2]) == "rate_limited"
    assert "2 calls a minute" in answers[2].get_json()["error"]["message"]
    slower = make_key(is_test=True, rate_limit_per_minute=1)  # its own, when lower
    assert [echo(api, slower).status_code for _ in range(2)] == [200, 429]
    assert [echo(api, live).status_code for _ in range(3)] == [200, 200, 200]


TINY_ACCOUNT = {"free": Plan("free", "Free", 1000, 100, 3, 7, 0, account_calls_per_minute=3)}


@pytest.mark.parametrize("app_overrides", [{"PLANS": TINY_ACCOUNT}])
def test_the_accounts_limit_counts_test_calls_too(api, make_key):
    test, live = make_key(is_test=True), make_key()
    assert [echo(api, test).status_code for _ in range(2)] == [200, 200]
    assert echo(api, live).status_code == 200
    refused = echo(api, live)
    assert (refused.status_code, error_code(refused)) == (429, "rate_limited")
    assert "account" in refused.get_json()["error"]["message"]
