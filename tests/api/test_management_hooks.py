"""The management API's error groups and webhook endpoints: the errors inbox's groups a page at
a time, endpoints made, changed and deleted by code under the webhooks page's rules (URL, events,
cap), scopes, other accounts' and malformed ids, idempotent writes and audit; every answer
checked against the OpenAPI document (the `api` client does)."""

import uuid

import pytest
import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.inbox import service as inbox
from dashboard.keys.root import create_root_key
from dashboard.keys.service import create_key
from dashboard.models import AuditEvent, WebhookEndpoint
from dashboard.organisations.service import create_organisation
from dashboard.plans import plan_named
from dashboard.webhooks import service as webhooks
from dashboard.webhooks.delivery import url_problem
from tests.api.conftest import error_code
from tests.inbox.test_inbox import make_errors
from tests.logs.conftest import call, key  # noqa: F401  (`call` records failed calls)

ALL_SCOPES = ["keys:read", "logs:read", "webhooks:read", "webhooks:write"]
HOOK = {"url": "https://example.com/hooks/toolbox", "event_types": ["key.created"]}


@pytest.fixture
def root(user):
    """A root key of `user` with the scopes these routes need: its secret."""
    return create_root_key(user, user, "CI", ALL_SCOPES)[1]


def send(api, method, path, root_secret, body=None, **headers):
    kwargs = {"json": body} if body is not None else {}
    return api.request(method, path, key=root_secret, headers=headers, **kwargs)


def endpoint_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint))


def root_key_actions() -> set[str]:
    return set(
        db.session.scalars(
            sa.select(AuditEvent.details["action"].as_string()).where(
                AuditEvent.action == "root_key.use"
            )
        )
    )


# Webhook endpoints.


def test_a_root_key_adds_lists_reads_changes_and_deletes_an_endpoint(api, user, root):
    made = send(api, "POST", "/api/v1/webhooks", root, {**HOOK, "description": " CI "})
    assert made.status_code == 201
    answer = made.get_json()
    hook_id, secret = answer["webhook"]["id"], answer["secret"]
    stored = db.session.get(WebhookEndpoint, uuid.UUID(hook_id))
    assert stored.user_id == user.id and stored.secret == secret and secret.startswith("whsec_")
    assert answer["webhook"]["description"] == "CI" and answer["webhook"]["enabled"] is True

    listed = send(api, "GET", "/api/v1/webhooks", root).get_json()["webhooks"]
    assert [hook["id"] for hook in listed] == [hook_id]
    assert "secret" not in listed[0]
    got = send(api, "GET", f"/api/v1/webhooks/{hook_id}", root).get_json()
    assert got["url"] == HOOK["url"] and got["event_types"] == ["key.created"]

    changed = send(
        api,
        "PATCH",
        f"/api/v1/webhooks/{hook_id}",
        root,
        {"event_types": ["key.rolled", "key.created", "key.rolled"], "enabled": False},
    ).get_json()
    assert changed["event_types"] == ["key.created", "key.rolled"]
    assert changed["url"] == HOOK["url"]  # left out: unchanged
    assert (changed["enabled"], changed["disabled_reason"]) == (False, "Disabled by you.")
    stored.consecutive_failures = 4
    db.session.commit()
    enabled = send(api, "PATCH", f"/api/v1/webhooks/{hook_id}", root, {"enabled": True})
    assert enabled.get_json()["enabled"] is True
    assert enabled.get_json()["consecutive_failures"] == 0  # as the page's "Enable" does

    deleted = send(api, "DELETE", f"/api/v1/webhooks/{hook_id}", root)
    assert deleted.status_code == 200 and deleted.get_json()["id"] == hook_id
    assert endpoint_count() == 0
    gone = send(api, "GET", f"/api/v1/webhooks/{hook_id}", root)
    assert (gone.status_code, error_code(gone)) == (404, "webhook_not_found")
    assert {
        "webhook.create",
        "webhooks.list",
        "webhook.read",
        "webhook.edit",
        "webhook.delete",
    } <= root_key_actions()


