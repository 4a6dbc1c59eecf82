"""The plan-wide cap on calls in flight: every account on a plan together (a bulkhead), across
every worker on Redis, and the setting that sizes it per deployment."""

import pytest
import sqlalchemy as sa

from dashboard.api.call_limits import InFlight
from dashboard.api.concurrency import Slot
from dashboard.api.throttle import key_limiter
from dashboard.extensions import db
from dashboard.models import ApiKey, RejectedCalls
from dashboard.plans import DEFAULT_PLANS, with_calls_in_flight
from tests.api.conftest import error_code
from tests.conftest import REDIS_SERVER, require_redis

FREE_PLAN = {"PLANS": with_calls_in_flight(DEFAULT_PLANS, "free=2")}


def hold_plan_slot(limiter, user) -> Slot | None:
    """One of the Free plan's slots, taken for `user` as a tool call takes it."""
    verdict = limiter.limits.check(
        f"held-{user.id}", user.id, 10**6, 10**6, in_flight=InFlight(3, 5, "free", 2)
    )
    return Slot(limiter, user.id, verdict.slot, "free") if verdict.refused_by is None else None


def assert_refused_for_the_plan(api, secret) -> None:
    answer = api.call("echo", {"message": "hi"}, key=secret)
    assert (answer.status_code, error_code(answer)) == (429, "concurrency_limited")
    assert answer.headers["Retry-After"] == "1"
    message = answer.get_json()["error"]["message"]
    assert "Free accounts together may have 2 calls in flight" in message


def hold_two_free_slots(api_app, make_user) -> list[Slot]:
    with api_app.app_context():
        limiter = key_limiter()
        held = [hold_plan_slot(limiter, make_user()) for _ in range(2)]
    assert None not in held
    return held


@pytest.mark.parametrize("app_overrides", [FREE_PLAN])
def test_free_accounts_share_the_plans_calls_in_flight(api, api_app, make_user, make_key):
    held = hold_two_free_slots(api_app, make_user)  # two other Free accounts, one call each
    free_secret = make_key()  # a third Free account's key, with no call of its own in flight
    pro_user = make_user(plan="pro")
    pro_secret = make_key(pro_user)

    assert_refused_for_the_plan(api, free_secret)
    refused = db.session.scalars(sa.select(RejectedCalls)).one()
    assert (refused.reason, refused.count) == ("concurrency", 1)  # counted, not logged
    # Paying accounts are not on the Free plan's cap.
    assert api.call("echo", {"message": "hi"}, key=pro_secret).status_code == 200

    held[0].give_back()
    assert api.call("echo", {"message": "hi"}, key=free_secret).status_code == 200
    held[1].give_back()
    with api_app.app_context():
        limits = key_limiter().limits
        assert limits.plan_in_flight == {}
        assert limits.in_flight == {}


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("app_overrides", [{**FREE_PLAN, "RATELIMIT_STORAGE_URI": REDIS_SERVER}])
def test_the_plans_slots_live_in_redis_for_every_worker(api, api_app, make_user, make_key, user):
    require_redis()
    held = hold_two_free_slots(api_app, make_user)
    with api_app.app_context():
        limiter = key_limiter()
    plan_slots = limiter.limits.plan_slots_name("free")
    redis = limiter.limits.thread_client()  # the calls' own connection: read after their writes
    secret = make_key()
    try:
        assert redis.zcard(plan_slots) == 2
        assert_refused_for_the_plan(api, secret)
        assert redis.zcard(limiter.limits.slots_name(user.id)) == 0  # the refusal took none
        held[0].give_back()
        assert api.call("echo", {"message": "hi"}, key=secret).status_code == 200
        assert redis.zcard(plan_slots) == 1  # the call gave back the plan's slot too
        assert redis.zcard(limiter.limits.slots_name(user.id)) == 0
    finally:
        held[1].give_back()
        keys = db.session.execute(sa.select(ApiKey.id, ApiKey.user_id)).all()
        names = [f"{limiter.prefix}:log:key:{key.id}" for key in keys]
        names += [f"{limiter.prefix}:log:account:{key.user_id}" for key in keys]
        limiter.redis.delete(plan_slots, *names)


def test_the_setting_sizes_each_plans_cap():
    plans = with_calls_in_flight(DEFAULT_PLANS, "free=10, pro=40,scale=none")
    assert plans["free"].plan_concurrent_calls == 10
    assert plans["pro"].plan_concurrent_calls == 40
    assert plans["scale"].plan_concurrent_calls is None
    assert with_calls_in_flight(DEFAULT_PLANS, "free=0")["free"].plan_concurrent_calls is None
    assert with_calls_in_flight(DEFAULT_PLANS, "") == DEFAULT_PLANS
    for wrong in ("gold=3", "free=-1", "free=lots"):
        with pytest.raises(ValueError):
            with_calls_in_flight(DEFAULT_PLANS, wrong)
