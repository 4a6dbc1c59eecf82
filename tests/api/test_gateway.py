"""POST /api/v1/tools/<name>[/<version>]: every answer of the contract, on both databases."""

import uuid

import pytest
import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.models import Tool, ToolLog, UsageDaily, UsageSummary
from tests.api.conftest import ago, ahead, error_code


def log_rows():
    return db.session.scalars(sa.select(ToolLog).order_by(ToolLog.created_at)).all()


def test_call_runs_the_tool_and_answers_the_contract(api, secret, user):
    response = api.call("echo", {"message": "héllo"}, key=secret)

    assert response.status_code == 200
    body = response.get_json()
    assert body["tool"] == "echo"
    assert body["version"] == "v1"
    assert body["output"] == {"echo": "héllo", "length": 5}
    assert body["usage"]["tokens"] >= 1
    assert body["usage"]["execution_time_ms"] >= 0
    (row,) = log_rows()
    assert body["request_id"] == str(row.id)
    assert (row.status, row.tool_name, row.user_id) == ("success", "echo", user.id)
    assert row.input_payload == {"message": "héllo"}
    assert row.output_payload == body["output"]
    assert row.tokens_used == body["usage"]["tokens"]
    assert row.client_ip == "127.0.0.1"


@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
def test_key_is_accepted_in_either_header(api, secret, header):
    response = api.call("echo", {"message": "hi"}, key=secret, header=header)
    assert response.status_code == 200


def test_newest_version_runs_unless_one_is_pinned(api, secret):
    newest = api.call("twin", {"n": 1}, key=secret)
    pinned = api.call("twin", {"n": 2}, key=secret, version="v1")

    assert (newest.get_json()["version"], newest.get_json()["output"]["version"]) == ("v2", "v2")
    assert (pinned.get_json()["version"], pinned.get_json()["output"]["version"]) == ("v1", "v1")
    assert [row.tool_version for row in log_rows()] == ["v2", "v1"]


def test_inactive_version_is_not_served_and_newest_falls_back(api, secret):
    db.session.execute(
        sa.update(Tool).where(Tool.name == "twin", Tool.version == "v2").values(is_active=False)
    )
    db.session.commit()

    assert api.call("twin", {"n": 1}, key=secret).get_json()["version"] == "v1"
    pinned = api.call("twin", {"n": 1}, key=secret, version="v2")
    assert (pinned.status_code, error_code(pinned)) == (404, "unknown_version")


def test_inactive_tool_answers_unknown_tool(api, secret):
    db.session.execute(sa.update(Tool).where(Tool.name == "echo").values(is_active=False))
    db.session.commit()
    response = api.call("echo", {"message": "hi"}, key=secret)
    assert (response.status_code, error_code(response)) == (404, "unknown_tool")


@pytest.mark.parametrize(
    ("tool", "version", "code"),
    [
        ("nope", None, "unknown_tool"),
        ("nope", "v1", "unknown_tool"),
        ("echo", "v9", "unknown_version"),
    ],
)
def test_unknown_tools_and_versions_answer_404_without_a_log_row(api, secret, tool, version, code):
    response = api.call(tool, {"message": "hi"}, key=secret, version=version)
    assert (response.status_code, error_code(response)) == (404, code)
    assert response.headers["X-RateLimit-Remaining"] == "100"  # not counted
    assert log_rows() == []


def test_missing_key_is_401(api):
    response = api.call("echo", {"message": "hi"})
    assert (response.status_code, error_code(response)) == (401, "missing_api_key")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "X-RateLimit-Limit" not in response.headers


def test_unknown_key_is_401(api, secret):
    response = api.call("echo", {"message": "hi"}, key=secret + "x")
    assert (response.status_code, error_code(response)) == (401, "invalid_api_key")


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"expires_at": ago(minutes=1)}, "expired_api_key"),
        ({"revoked_at": ago(minutes=1)}, "revoked_api_key"),
        ({"is_active": False}, "revoked_api_key"),
        ({"grace_ends_at": ago(seconds=1)}, "revoked_api_key"),  # rolled, grace over
        ({"grace_ends_at": ahead(hours=1)}, None),  # rolled, in its grace period
        ({"expires_at": ahead(days=1)}, None),
    ],
)
def test_key_lifecycle(api, make_key, fields, code):
    secret = make_key(**fields)
    response = api.call("echo", {"message": "hi"}, key=secret)
    if code is None:
        assert response.status_code == 200
    else:
        assert (response.status_code, error_code(response)) == (401, code)
        assert log_rows() == []


def test_disabled_account_keys_are_refused(api, secret, user):
    user.is_disabled = True
    db.session.commit()
    response = api.call("echo", {"message": "hi"}, key=secret)
    assert (response.status_code, error_code(response)) == (401, "revoked_api_key")
    assert "disabled" in response.get_json()["error"]["message"]


def test_tool_restriction(api, make_key):
    secret = make_key(allowed_tools=["twin"])
    assert api.call("twin", {"n": 1}, key=secret).status_code == 200
    response = api.call("echo", {"message": "hi"}, key=secret)
    assert (response.status_code, error_code(response)) == (403, "tool_not_allowed")
    assert log_rows()[-1].error_code == "tool_not_allowed"


