"""Sliding-window limits per key and per account, the IETF headers, and invalidation of cached
key rows (expire, edit, plan change, account deletion) on every worker."""

import multiprocessing
import time
import uuid

import pytest
import redis

from dashboard.account.service import delete_account
from dashboard.alerts.key_events import SYSTEM
from dashboard.api.call_limits import MemoryCallLimits, RedisCallLimits
from dashboard.extensions import db
from dashboard.keys.service import expire_key as expire_key_now
from dashboard.keys.service import keys_of, update_key
from dashboard.models import ApiKey, SuperAdmin
from dashboard.plans import DEFAULT_PLANS, Plan
from dashboard.support.service import change_plan
from tests.api.conftest import error_code
from tests.conftest import REDIS_SERVER, make_app, require_redis

PREFIX = f"test-limits-{uuid.uuid4().hex[:12]}"  # never shared with other runs; never flushed
ON_REDIS = {
    "RATELIMIT_STORAGE_URI": REDIS_SERVER,
    "RATELIMIT_KEY_PREFIX": PREFIX,
    "API_KEY_CACHE_SECONDS": 60,
}
SMALL_ACCOUNTS = {
    "free": Plan("free", "Free", 1_000, 100, 3, 7, 0, account_calls_per_minute=4),
    "pro": Plan("pro", "Pro", 100_000, 1_000, 20, 90, 49, account_calls_per_minute=50),
}


def redis_client():
    require_redis()
    return redis.Redis.from_url(REDIS_SERVER)


@pytest.fixture(params=["memory", "redis"])
def limits(request):
    """Both storages with a 2-second window (the product's is 60 s)."""
    if request.param == "memory":
        yield MemoryCallLimits(window_seconds=2)
        return
    client = redis_client()
    yield RedisCallLimits(client, f"{PREFIX}-{uuid.uuid4().hex[:6]}", window_seconds=2)
    for name in client.scan_iter(f"{PREFIX}*"):
        client.delete(name)


def test_a_key_gets_its_limit_then_is_refused(limits):
    verdicts = [limits.check("k", "u", 3, 100) for _ in range(4)]
    assert [v.refused_by for v in verdicts] == [None, None, None, "key"]
    assert [v.key.remaining for v in verdicts] == [2, 1, 0, 0]
    assert all(0 < v.key.reset_seconds <= 2 for v in verdicts)
    assert verdicts[-1].retry_after() >= 1


def test_the_account_limit_is_shared_by_its_keys(limits):
    first = [limits.check("k1", "u", 3, 4).refused_by for _ in range(3)]
    second = [limits.check("k2", "u", 3, 4).refused_by for _ in range(2)]
    other_account = limits.check("k3", "v", 3, 4)
    assert first == [None, None, None]
    assert second == [None, "account"]
    assert other_account.refused_by is None


def test_reading_does_not_count(limits):
    assert limits.check("k", "u", 2, 10, count=False).key.remaining == 2
    assert limits.check("k", "u", 2, 10).key.remaining == 1


def test_no_client_passes_its_limit_across_a_window_boundary(limits):
    """Calls every 50 ms for 2.5 windows: in no window-long span are more than 3 let through
    (a fixed window lets through 6 around its edge)."""
    accepted = []
    started = time.monotonic()
    while time.monotonic() - started < 5:
        sent = time.monotonic()
        if limits.check("k", "u", 3, 100).refused_by is None:
            accepted.append((sent, time.monotonic()))
        time.sleep(0.05)
    assert len(accepted) >= 6  # calls were let through again as the first ones left the window
    for sent, _ in accepted:
        # calls surely inside the 2 s span from `sent`: sent after it, answered before its end
        inside = [1 for other, answered in accepted if other >= sent and answered < sent + 2]
        assert len(inside) <= 3


def test_refused_calls_do_not_push_the_window_back(limits):
    assert limits.check("k", "u", 1, 100).refused_by is None
    for _ in range(5):
        assert limits.check("k", "u", 1, 100).refused_by == "key"
        time.sleep(0.3)
    time.sleep(0.6)  # 2.1 s after the only accepted call
    assert limits.check("k", "u", 1, 100).refused_by is None


def test_invalidation_marks_come_back_with_the_verdict():
    client = redis_client()
    prefix = f"{PREFIX}-{uuid.uuid4().hex[:6]}"
    limits = RedisCallLimits(client, prefix)
    assert limits.check("k", "u", 5, 5).invalidated_at == 0.0
    client.set(f"{prefix}:invalidated:account:u", "1700000000.5", ex=60)
    assert limits.check("k", "u", 5, 5).invalidated_at == 1700000000.5
    client.set(f"{prefix}:invalidated:key:k", "1800000000.25", ex=60)
    assert limits.check("k", "u", 5, 5).invalidated_at == 1800000000.25
    for name in client.scan_iter(f"{prefix}*"):
        client.delete(name)


