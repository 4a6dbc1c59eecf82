"""The catalog, usage, OpenAPI document, health, JSON for unknown routes, and 503s."""

import re

import msgspec
import pytest
import sqlalchemy as sa
from flask import url_for
from openapi_spec_validator import validate as validate_spec

from dashboard.api.answers import Error, Health
from dashboard.api.catalog import Catalog
from dashboard.extensions import db
from dashboard.models import Tool, utcnow
from dashboard.tools.registry import all_tools
from dashboard.usage.service import Usage, month_usage, parse_month
from tests.api.conftest import error_code
from tests.conftest import make_app


def test_catalog_lists_served_tools_with_versions_and_schemas(api):
    db.session.execute(
        sa.update(Tool).where(Tool.name == "twin", Tool.version == "v1").values(is_active=False)
    )
    db.session.commit()
    response = api.get("/api/v1/tools")

    assert response.status_code == 200
    tools = {tool["name"]: tool for tool in response.get_json()["tools"]}
    assert set(tools) == {tool.name for tool in all_tools()}
    echo = tools["echo"]
    assert echo["latest_version"] == "v1"
    (version,) = echo["versions"]
    assert version["input_schema"]["required"] == ["message"]
    assert version["example_input"] == {"message": "Hello, tools API!"}
    assert [v["version"] for v in tools["twin"]["versions"]] == ["v2"]


def test_usage_for_this_month(api, secret, user):
    api.call("echo", {"message": "hi"}, key=secret)
    api.call("echo", {"message": 1}, key=secret)
    response = api.get("/api/v1/usage", key=secret)

    assert response.status_code == 200
    body = response.get_json()
    assert (body["calls"], body["errors"], body["plan"]["name"]) == (2, 1, "free")
    assert body["tools"][0]["tool"] == "echo"
    assert "X-RateLimit-Remaining" in response.headers


def test_usage_for_a_past_month_is_empty(api, secret):
    body = api.get("/api/v1/usage?month=2024-02", key=secret).get_json()
    assert (body["month"], body["calls"], body["days"]) == ("2024-02", 0, [])


@pytest.mark.parametrize("month", ["2024-13", "soon", "1999-01"])
def test_usage_with_a_bad_month_is_400(api, secret, month):
    response = api.get(f"/api/v1/usage?month={month}", key=secret)
    assert (response.status_code, error_code(response)) == (400, "invalid_month")
    assert (
        "month" in response.get_json()["error"]["message"].lower()
        or month in (response.get_json()["error"]["message"])
    )


def test_usage_needs_a_key(api):
    response = api.get("/api/v1/usage")
    assert (response.status_code, error_code(response)) == (401, "missing_api_key")


def test_usage_respects_the_ip_restriction(api, make_key):
    secret = make_key(allowed_ips=["10.0.0.0/8"])
    response = api.get("/api/v1/usage", key=secret)
    assert (response.status_code, error_code(response)) == (403, "ip_not_allowed")


def test_openapi_document_is_valid_and_lists_every_tool(api, app):
    with app.test_request_context():
        assert url_for("api.openapi") == "/api/openapi.json"
    document = api.get("/api/openapi.json").get_json()

    validate_spec(document)
    assert document["openapi"].startswith("3.1")
    assert set(document["components"]["securitySchemes"]) == {
        "bearerAuth", "apiKeyHeader", "rootKey"
    }  # fmt: skip
    for tool in all_tools():
        pinned = document["paths"][f"/api/v1/tools/{tool.name}/{tool.version}"]["post"]
        retired = {"410"} if tool.sunset_on else set()  # a version with a sunset date retires
        assert set(pinned["responses"]) == {
            "200", "400", "401", "403", "404", "413", "422", "429", "500", "503"
        } | retired  # fmt: skip
        assert f"/api/v1/tools/{tool.name}" in document["paths"]
        result = pinned["responses"]["200"]["content"]["application/json"]["schema"]
        assert result["properties"]["output"]["$ref"].endswith(
            f"{tool.version.upper()}Output"
        )  # each tool's own output model
    for path in ("/api/v1/tools", "/api/v1/usage"):
        assert path in document["paths"]
    # Only served tools have paths (a template would also match them with any body).
    assert not [path for path in document["paths"] if path.startswith("/api/v1/tools/{")]
    echo = document["components"]["schemas"]["EchoV1Input"]
    assert echo["properties"]["message"]["pattern"] == "^[^\\u0000]*$"  # NUL is refused
    month = document["paths"]["/api/v1/usage"]["get"]["parameters"][0]["schema"]["pattern"]
    assert re.match(month, "2026-03") and re.match(month, "")
    assert not re.match(month, "0000-00") and not re.match(month, "1999-12")


