"""The management API with root keys: scopes, the two kinds of key kept apart, idempotent
writes (also under concurrent retries), the per-root-key limit, audit; every answer checked
against the OpenAPI document (the `api` client does)."""

import threading
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.keys.idempotency import purge_idempotent_requests
from dashboard.keys.root import create_root_key, revoke_root_key
from dashboard.keys.service import create_key
from dashboard.models import ApiKey, AuditEvent, IdempotentRequest, RootKey, utcnow
from dashboard.organisations.service import create_organisation
from dashboard.plans import plan_named
from tests.api.conftest import error_code

ALL_SCOPES = ["keys:read", "keys:write", "usage:read", "logs:read"]


@pytest.fixture
def root(user):
    """A root key of `user` with every scope: its secret."""
    return create_root_key(user, user, "CI", ALL_SCOPES)[1]


def send(api, method, path, root_secret, body=None, **headers):
    kwargs = {"json": body} if body is not None else {}
    return api.request(method, path, key=root_secret, headers=headers, **kwargs)


def test_a_root_key_creates_lists_reads_changes_rolls_and_expires_keys(api, user, root):
    made = send(api, "POST", "/api/v1/keys", root, {"name": "backend", "rate_limit_per_minute": 30})
    assert made.status_code == 201
    answer = made.get_json()
    secret, key_id = answer["secret"], answer["key"]["id"]
    assert secret.startswith("tk_live_") and answer["key"]["prefix"] == secret[:14]
    assert api.call("echo", {"message": "hi"}, key=secret).status_code == 200
    stored = db.session.get(ApiKey, uuid.UUID(key_id))
    assert stored.user_id == user.id and secret not in stored.key

    listed = send(api, "GET", "/api/v1/keys", root).get_json()["keys"]
    assert [key["id"] for key in listed] == [key_id]
    changed = send(api, "PATCH", f"/api/v1/keys/{key_id}", root, {"name": "api server"})
    assert changed.get_json()["name"] == "api server"
    assert changed.get_json()["rate_limit_per_minute"] == 30  # left out: unchanged

    rolled = send(api, "POST", f"/api/v1/keys/{key_id}/roll", root, {"grace": "1h"})
    assert rolled.status_code == 201
    successor = rolled.get_json()
    assert successor["key"]["id"] != key_id and successor["secret"].startswith("tk_live_")
    assert send(api, "GET", f"/api/v1/keys/{key_id}", root).get_json()["status"] == "rolled"

    expired = send(api, "POST", f"/api/v1/keys/{successor['key']['id']}/expire", root)
    assert expired.get_json()["status"] == "revoked"
    assert api.call("echo", {"message": "hi"}, key=successor["secret"]).status_code == 401

    usage = send(api, "GET", "/api/v1/account/usage", root).get_json()
    assert usage["calls"] == 1

    actions = db.session.scalars(
        sa.select(AuditEvent.details["action"].as_string()).where(
            AuditEvent.action == "root_key.use"
        )
    ).all()
    assert {"key.create", "keys.list", "key.edit", "key.roll", "key.expire"} <= set(actions)
    assert db.session.scalar(sa.select(RootKey.last_used_at)) is not None


def test_each_kind_of_key_is_refused_where_the_other_belongs(api, make_key, root):
    api_key = make_key()
    refused = send(api, "GET", "/api/v1/keys", api_key)
    assert (refused.status_code, error_code(refused)) == (401, "root_key_required")
    tool = api.call("echo", {"message": "hi"}, key=root)
    assert (tool.status_code, error_code(tool)) == (401, "api_key_required")
    nothing = api.request("GET", "/api/v1/keys")
    assert (nothing.status_code, error_code(nothing)) == (401, "missing_api_key")
    assert error_code(send(api, "GET", "/api/v1/keys", "tk_root_nope")) == "invalid_api_key"


