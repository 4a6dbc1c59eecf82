"""The management API's key deletion (DELETE /api/v1/keys/{id}) and usage breakdown
(GET /api/v1/account/usage/breakdown): a deleted key stops at once and is 404 from then on
while its calls stay readable and counted; usage by day, key or tool counts live keys only.
Every answer is checked against the OpenAPI document (the `api` client does)."""

import uuid

import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.keys.root import create_root_key
from dashboard.keys.service import create_key
from dashboard.models import AlertEvent, ApiKey, AuditEvent, UsageSummary, utcnow
from tests.api.conftest import error_code

ALL_SCOPES = ["keys:read", "keys:write", "usage:read", "logs:read"]


def root_of(user, scopes=ALL_SCOPES) -> str:
    return create_root_key(user, user, "CI", scopes)[1]


def send(api, method, path, root_secret, body=None, **headers):
    kwargs = {"json": body} if body is not None else {}
    return api.request(method, path, key=root_secret, headers=headers, **kwargs)


def make(api, root, name="backend", **fields) -> tuple[str, str]:
    made = send(api, "POST", "/api/v1/keys", root, {"name": name, **fields}).get_json()
    return made["key"]["id"], made["secret"]


def test_a_deleted_key_stops_and_is_gone_but_its_calls_stay(api, user):
    root = root_of(user)
    key_id, secret = make(api, root)
    kept_id, _ = make(api, root, name="kept")
    for n in range(3):
        assert api.call("echo", {"message": f"call {n}"}, key=secret).status_code == 200

    deleted = send(api, "DELETE", f"/api/v1/keys/{key_id}", root, **{"Idempotency-Key": "d-1"})
    assert deleted.status_code == 200
    info = deleted.get_json()
    assert (info["id"], info["status"]) == (key_id, "deleted")
    assert info["deleted_at"].endswith("Z")
    replayed = send(api, "DELETE", f"/api/v1/keys/{key_id}", root, **{"Idempotency-Key": "d-1"})
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.get_json() == info

    # Stopped at once, and gone from every key route.
    refused = api.call("echo", {"message": "after"}, key=secret)
    assert (refused.status_code, error_code(refused)) == (401, "revoked_api_key")
    listed = send(api, "GET", "/api/v1/keys", root).get_json()["keys"]
    assert [key["id"] for key in listed] == [kept_id]
    for method, path, body in (
        ("GET", f"/api/v1/keys/{key_id}", None),
        ("PATCH", f"/api/v1/keys/{key_id}", {"name": "back"}),
        ("POST", f"/api/v1/keys/{key_id}/roll", {}),
        ("POST", f"/api/v1/keys/{key_id}/expire", None),
        ("DELETE", f"/api/v1/keys/{key_id}", None),
    ):
        answer = send(api, method, path, root, body)
        assert (answer.status_code, error_code(answer)) == (404, "key_not_found"), path

    # Its calls stay: in the logs (also by its id) and in the month's usage.
    logs = send(api, "GET", f"/api/v1/logs?key_id={key_id}", root).get_json()["logs"]
    assert len(logs) == 3 and {log["key_id"] for log in logs} == {key_id}
    assert send(api, "GET", "/api/v1/account/usage", root).get_json()["calls"] == 3
    by_key = send(api, "GET", "/api/v1/account/usage/breakdown?group_by=key", root).get_json()
    (group,) = by_key["groups"]
    assert group["key"] == {
        "id": key_id,
        "name": "backend",
        "prefix": secret[:14],
        "deleted": True,
    }
    assert group["calls"] == 3

    stored = db.session.get(ApiKey, uuid.UUID(key_id))
    assert stored.deleted_at is not None and stored.revoked_at is not None
    (event,) = db.session.scalars(
        sa.select(AlertEvent).where(AlertEvent.event_type == "key.deleted")
    ).all()
    assert event.payload["actor"]["type"] == "root_key"
    assert event.payload["actor"]["name"] == "CI"
    assert event.payload["key"]["id"] == key_id
    actions = db.session.scalars(
        sa.select(AuditEvent.details["action"].as_string()).where(
            AuditEvent.action == "root_key.use"
        )
    ).all()
    assert actions.count("key.delete") == 1  # the replay is not a second deletion


def test_delete_needs_keys_write_and_never_reaches_another_accounts_key(api, user, make_user):
    reader = root_of(user, ["keys:read"])
    mine, _ = create_key(user, "mine")
    refused = send(api, "DELETE", f"/api/v1/keys/{mine.id}", reader)
    assert (refused.status_code, error_code(refused)) == (403, "insufficient_scope")
    root = root_of(user)
    theirs, _ = create_key(make_user(), "theirs")
    for key_id in (str(theirs.id), "not-an-id", "%00", "1" * 300):
        answer = send(api, "DELETE", f"/api/v1/keys/{key_id}", root)
        assert (answer.status_code, error_code(answer)) == (404, "key_not_found"), key_id
    db.session.expire_all()
    for key in (mine, theirs):
        assert db.session.get(ApiKey, key.id).deleted_at is None


