"""Every answer carries a Request-Id; an API call's id is its log row's id."""

import uuid

import pytest

from dashboard.extensions import db
from dashboard.models import ToolLog

PROXY_HEADER = {"REQUEST_ID_HEADER": "X-Request-Id"}


def call(client, secret, tool="echo", body=None, headers=None):
    return client.post(
        f"/api/v1/tools/{tool}",
        json={"message": "hi"} if body is None else body,
        headers={"Authorization": f"Bearer {secret}", **(headers or {})},
    )


def test_every_answer_has_its_own_request_id(client):
    answers = [client.get(url) for url in ("/login", "/login", "/nowhere", "/api/v1/tools")]
    ids = [uuid.UUID(answer.headers["Request-Id"]) for answer in answers]
    assert len(set(ids)) == 4


@pytest.mark.parametrize(
    ("tool", "body", "status"),
    [("echo", None, 200), ("echo", {"message": 1}, 422), ("explode", {}, 500)],
)
def test_api_call_request_id_is_the_log_rows_id(client, secret, tool, body, status):
    answer = call(client, secret, tool, body)

    assert answer.status_code == status
    request_id = answer.headers["Request-Id"]
    payload = answer.get_json()
    assert (payload.get("request_id") or payload["error"]["request_id"]) == request_id
    row = db.session.get(ToolLog, uuid.UUID(request_id))
    assert row is not None and row.tool_name == tool


@pytest.mark.parametrize("app_overrides", [PROXY_HEADER])
def test_a_trusted_proxys_uuid_is_used_and_becomes_the_log_id(client, secret):
    nginx_style = uuid.uuid4().hex  # nginx's $request_id: 32 hex digits
    answer = call(client, secret, headers={"X-Request-Id": nginx_style})

    assert answer.headers["Request-Id"] == str(uuid.UUID(nginx_style))
    assert db.session.get(ToolLog, uuid.UUID(nginx_style)) is not None
    page = client.get("/login", headers={"X-Request-Id": nginx_style})
    assert page.headers["Request-Id"] == str(uuid.UUID(nginx_style))


@pytest.mark.parametrize("app_overrides", [PROXY_HEADER])
def test_a_proxy_id_that_is_not_a_uuid_is_replaced(client):
    answer = client.get("/login", headers={"X-Request-Id": "edge-42"})
    uuid.UUID(answer.headers["Request-Id"])  # ours, a UUID


def test_without_a_trusted_header_a_client_cannot_choose_the_id(client, secret):
    chosen = str(uuid.uuid4())
    answer = call(client, secret, headers={"X-Request-Id": chosen, "Request-Id": chosen})
    assert answer.status_code == 200
    assert answer.headers["Request-Id"] != chosen