def test_a_retried_create_returns_the_same_endpoint_and_never_its_secret_again(api, root):
    headers = {"Idempotency-Key": "hook-1"}
    first = send(api, "POST", "/api/v1/webhooks", root, HOOK, **headers)
    again = send(api, "POST", "/api/v1/webhooks", root, HOOK, **headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["webhook"] == first.get_json()["webhook"]
    assert first.get_json()["secret"] and again.get_json()["secret"] is None
    assert endpoint_count() == 1
    other = send(
        api, "POST", "/api/v1/webhooks", root, {**HOOK, "url": "https://b.example/"}, **headers
    )
    assert (other.status_code, error_code(other)) == (422, "idempotency_key_reused")


def test_a_retried_delete_answers_as_the_first_did(api, user, root):
    endpoint, _ = webhooks.create_endpoint(user.id, HOOK["url"], "", ["key.created"])
    path = f"/api/v1/webhooks/{endpoint.id}"
    first = send(api, "DELETE", path, root, **{"Idempotency-Key": "gone"})
    again = send(api, "DELETE", path, root, **{"Idempotency-Key": "gone"})
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json()
    assert endpoint_count() == 0


@pytest.mark.parametrize(
    "scopes, method, path",
    [
        (["webhooks:read"], "POST", "/api/v1/webhooks"),
        (["keys:read", "keys:write"], "GET", "/api/v1/webhooks"),
        (["webhooks:write"], "GET", "/api/v1/webhooks"),
        (["webhooks:read", "keys:write"], "PATCH", "/api/v1/webhooks/{id}"),
        (["webhooks:read"], "DELETE", "/api/v1/webhooks/{id}"),
        (["webhooks:write", "usage:read"], "GET", "/api/v1/errors"),
    ],
)
def test_a_root_key_without_the_scope_gets_403(api, user, scopes, method, path):
    endpoint, _ = webhooks.create_endpoint(user.id, HOOK["url"], "", ["key.created"])
    secret = create_root_key(user, user, "narrow", scopes)[1]
    refused = send(api, method, path.format(id=endpoint.id), secret, HOOK)
    assert (refused.status_code, error_code(refused)) == (403, "insufficient_scope")
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, endpoint.id).event_types == ["key.created"]
    assert endpoint_count() == 1


def test_endpoints_of_another_account_and_malformed_ids_are_404(api, user, make_user, root):
    theirs, _ = webhooks.create_endpoint(make_user().id, HOOK["url"], "", ["key.created"])
    organisation = create_organisation(user, "Acme")
    shared, _ = webhooks.create_endpoint(organisation.account.id, HOOK["url"], "", ["key.created"])
    for hook_id in (str(theirs.id), str(shared.id), "not-an-id", "%00", "1" * 300):
        for method in ("GET", "PATCH", "DELETE"):
            answer = send(api, method, f"/api/v1/webhooks/{hook_id}", root, {"enabled": False})
            assert (answer.status_code, error_code(answer)) == (404, "webhook_not_found")
    assert send(api, "GET", "/api/v1/webhooks", root).get_json()["webhooks"] == []
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, theirs.id).is_enabled
    assert endpoint_count() == 2


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "http://[64:ff9b::a9fe:a9fe]/",
        "https://user:password@example.com/hook",
        "http://[fe80::1]/",
    ],
)
def test_urls_the_page_refuses_are_refused_with_the_pages_reason(api, user, root, url):
    """WEBHOOK_ALLOW_PRIVATE is off in tests, as in production: internal addresses are refused
    on create and on change, with the reason the page's form gives."""
    made = send(api, "POST", "/api/v1/webhooks", root, {**HOOK, "url": url})
    assert (made.status_code, error_code(made)) == (422, "invalid_webhook_url")
    problem = made.get_json()["error"]["message"]
    assert problem == url_problem(url) and problem
    assert made.get_json()["error"]["errors"][0]["path"] == "/url"
    assert endpoint_count() == 0

    endpoint, _ = webhooks.create_endpoint(user.id, HOOK["url"], "", ["key.created"])
    changed = send(api, "PATCH", f"/api/v1/webhooks/{endpoint.id}", root, {"url": url})
    assert (changed.status_code, error_code(changed)) == (422, "invalid_webhook_url")
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, endpoint.id).url == HOOK["url"]


@pytest.mark.parametrize(
    "body, path",
    [
        ({}, "/"),
        ({"url": HOOK["url"]}, "/"),
        ({"url": HOOK["url"], "event_types": []}, "/event_types"),
        ({"url": HOOK["url"], "event_types": ["key.stolen"]}, "/event_types"),
        ({"url": "ftp://example.com/", "event_types": ["key.created"]}, "/url"),
        ({"url": "https://exa mple.com/", "event_types": ["key.created"]}, "/url"),
        ({**HOOK, "description": "x" * 201}, "/description"),
        ({**HOOK, "description": "a\u0000b"}, "/description"),
        ({**HOOK, "secret": "whsec_mine"}, "/"),
    ],
)
def test_bad_bodies_get_422_with_the_field(api, root, body, path):
    answer = send(api, "POST", "/api/v1/webhooks", root, body)
    assert (answer.status_code, error_code(answer)) == (422, "invalid_parameters")
    assert answer.get_json()["error"]["errors"][0]["path"].startswith(path)
    assert endpoint_count() == 0