def test_a_root_key_without_the_scope_gets_403(api, user):
    reader = create_root_key(user, user, "dashboards", ["usage:read"])[1]
    refused = send(api, "POST", "/api/v1/keys", reader, {"name": "x"})
    assert (refused.status_code, error_code(refused)) == (403, "insufficient_scope")
    assert "keys:write" in refused.get_json()["error"]["message"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiKey)) == 0


def test_revoked_and_expired_root_keys_are_refused(api, user):
    revoked_key, revoked = create_root_key(user, user, "old", ALL_SCOPES)
    revoke_root_key(revoked_key, user, user)
    assert error_code(send(api, "GET", "/api/v1/keys", revoked)) == "revoked_api_key"
    expiring, expired = create_root_key(
        user, user, "brief", ALL_SCOPES, expires_at=utcnow() + timedelta(minutes=1)
    )
    expiring.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert error_code(send(api, "GET", "/api/v1/keys", expired)) == "expired_api_key"


def test_keys_of_another_account_and_malformed_ids_are_404(api, user, make_user, root):
    theirs, _ = create_key(make_user(), "theirs")
    organisation = create_organisation(user, "Acme")
    shared, _ = create_key(organisation.account, "the organisation's")
    for key_id in (str(theirs.id), str(shared.id), "not-an-id", "%00", "1" * 300):
        for method, path in (
            ("GET", f"/api/v1/keys/{key_id}"),
            ("POST", f"/api/v1/keys/{key_id}/expire"),
            ("POST", f"/api/v1/keys/{key_id}/roll"),
        ):
            answer = send(api, method, path, root)
            assert (answer.status_code, error_code(answer)) == (404, "key_not_found"), path
    db.session.expire_all()
    assert db.session.get(ApiKey, theirs.id).revoked_at is None


def test_a_rate_limit_above_the_plan_is_409_and_an_expiry_offset_is_applied(api, user, root):
    refused = send(api, "POST", "/api/v1/keys", root, {"name": "x", "rate_limit_per_minute": 10**6})
    assert (refused.status_code, error_code(refused)) == (409, "rate_limit_above_plan")
    highest = plan_named(user.subscription_plan).max_rate_limit
    assert refused.get_json()["error"]["limit"] == highest
    soon = (utcnow() + timedelta(hours=2)).replace(microsecond=0)
    # Two hours from now in UTC is 22 hours from now at -20:00, never 2 hours past it.
    written = (soon - timedelta(hours=20)).isoformat() + "-20:00"
    made = send(api, "POST", "/api/v1/keys", root, {"name": "x", "expires_at": written})
    assert made.status_code == 201, made.get_json()
    stored = db.session.get(ApiKey, uuid.UUID(made.get_json()["key"]["id"]))
    assert stored.expires_at == soon
    key_id = made.get_json()["key"]["id"]
    # JSON Schema's integer: 60.0 is one (a fraction is not).
    whole = send(api, "PATCH", f"/api/v1/keys/{key_id}", root, {"rate_limit_per_minute": 60.0})
    assert whole.status_code == 200 and whole.get_json()["rate_limit_per_minute"] == 60
    half = send(api, "PATCH", f"/api/v1/keys/{key_id}", root, {"rate_limit_per_minute": 60.5})
    assert (half.status_code, error_code(half)) == (422, "invalid_parameters")
    faster = {"rate_limit_per_minute": highest + 1}
    too_fast = send(api, "PATCH", f"/api/v1/keys/{key_id}", root, faster)
    assert (too_fast.status_code, error_code(too_fast)) == (409, "rate_limit_above_plan")


@pytest.mark.parametrize(
    "body, path",
    [
        ({}, "/"),
        ({"name": ""}, "/name"),
        ({"name": "x", "rate_limit_per_minute": 0}, "/rate_limit_per_minute"),
        ({"name": "x", "allowed_tools": ["nope"]}, "/allowed_tools"),
        ({"name": "x", "allowed_ips": ["999.1.1.1"]}, "/allowed_ips"),
        ({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}, "/expires_at"),
        ({"name": "x", "colour": "red"}, "/"),
    ],
)
def test_bad_bodies_get_422_with_the_field(api, root, body, path):
    answer = send(api, "POST", "/api/v1/keys", root, body)
    assert (answer.status_code, error_code(answer)) == (422, "invalid_parameters")
    assert answer.get_json()["error"]["errors"][0]["path"].startswith(path)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiKey)) == 0