def breakdown(api, root, query=""):
    return send(api, "GET", f"/api/v1/account/usage/breakdown{query}", root)


def test_usage_by_day_key_and_tool_counts_live_keys_only(api, user, make_user):
    root = root_of(user)
    live_id, live = make(api, root, name="live")
    other_id, other = make(api, root, name="other")
    _, test = make(api, root, name="ci", test_mode=True)
    for _ in range(3):
        api.call("echo", {"message": "hi"}, key=live)
    api.call("twin", {"n": 1}, key=live, version="v1")
    api.call("echo", {"message": "hi"}, key=other)
    api.call("echo", {"nope": 1}, key=other)  # invalid_input: a call and an error
    for _ in range(4):
        api.call("echo", {"message": "test"}, key=test)
    stranger = make_user()
    api.call("echo", {"message": "theirs"}, key=create_key(stranger, "theirs")[1])

    days = breakdown(api, root).get_json()  # group_by=day by default
    assert days["group_by"] == "day" and days["month"] == utcnow().strftime("%Y-%m")
    (today,) = days["groups"]
    assert today["date"] == utcnow().date().isoformat() and today["key"] is None
    assert (today["calls"], today["errors"]) == (6, 1)  # the test key's 4 calls are not there
    summary = db.session.scalar(
        sa.select(UsageSummary.total_calls).where(UsageSummary.user_id == user.id)
    )
    assert summary == today["calls"]  # the same count as the billed month

    keys = breakdown(api, root, "?group_by=key").get_json()["groups"]
    assert [(g["key"]["id"], g["calls"], g["key"]["deleted"]) for g in keys] == [
        (live_id, 4, False),
        (other_id, 2, False),
    ]
    tools = breakdown(api, root, "?group_by=tool").get_json()["groups"]
    assert [(g["tool"], g["calls"], g["errors"]) for g in tools] == [("echo", 5, 1), ("twin", 1, 0)]
    assert all(g["date"] is None and g["key"] is None for g in tools)

    one_key = breakdown(api, root, f"?group_by=tool&key_id={other_id}").get_json()
    assert one_key["key_id"] == other_id
    assert [(g["tool"], g["calls"]) for g in one_key["groups"]] == [("echo", 2)]
    one_tool = breakdown(api, root, "?group_by=key&tool=twin").get_json()
    assert [(g["key"]["id"], g["calls"]) for g in one_tool["groups"]] == [(live_id, 1)]
    assert breakdown(api, root, "?month=2021-02").get_json()["groups"] == []


def test_bad_usage_queries_get_a_coded_error_never_a_500(api, user, make_user):
    root = root_of(user)
    theirs, _ = create_key(make_user(), "theirs")
    for query, status, code in (
        ("?month=2026-13", 400, "invalid_month"),
        ("?month=%00", 400, "invalid_month"),
        ("?month=1999-12", 400, "invalid_month"),
        ("?month=２０２６-０１", 400, "invalid_month"),
        ("?group_by=week", 422, "invalid_parameters"),
        (f"?key_id={theirs.id}", 404, "key_not_found"),
        ("?key_id=nope", 404, "key_not_found"),
        ("?key_id=%00", 404, "key_not_found"),
        ("?tool=echo%00", 422, "invalid_parameters"),
    ):
        answer = breakdown(api, root, query)
        assert (answer.status_code, error_code(answer)) == (status, code), query
    logs = send(api, "GET", "/api/v1/logs?tool=%00", root)  # PostgreSQL cannot compare a NUL
    assert (logs.status_code, error_code(logs)) == (422, "invalid_parameters")
    reader = root_of(user, ["keys:read"])
    refused = breakdown(api, reader)
    assert (refused.status_code, error_code(refused)) == (403, "insufficient_scope")


def test_the_document_links_a_created_key_to_its_deletion(client):
    document = client.get("/api/openapi.json").get_json()
    created = document["paths"]["/api/v1/keys"]["post"]["responses"]["201"]["links"]
    assert created["DeleteKey"] == {
        "operationId": "delete_key",
        "parameters": {"key_id": "$response.body#/key/id"},
        "description": "Delete the key.",
    }
    delete = document["paths"]["/api/v1/keys/{key_id}"]["delete"]
    assert {"200", "404", "403"} <= set(delete["responses"])
    assert "Idempotency-Key" in {p["name"] for p in delete["parameters"]}
