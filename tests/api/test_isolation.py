"""Tools that cannot take the gateway down: runs in the tool pool under a deadline and a memory
cap, the account's calls in flight capped, and each outcome answered in JSON and metered."""

import time

import pytest
import sqlalchemy as sa

from dashboard.api.call_limits import InFlight
from dashboard.api.concurrency import Slot
from dashboard.api.throttle import key_limiter
from dashboard.config import TestConfig
from dashboard.extensions import db
from dashboard.models import ApiKey, RejectedCalls, ToolLog, UsageDaily, UsageSummary
from dashboard.tools import registry
from dashboard.tools.pool import close_pools, tool_pool
from tests.api.conftest import error_code
from tests.api.hostile import HOSTILE
from tests.conftest import REDIS_SERVER, require_redis

ISOLATED = {"TOOL_ISOLATION": True, "TOOL_MEMORY_MB": 64, "TOOL_POOL_SIZE": 1}


@pytest.fixture(scope="module", autouse=True)
def hostile_tool():
    """The hostile test tool, registered while this module runs; its tool processes stopped
    after it."""
    registry.register(HOSTILE)
    tool_pool({**TestConfig().__dict__, **ISOLATED}).start()  # its fork server warms up once
    yield
    registry.TOOLS.pop(HOSTILE.name, None)
    close_pools()


@pytest.fixture
def app_overrides() -> dict:
    return dict(ISOLATED)


def only_log_row() -> ToolLog:
    return db.session.scalars(sa.select(ToolLog)).one()


def counters(user) -> tuple[int, int, int]:
    """(calls this month, calls today, errors today) of the user."""
    month = db.session.scalar(
        sa.select(UsageSummary.total_calls).where(UsageSummary.user_id == user.id)
    )
    daily = db.session.execute(
        sa.select(sa.func.sum(UsageDaily.calls), sa.func.sum(UsageDaily.errors)).where(
            UsageDaily.user_id == user.id
        )
    ).one()
    return month, int(daily[0]), int(daily[1])


@pytest.mark.parametrize(
    ("do", "status", "code", "logged"),
    [
        ("sleep", 504, "tool_timeout", "ran past its deadline of 1 s and was stopped"),
        ("spin", 504, "tool_timeout", "ran past its deadline of 1 s and was stopped"),
        ("allocate", 422, "memory_limit_exceeded", "more memory than the limit of 64 MB"),
        ("die", 500, "tool_error", "its process died (SIGKILL)"),
        ("raise", 500, "tool_error", "RuntimeError: hostile on purpose"),
    ],
)
def test_a_hostile_run_is_stopped_answered_and_metered(api, secret, user, do, status, code, logged):
    started = time.monotonic()
    answer = api.call("hostile", {"do": do}, key=secret)
    assert (answer.status_code, error_code(answer)) == (status, code)
    assert time.monotonic() - started < 10
    row = only_log_row()
    assert (row.status, row.error_code, row.http_status) == ("error", code, status)
    assert str(row.id) == answer.get_json()["error"]["request_id"]
    assert logged in row.error_message
    if code == "memory_limit_exceeded":
        assert answer.get_json()["error"]["limit"] == 64 * 1024 * 1024
    if code == "tool_timeout":
        assert 1000 <= row.execution_time_ms < 5000
        assert answer.get_json()["error"]["message"] == (
            "hostile v1 ran past its deadline of 1 s and was stopped."
        )
    assert counters(user) == (1, 1, 1)
    # The process was replaced (or kept): the next call is served.
    again = api.call("hostile", {"do": "ok"}, key=secret)
    assert (again.status_code, again.get_json()["output"]) == (200, {"done": "ok"})


def test_built_in_tools_answer_the_same_in_the_pool(api, secret):
    for tool in (tool for module in registry.BUILTIN_MODULES for tool in module.TOOL_VERSIONS):
        answer = api.call(tool.name, tool.example_input, key=secret, version=tool.version)
        assert answer.status_code == 200, (tool.name, answer.get_json())
        assert answer.get_json()["output"] == tool.run(tool.example_input)


UNIQUE_OBJECTS = {
    "schema": {"type": "array", "uniqueItems": True},
    "document": [{"a": n} for n in range(3_500)],
}


@pytest.mark.parametrize("app_overrides", [ISOLATED, {"TOOL_ISOLATION": False}])
def test_the_reported_unique_items_call_is_fast_now(api, secret):
    started = time.monotonic()
    answer = api.call("json_validate", UNIQUE_OBJECTS, key=secret)
    assert answer.status_code == 200
    assert answer.get_json()["output"]["valid"] is True
    assert time.monotonic() - started < 5  # was past gunicorn's 30 s (about 10 ms alone now)


@pytest.mark.parametrize("app_overrides", [ISOLATED, {"TOOL_ISOLATION": False}])
def test_a_tool_limit_is_422_invalid_input_naming_it_and_logged(api, secret, user):
    schema = {"enum": list(range(10_001))}
    answer = api.call("json_validate", {"schema": schema, "document": 1}, key=secret)
    assert (answer.status_code, error_code(answer)) == (422, "invalid_input")
    error = answer.get_json()["error"]
    assert error["errors"] == [
        {"path": "/schema", "message": "the schema has more than 10,000 values, the limit"}
    ]
    row = only_log_row()
    assert (row.error_code, row.http_status) == ("invalid_input", 422)
    assert counters(user) == (1, 1, 1)