def test_a_retried_create_returns_the_same_key_and_never_its_secret_again(api, root):
    first = send(api, "POST", "/api/v1/keys", root, {"name": "ci"}, **{"Idempotency-Key": "a1"})
    again = send(api, "POST", "/api/v1/keys", root, {"name": "ci"}, **{"Idempotency-Key": "a1"})
    assert first.status_code == again.status_code == 201
    assert again.get_json()["key"]["id"] == first.get_json()["key"]["id"]
    assert first.get_json()["secret"] and again.get_json()["secret"] is None
    assert again.headers["Idempotent-Replayed"] == "true"
    other = send(api, "POST", "/api/v1/keys", root, {"name": "cd"}, **{"Idempotency-Key": "a1"})
    assert (other.status_code, error_code(other)) == (422, "idempotency_key_reused")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiKey)) == 1
    kept = db.session.scalar(sa.text("SELECT body FROM idempotent_requests"))
    assert first.get_json()["secret"] not in kept


def test_eight_concurrent_retries_make_exactly_one_key(app, user, root):
    start = threading.Barrier(8)
    answers = []

    def retry():
        client = app.test_client()
        start.wait()
        response = client.post(
            "/api/v1/keys",
            json={"name": "provisioned"},
            headers={"Authorization": f"Bearer {root}", "Idempotency-Key": "same-create"},
        )
        answers.append((response.status_code, (response.get_json().get("key") or {}).get("id")))

    threads = [threading.Thread(target=retry) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {status for status, _ in answers} == {201}
    assert len({key_id for _, key_id in answers}) == 1
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiKey)) == 1


@pytest.mark.parametrize("app_overrides", [{"IDEMPOTENCY_KEYS_MAX": 2}])
def test_a_root_key_holds_a_bounded_number_of_idempotency_keys(api, root):
    made = [
        send(api, "POST", "/api/v1/keys", root, {"name": n}, **{"Idempotency-Key": n})
        for n in ("a", "b")
    ]
    assert [answer.status_code for answer in made] == [201, 201]
    refused = send(api, "POST", "/api/v1/keys", root, {"name": "c"}, **{"Idempotency-Key": "c"})
    assert (refused.status_code, error_code(refused)) == (429, "idempotency_keys_exhausted")
    assert 23 * 3600 < int(refused.headers["Retry-After"]) <= 24 * 3600 + 1
    # A retry of a kept key still gets its answer, and a write without a key still runs.
    again = send(api, "POST", "/api/v1/keys", root, {"name": "a"}, **{"Idempotency-Key": "a"})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["key"]["id"] == made[0].get_json()["key"]["id"]
    assert send(api, "POST", "/api/v1/keys", root, {"name": "d"}).status_code == 201
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiKey)) == 3
    # Once the window has passed, the purge frees room for new keys.
    db.session.execute(sa.update(IdempotentRequest).values(created_at=utcnow() - timedelta(days=2)))
    db.session.commit()
    assert purge_idempotent_requests() == 2
    key_id = made[0].get_json()["key"]["id"]
    fresh = send(
        api, "PATCH", f"/api/v1/keys/{key_id}", root, {"name": "e"}, **{"Idempotency-Key": "c"}
    )
    assert fresh.status_code == 200