def test_health(api):
    assert api.get("/api/v1/health").get_json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/api/v1/nothing", 404), ("GET", "/api/v1/tools/echo", 405)],
)
def test_unknown_routes_and_methods_answer_json(api, method, path, status):
    response = api.request(method, path)
    assert response.status_code == status
    assert response.is_json and "code" in response.get_json()["error"]
    assert "Server-Timing" in response.headers


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/api/v1/tools/echo", "OPTIONS, POST"),
        ("PUT", "/api/v1/tools/echo/v1", "OPTIONS, POST"),
        ("DELETE", "/api/v1/tools", "GET, HEAD, OPTIONS"),
        ("POST", "/api/openapi.json", "GET, HEAD, OPTIONS"),
        ("PATCH", "/api/v1/usage", "GET, HEAD, OPTIONS"),
    ],
)
def test_every_405_says_what_is_allowed(api, method, path, allow):
    response = api.request(method, path)
    assert (response.status_code, response.headers["Allow"]) == (405, allow)
    assert response.get_json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "path",
    ["/api/v1/tools/%2F0", "/api/v1/tools/%2F", "/api/v1/tools/a%2Fb", "/api/v1/tools/%2Fecho"],
)
def test_encoded_slashes_in_tool_names_answer_json_404(api, secret, path):
    response = api.client.post(
        path, json={"message": "hi"}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 404, response.headers.get("Location")
    assert response.is_json and response.get_json()["error"]["code"] in (
        "not_found",
        "unknown_tool",
    )


def test_a_page_405_says_what_is_allowed_too(client):
    response = client.delete("/login")
    assert response.status_code == 405 and "POST" in response.headers["Allow"]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_database_down_is_a_quick_json_503(tmp_path):
    """No database at all: the key lookup fails and the API answers 503 JSON."""
    down = make_app(f"sqlite:///{tmp_path}/missing/dir/db.sqlite").test_client()
    response = down.post(
        "/api/v1/tools/echo", json={"message": "hi"}, headers={"X-API-Key": "tk_live_x"}
    )
    assert response.status_code == 503
    assert error_code(response) == "database_unavailable"
    assert "Server-Timing" in response.headers


@pytest.mark.parametrize("app_overrides", [{"API_KEY_CACHE_SECONDS": 60}])
def test_key_rows_are_cached_for_the_configured_seconds(api, secret):
    """With a cache, a key revoked in the dashboard still works until its entry expires."""
    from dashboard.models import ApiKey, utcnow

    assert api.call("echo", {"message": "a"}, key=secret).status_code == 200
    db.session.execute(sa.update(ApiKey).values(revoked_at=utcnow()))
    db.session.commit()
    assert api.call("echo", {"message": "b"}, key=secret).status_code == 200


def test_without_a_cache_revocation_is_immediate(api, secret):
    from dashboard.models import ApiKey, utcnow

    assert api.call("echo", {"message": "a"}, key=secret).status_code == 200
    db.session.execute(sa.update(ApiKey).values(revoked_at=utcnow()))
    db.session.commit()
    assert error_code(api.call("echo", {"message": "b"}, key=secret)) == "revoked_api_key"


def test_the_documents_answer_schemas_are_the_encoded_shapes(api, secret, user):
    """The catalog, usage, health and error schemas are derived from the Structs the API
    encodes; the usage answer is month_usage's Usage as it is."""
    document = api.get("/api/openapi.json").get_json()
    _, derived = msgspec.json.schema_components(
        [Catalog, Usage, Health, Error], ref_template="#/components/schemas/{name}"
    )
    for name, schema in derived.items():
        assert document["components"]["schemas"][name] == schema, name
    assert derived["Usage"]["additionalProperties"] is False  # a key the Struct lacks fails

    api.call("echo", {"message": "hi"}, key=secret)
    answer = api.get("/api/v1/usage", key=secret).get_json()
    today = utcnow().date()
    usage = month_usage(user.id, "free", *parse_month(None, today))
    assert answer == msgspec.to_builtins(usage)
    assert answer["calls"] == 1 and set(answer) == set(Usage.__struct_fields__)