@pytest.mark.parametrize("app_overrides", [ISOLATED, {"TOOL_ISOLATION": False}])
def test_patterns_share_one_time_budget_per_call(api, secret):
    body = {
        "schema": {"type": "array", "items": {"type": "string", "pattern": "^(a|aa)+$"}},
        "document": ["a" * 24 + "b"] * 100,
    }
    started = time.monotonic()
    answer = api.call("json_validate", body, key=secret)
    assert time.monotonic() - started < 4  # was 5.6 s: 0.1 s for each string, 0.5 s in all now
    output = answer.get_json()["output"]
    assert output["schema_valid"] is False
    assert "0.5 s in all" in output["errors"][0]["message"]


def take_slot(limiter, user, cap: int, seconds: float = 5) -> Slot | None:
    """One of the account's slots, taken the way a tool call takes it (counted against limits
    high enough never to refuse); None when the account has no slot free."""
    verdict = limiter.limits.check(
        "test-key", user.id, 10**6, 10**6, in_flight=InFlight(cap, seconds)
    )
    return Slot(limiter, user.id, verdict.slot) if verdict.refused_by is None else None


def hold_every_slot(user, cap: int) -> list[Slot]:
    limiter = key_limiter()
    return [take_slot(limiter, user, cap) for _ in range(cap)]


def assert_refused_for_concurrency(api, secret, user) -> None:
    answer = api.call("echo", {"message": "hi"}, key=secret)
    assert (answer.status_code, error_code(answer)) == (429, "concurrency_limited")
    assert answer.headers["Retry-After"] == "1"
    assert "3 calls in flight at once" in answer.get_json()["error"]["message"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ToolLog)) == 0
    refused = db.session.scalars(sa.select(RejectedCalls)).one()
    assert (refused.reason, refused.count, refused.tool_name) == ("concurrency", 1, "echo")
    daily = db.session.scalars(sa.select(UsageDaily)).one()
    assert (daily.calls, daily.rejected_rate_limit, daily.rejected_quota) == (0, 1, 0)


@pytest.mark.parametrize("app_overrides", [{"TOOL_ISOLATION": False}])
def test_past_the_plans_calls_in_flight_is_429_counted_not_logged(api, api_app, secret, user):
    with api_app.app_context():
        held = hold_every_slot(user, 3)  # Free: 3 calls in flight
    assert_refused_for_concurrency(api, secret, user)
    held[0].give_back()
    assert api.call("echo", {"message": "hi"}, key=secret).status_code == 200
    for slot in held[1:]:
        slot.give_back()
    with api_app.app_context():
        assert key_limiter().limits.in_flight == {}


def test_a_failed_run_gives_its_slot_back(api, api_app, secret):
    assert api.call("hostile", {"do": "die"}, key=secret).status_code == 500
    assert api.call("hostile", {"do": "raise"}, key=secret).status_code == 500
    with api_app.app_context():
        assert key_limiter().limits.in_flight == {}


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("app_overrides", [{"RATELIMIT_STORAGE_URI": REDIS_SERVER}])
def test_slots_in_redis_are_shared_and_lapse(api, api_app, secret, user):
    require_redis()
    with api_app.app_context():
        limiter = key_limiter()
        held = hold_every_slot(user, 3)
    name = limiter.limits.slots_name(user.id)
    redis = limiter.limits.thread_client()  # the calls' own connection: read after their writes
    try:
        assert_refused_for_concurrency(api, secret, user)
        assert redis.zcard(name) == 3  # the refused call took none
        account_log = f"{limiter.prefix}:log:account:{user.id}"
        assert redis.zcard(account_log) == 3  # nor counted against the rate limits
        held[0].give_back()
        assert api.call("echo", {"message": "hi"}, key=secret).status_code == 200
        assert redis.zcard(name) == 2  # the call gave its slot back
        # A slot whose worker died lapses on its own: this one lives 50 ms.
        redis.delete(name)
        assert take_slot(limiter, user, 1, 0.05) is not None
        deadline = time.monotonic() + 5
        while take_slot(limiter, user, 1, 0.05) is None:
            assert time.monotonic() < deadline, "the slot never lapsed"
    finally:
        key_ids = db.session.scalars(sa.select(ApiKey.id).where(ApiKey.user_id == user.id))
        logs = [f"{limiter.prefix}:log:key:{key_id}" for key_id in key_ids]
        logs.append(f"{limiter.prefix}:log:key:test-key")
        limiter.redis.delete(name, f"{limiter.prefix}:log:account:{user.id}", *logs)


REGEX_BOMB = {"schema": {"type": "string", "pattern": "(?:a{1000}){1000}"}, "document": "b"}


@pytest.mark.parametrize("app_overrides", [ISOLATED, {"TOOL_ISOLATION": False}])
def test_a_pattern_that_expands_past_memory_is_refused_before_it_is_compiled(api, secret):
    """17 characters that `regex` expands to a million items: 280 MB and 2.5 s to compile,
    past the memory cap (it was 500 tool_error); refused at once, naming the limit."""
    answer = api.call("json_validate", REGEX_BOMB, key=secret)
    assert (answer.status_code, error_code(answer)) == (422, "invalid_input")
    assert answer.get_json()["error"]["errors"] == [
        {
            "path": "/schema",
            "message": "pattern '(?:a{1000}){1000}' repeats to more than 100,000 items once "
            "its counted repetitions are expanded, the limit",
        }
    ]
    honest = {"schema": {"type": "string", "pattern": "^[a-z]{2,64}(?:-[a-z]{2,8}){0,3}$"}}
    answer = api.call("json_validate", {**honest, "document": "en-gb"}, key=secret)
    assert (answer.status_code, answer.get_json()["output"]["valid"]) == (200, True)