@pytest.mark.parametrize("app_overrides", [{"MANAGEMENT_RATE_LIMIT_PER_MINUTE": 2}])
def test_each_root_key_has_its_own_limit(api, user, root):
    other = create_root_key(user, user, "other", ALL_SCOPES)[1]
    statuses = [send(api, "GET", "/api/v1/keys", root).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert send(api, "GET", "/api/v1/keys", other).status_code == 200


def test_logs_page_by_cursor_and_filter(api, user, make_key, root):
    secret = make_key()
    for n in range(5):
        api.call("echo", {"message": f"call {n}"}, key=secret)
    api.call("echo", {"nope": 1}, key=secret)  # invalid_input: an error row
    first = send(api, "GET", "/api/v1/logs?limit=4", root).get_json()
    assert len(first["logs"]) == 4 and first["next_cursor"]
    rest = send(api, "GET", f"/api/v1/logs?limit=4&cursor={first['next_cursor']}", root).get_json()
    assert len(rest["logs"]) == 2 and rest["next_cursor"] is None
    ids = [log["id"] for log in first["logs"] + rest["logs"]]
    assert len(set(ids)) == 6
    errors = send(api, "GET", "/api/v1/logs?status=error", root).get_json()["logs"]
    assert [log["error_code"] for log in errors] == ["invalid_input"]
    for query, field in [
        ("status=maybe", "/query/status"),
        ("limit=0", "/query/limit"),
        ("since=yesterday", "/query/since"),
        ("until=", "/query/until"),  # present but empty: no time either
        ("since=2026-12-01", "/query/since"),  # a date, not a date-time
        ("since=2026-12-01T00:00:00", "/query/since"),  # RFC 3339 names its offset
        ("status=", "/query/status"),
        ("limit=", "/query/limit"),
        ("limit=1_0", "/query/limit"),
        ("cursor=garbage", "/query/cursor"),
    ]:
        answer = send(api, "GET", f"/api/v1/logs?{query}", root)
        assert (answer.status_code, error_code(answer)) == (422, "invalid_parameters"), query
        assert answer.get_json()["error"]["errors"][0]["path"] == field
    # Any RFC 3339 offset, and the ends of time, are bounds, never a 500.
    for query in (
        "since=2026-01-01T05:30:00%2B05:30&until=2099-01-01T00:00:00.1234567z",
        "since=0001-01-01T00:00:00%2B05:00&until=9999-12-31T23:59:59-05:00",
    ):
        answer = send(api, "GET", f"/api/v1/logs?{query}", root)
        assert answer.status_code == 200, query
        assert len(answer.get_json()["logs"]) == 6, query
    other = send(api, "GET", f"/api/v1/logs?key_id={uuid.uuid4()}", root)
    assert (other.status_code, error_code(other)) == (404, "key_not_found")


def test_logs_of_another_account_are_never_listed(api, make_user, make_key, root):
    stranger = make_user()
    theirs = make_key(owner=stranger)
    api.call("echo", {"message": "theirs"}, key=theirs)
    assert send(api, "GET", "/api/v1/logs", root).get_json()["logs"] == []


def test_a_key_made_by_code_may_be_a_test_key_with_a_monthly_cap(api, root):
    made = send(
        api, "POST", "/api/v1/keys", root, {"name": "ci", "test_mode": True, "monthly_call_cap": 2}
    ).get_json()
    assert made["secret"].startswith("tk_test_")
    assert (made["key"]["mode"], made["key"]["monthly_call_cap"]) == ("test", 2)
    key_id = made["key"]["id"]
    raised = send(api, "PATCH", f"/api/v1/keys/{key_id}", root, {"monthly_call_cap": 5})
    assert raised.get_json()["monthly_call_cap"] == 5
    kept = send(api, "PATCH", f"/api/v1/keys/{key_id}", root, {"name": "ci runner"})
    assert kept.get_json()["monthly_call_cap"] == 5  # left out: unchanged
    cleared = send(api, "PATCH", f"/api/v1/keys/{key_id}", root, {"monthly_call_cap": None})
    assert cleared.get_json()["monthly_call_cap"] is None
    bad = send(api, "PATCH", f"/api/v1/keys/{key_id}", root, {"monthly_call_cap": 0})
    assert (bad.status_code, error_code(bad)) == (422, "invalid_parameters")