def test_a_forked_child_counts_on_connections_of_its_own():
    """A server that loads the app before forking: the child must not write on the parent's
    kept connection (two processes on one socket mix their replies)."""
    client = redis_client()
    prefix = f"{PREFIX}-{uuid.uuid4().hex[:6]}"
    limits = RedisCallLimits(client, prefix)
    assert limits.check("k", "u", 5, 5).key.used == 1  # this thread now keeps a connection
    parents = limits.thread_client().connection
    ours, theirs = multiprocessing.get_context("fork").Pipe()

    def in_the_child() -> None:
        kept = limits.thread_client().connection
        theirs.send((kept is parents, limits.check("k", "u", 5, 5).key.used))

    child = multiprocessing.get_context("fork").Process(target=in_the_child)
    child.start()
    child.join(30)
    assert ours.recv() == (False, 2)
    assert limits.check("k", "u", 5, 5).key.used == 3  # and the parent's connection still works
    for name in client.scan_iter(f"{prefix}*"):
        client.delete(name)


# Through the gateway.


def test_ietf_headers_beside_the_x_headers(api, make_key):
    secret = make_key(rate_limit_per_minute=5)
    answer = api.call("echo", {"message": "a"}, key=secret)
    assert answer.headers["X-RateLimit-Limit"] == "5"
    assert answer.headers["X-RateLimit-Remaining"] == "4"
    assert answer.headers["RateLimit-Policy"] == '"key";q=5;w=60, "account";q=100;w=60'
    assert answer.headers["RateLimit"].startswith('"key";r=4;t=60, "account";r=99;t=')


@pytest.mark.parametrize("app_overrides", [{"PLANS": SMALL_ACCOUNTS}])
def test_two_keys_of_one_account_are_held_to_the_account_limit(api, make_key, make_user):
    first, second = make_key(rate_limit_per_minute=3), make_key(rate_limit_per_minute=3)
    answers = [api.call("echo", {"message": "a"}, key=first) for _ in range(3)]
    answers += [api.call("echo", {"message": "b"}, key=second) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    refused = answers[-1]
    assert error_code(refused) == "rate_limited"
    assert (
        "keys of this Free account may make 4 calls a minute"
        in refused.get_json()["error"]["message"]
    )
    assert refused.headers["X-RateLimit-Limit"] == "4"  # the account's limit refused it
    assert int(refused.headers["Retry-After"]) >= 1
    assert api.call("echo", {"message": "c"}, key=make_key(make_user())).status_code == 200


@pytest.mark.parametrize("app_overrides", [{"API_KEY_CACHE_SECONDS": 60}])
def test_one_process_drops_its_cached_key_at_once(api, user, make_key):
    secret = make_key()
    assert api.call("echo", {"message": "a"}, key=secret).status_code == 200
    expire_key_now(keys_of(user)[0], actor=SYSTEM)
    refused = api.call("echo", {"message": "b"}, key=secret)
    assert (refused.status_code, error_code(refused)) == (401, "revoked_api_key")


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("app_overrides", [ON_REDIS])
def test_every_worker_refuses_an_expired_key_on_its_next_call(app, api, user, make_key):
    """Two apps (as two gunicorn workers) that both cached the key for 60 s."""
    require_redis()
    secret = make_key()
    other = make_app(app.config["SQLALCHEMY_DATABASE_URI"], **ON_REDIS).test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    assert (
        other.post("/api/v1/tools/echo", json={"message": "a"}, headers=headers).status_code == 200
    )
    assert api.call("echo", {"message": "a"}, key=secret).status_code == 200

    # In this worker: its own cache and a mark in Redis.
    expire_key_now(keys_of(user)[0], actor=SYSTEM)
    refused = other.post("/api/v1/tools/echo", json={"message": "b"}, headers=headers)
    assert (refused.status_code, error_code(refused)) == (401, "revoked_api_key")


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("app_overrides", [{**ON_REDIS, "PLANS": SMALL_ACCOUNTS}])
def test_edits_plan_changes_and_deletion_reach_every_worker(app, user, make_user, make_key):
    require_redis()
    secret = make_key(rate_limit_per_minute=2)
    other = make_app(
        app.config["SQLALCHEMY_DATABASE_URI"], **ON_REDIS, PLANS=SMALL_ACCOUNTS
    ).test_client()
    headers = {"Authorization": f"Bearer {secret}"}

    def call():
        return other.post("/api/v1/tools/echo", json={"message": "x"}, headers=headers)

    assert call().headers["X-RateLimit-Limit"] == "2"  # cached by the other worker
    key = db.session.get(ApiKey, keys_of(user)[0].id)
    update_key(key, name="k", rate_limit_per_minute=3, allowed_tools=["sentiment"], allowed_ips=[])
    assert error_code(call()) == "tool_not_allowed"

    update_key(key, name="k", rate_limit_per_minute=3, allowed_tools=None, allowed_ips=None)
    admin = make_user()
    db.session.add(SuperAdmin(user_id=admin.id, notes="tests"))
    db.session.commit()
    change_plan(admin, user, "pro")
    assert '"account";q=50' in call().headers["RateLimit-Policy"]

    delete_account(user)
    refused = call()
    assert (refused.status_code, error_code(refused)) == (401, "invalid_api_key")


def test_plans_have_account_limits():
    assert DEFAULT_PLANS["free"].account_calls_per_minute == 100
    assert [p.account_calls_per_minute for p in DEFAULT_PLANS.values()] == [100, 1_000, 10_000]
    assert Plan("x", "X", 1, 7, 1, 1, 0).account_calls_per_minute == 7