def test_the_accounts_cap_on_endpoints_holds(api, user, root):
    for n in range(webhooks.MAX_ENDPOINTS):
        webhooks.create_endpoint(user.id, f"https://example.com/{n}", "", ["key.created"])
    refused = send(api, "POST", "/api/v1/webhooks", root, HOOK)
    assert (refused.status_code, error_code(refused)) == (409, "webhook_limit_reached")
    assert endpoint_count() == webhooks.MAX_ENDPOINTS


# Error groups.


def test_error_groups_are_the_inboxs_in_its_order_a_page_at_a_time(api, user, request, root):
    keys = [create_key(user, name)[0] for name in ("a", "b")]
    make_errors(request.getfixturevalue("call"), keys)
    days = inbox.default_period(plan_named(user.subscription_plan).log_retention_days)
    expected = inbox.error_groups(user, days)
    assert len(expected) > 3

    seen, cursor = [], None
    while True:
        query = f"?limit=3&cursor={cursor}" if cursor else "?limit=3"
        page = send(api, "GET", "/api/v1/errors" + query, root).get_json()
        assert len(page["groups"]) <= 3 and page["days"] == days
        seen += page["groups"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [(g["tool"], g["version"], g["error_code"], g["fingerprint"]) for g in seen] == [
        group.identity for group in expected
    ]
    for shown, group in zip(seen, expected, strict=True):
        assert shown["count"] == group.count and shown["message"] == group.message
        assert shown["daily_counts"] == group.days
        assert set(shown["key_ids"]) == {str(key_id) for key_id in group.key_ids}
    assert sum(group["count"] for group in seen) == 40
    assert "errors.list" in root_key_actions()


def test_error_groups_of_another_account_are_never_listed(api, make_user, request, root):
    make_errors(request.getfixturevalue("call"), [create_key(make_user(), "theirs")[0]], count=8)
    assert send(api, "GET", "/api/v1/errors", root).get_json()["groups"] == []


def test_the_period_is_the_inboxs_and_is_cut_to_the_retention(api, user, root):
    user.subscription_plan = "free"  # logs kept 7 days
    db.session.commit()
    week = send(api, "GET", "/api/v1/errors?days=7", root).get_json()
    assert (week["days"], week["note"]) == (0, None)  # the whole retention
    day = send(api, "GET", "/api/v1/errors?days=1", root).get_json()
    assert (day["days"], day["note"]) == (1, None)
    everything = send(api, "GET", "/api/v1/errors?days=0", root).get_json()
    assert everything["since"] == inbox.first_day(user, 0).isoformat()
    beyond = send(api, "GET", "/api/v1/errors?days=90", root).get_json()
    assert beyond["days"] == 0 and "keeps logs for 7 days" in beyond["note"]
    for other in ("14", "5000"):
        refused = send(api, "GET", f"/api/v1/errors?days={other}", root)
        assert (refused.status_code, error_code(refused)) == (422, "invalid_parameters")
        assert "1, 7, 30, 90, 0" in refused.get_json()["error"]["message"]


@pytest.mark.parametrize(
    "query, parameter",
    [
        ("days=3", "days"),
        ("days=-1", "days"),
        ("days=week", "days"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("cursor=nope", "cursor"),
        ("cursor=WyJ4Il0", "cursor"),
        (
            "cursor=WyIyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwgImEiLCAiYiIsICJjIiwgImQiXQ",
            "cursor",
        ),  # aware
        ("cursor=WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwgImEiLCAiYiIsICJjIiwgNF0", "cursor"),
        ("cursor=eyJhIjogMX0", "cursor"),
    ],
)
def test_bad_queries_get_422_naming_the_parameter(api, root, query, parameter):
    answer = send(api, "GET", f"/api/v1/errors?{query}", root)
    assert (answer.status_code, error_code(answer)) == (422, "invalid_parameters")
    assert answer.get_json()["error"]["errors"][0]["path"] == f"/query/{parameter}"