@pytest.mark.parametrize(
    ("remote", "allowed"),
    [("10.1.2.3", True), ("10.2.0.1", False), ("::ffff:10.1.0.9", True), ("2001:db8::1", False)],
)
def test_ip_restriction(api, make_key, remote, allowed):
    secret = make_key(allowed_ips=["10.1.0.0/16"])
    response = api.call(
        "echo", {"message": "hi"}, key=secret, environ_overrides={"REMOTE_ADDR": remote}
    )
    if allowed:
        assert response.status_code == 200
    else:
        assert (response.status_code, error_code(response)) == (403, "ip_not_allowed")
        (row,) = log_rows()
        assert (row.status, row.error_code, row.client_ip) == ("error", "ip_not_allowed", remote)


@pytest.mark.parametrize(
    ("data", "headers", "words"),
    [
        (b"", {}, "empty"),
        (b"{not json", {}, "not valid JSON"),
        (b'["a list"]', {}, "must be a JSON object, not an array"),
        (b'"text"', {}, "not a string"),
        (b'{"message": "\xff\xfe"}', {}, "UTF-8"),
        (b'{"message": "a\\u0000b"}', {}, "\\u0000"),
        (b'{"\\u0000": "x"}', {}, "\\u0000"),
        (b'{"message": "\\ud800"}', {}, "surrogate"),
        (b'{"message": NaN}', {}, "NaN"),
        (b'{"message": 1e999}', {}, "too large"),
        (b'{"m": ' + b"[" * 100 + b"]" * 100 + b"}", {}, "nested"),
        (b'{"m": ' + b"[" * 5000 + b"]" * 5000 + b"}", {}, "nested"),
    ],
)
def test_invalid_json_is_400_and_logged(api, secret, data, headers, words):
    response = api.call(
        "echo", key=secret, data=data, headers={"Content-Type": "application/json", **headers}
    )
    assert (response.status_code, error_code(response)) == (400, "invalid_json")
    assert words in response.get_json()["error"]["message"]
    (row,) = log_rows()
    assert (row.status, row.error_code, row.input_payload) == ("error", "invalid_json", None)
    assert response.get_json()["error"]["request_id"] == str(row.id)


def test_invalid_input_is_422_with_every_error(api, secret):
    response = api.call("echo", {"message": 5, "extra": True}, key=secret)

    assert (response.status_code, error_code(response)) == (422, "invalid_input")
    errors = response.get_json()["error"]["errors"]
    assert {error["path"] for error in errors} == {"", "/message"}
    (row,) = log_rows()
    assert (row.status, row.error_code) == ("error", "invalid_input")
    assert row.input_payload == {"message": 5, "extra": True}


def test_tool_failure_is_500_and_logged(api, secret):
    response = api.call("explode", {}, key=secret)

    assert (response.status_code, error_code(response)) == (500, "tool_error")
    assert "boom" not in response.get_json()["error"]["message"]
    (row,) = log_rows()
    assert (row.status, row.error_code) == ("error", "tool_error")
    assert row.error_message == "RuntimeError: boom"
    assert response.get_json()["error"]["request_id"] == str(row.id)


@pytest.mark.parametrize("app_overrides", [{"API_MAX_BODY_BYTES": 64}])
def test_body_over_the_limit_is_413_by_content_length(api, secret):
    response = api.call("echo", {"message": "x" * 100}, key=secret)
    assert (response.status_code, error_code(response)) == (413, "payload_too_large")
    assert log_rows()[0].error_code == "payload_too_large"


@pytest.mark.parametrize("app_overrides", [{"API_MAX_BODY_BYTES": 64}])
def test_body_over_the_limit_is_413_without_content_length(api, secret):
    """A chunked body has no Content-Length: the read itself stops at the limit."""
    response = api.call(
        "echo",
        key=secret,
        data=b'{"message": "' + b"x" * 1000 + b'"}',
        headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert (response.status_code, error_code(response)) == (413, "payload_too_large")


def test_server_timing_on_success_and_errors(api, secret):
    for response in (
        api.call("echo", {"message": "hi"}, key=secret),
        api.call("echo", {"message": 1}, key=secret),
        api.call("echo", {"message": "hi"}),
    ):
        names = [part.split(";")[0] for part in response.headers["Server-Timing"].split(", ")]
        assert names == ["gateway", "tool", "db"]


def test_each_call_writes_one_row_and_counters_agree(api, secret, user):
    outcomes = [
        api.call("echo", {"message": "a"}, key=secret).status_code,
        api.call("echo", {"message": 1}, key=secret).status_code,
        api.call("explode", {}, key=secret).status_code,
        api.call("echo", key=secret, data=b"[").status_code,
        api.call("echo", {"message": "b"}, key=secret).status_code,
    ]
    assert outcomes == [200, 422, 500, 400, 200]
    rows = log_rows()
    assert len(rows) == 5
    assert sum(row.status == "error" for row in rows) == 3
    summary = db.session.scalar(sa.select(UsageSummary).where(UsageSummary.user_id == user.id))
    assert summary.total_calls == 5
    assert summary.total_tokens == sum(row.tokens_used for row in rows)
    daily = db.session.scalars(sa.select(UsageDaily)).all()
    assert sum(row.calls for row in daily) == 5
    assert sum(row.errors for row in daily) == 3


def test_answers_never_set_a_session_cookie(api, auth, logged_in, secret):
    response = api.call("echo", {"message": "hi"}, key=secret)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")


def test_request_id_is_a_uuid(api, secret):
    body = api.call("echo", {"message": "hi"}, key=secret).get_json()
    assert uuid.UUID(body["request_id"])
