"""API test helpers: keys, test tools, and a client that checks every answer against the
OpenAPI document the app serves (status documented, required headers present, body valid)."""

import re
from datetime import timedelta

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate as validate_spec

from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import Tool, utcnow
from dashboard.tools import registry
from dashboard.tools.sync import sync_tools
from dashboard.tools.tool import ToolVersion, object_schema

RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def explode(payload: dict) -> dict:
    raise RuntimeError("boom")


def twin(version: str):
    def run(payload: dict) -> dict:
        return {"version": version, "n": payload["n"]}

    return run


def twin_version(version: str) -> ToolVersion:
    return ToolVersion(
        name="twin",
        version=version,
        title="Twin",
        description="Says which version ran.",
        input_schema=object_schema({"n": {"type": "integer"}}, required=["n"]),
        output_schema=object_schema(
            {"version": {"type": "string"}, "n": {"type": "integer"}}, required=["version", "n"]
        ),
        example_input={"n": 1},
        run=twin(version),
    )


TEST_TOOLS = [
    ToolVersion(
        name="explode",
        version="v1",
        title="Explode",
        description="Always fails.",
        input_schema=object_schema({}, required=[]),
        output_schema=object_schema({}, required=[]),
        example_input={},
        run=explode,
    ),
    twin_version("v1"),
    twin_version("v2"),
]


@pytest.fixture(scope="module", autouse=True)
def test_tools():
    """Register the test tools (a failing one, a two-version one) while a module runs."""
    for tool in TEST_TOOLS:
        registry.register(tool)
    yield
    for tool in TEST_TOOLS:
        registry.TOOLS.get(tool.name, {}).pop(tool.version, None)
        if not registry.TOOLS.get(tool.name):
            registry.TOOLS.pop(tool.name, None)


@pytest.fixture(autouse=True)
def synced_tools(app):
    """The tools table mirrors the registry, as after `flask tools sync`."""
    sync_tools(db.session, Tool)
    db.session.commit()


@pytest.fixture
def make_key(user):
    """make_key(**fields) -> secret; fields go to create_key or are set on the row after."""

    def make(owner=None, **fields):
        later = {
            name: fields.pop(name)
            for name in ("revoked_at", "grace_ends_at", "is_active")
            if name in fields
        }
        key, secret = create_key(owner or user, "test key", **fields)
        for name, value in later.items():
            setattr(key, name, value)
        db.session.commit()
        return secret

    return make


@pytest.fixture
def secret(make_key):
    """A working key of `user` (100 calls a minute)."""
    return make_key()


def ago(**delta) -> object:
    return utcnow() - timedelta(**delta)


def ahead(**delta) -> object:
    return utcnow() + timedelta(**delta)


class OpenApiChecker:
    """Finds the documented operation for an answer and checks the answer against it."""

    def __init__(self, document: dict) -> None:
        self.document = document
        templates = sorted(document["paths"], key=lambda path: ("{" in path, path))
        self.patterns = [
            (re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path)) + "$"), path)
            for path in templates
        ]

    def operation(self, method: str, path: str) -> dict | None:
        for pattern, template in self.patterns:
            if pattern.match(path):
                return self.document["paths"][template].get(method.lower())
        return None

    def validate(self, body, schema: dict) -> None:
        wrapped = {**schema, "components": self.document["components"]}
        validator = Draft202012Validator(wrapped, format_checker=FormatChecker())
        errors = [error.message for error in validator.iter_errors(body)]
        assert not errors, f"answer does not match the OpenAPI document: {errors}"

    def check(self, method: str, path: str, response, sent_key: bool) -> None:
        body = response.get_json()
        operation = self.operation(method, path)
        if operation is None:  # unknown route or method: still a JSON error
            assert response.status_code in (404, 405)
            self.validate(body, {"$ref": "#/components/schemas/Error"})
            return
        status = str(response.status_code)
        assert status in operation["responses"], f"{status} is not documented for {path}"
        spec = operation["responses"][status]
        for name, header in spec.get("headers", {}).items():
            header = self.resolve_ref(header)
            if header.get("required"):
                assert name in response.headers, f"{name} missing on {status} {path}"
            if name in response.headers and header["schema"].get("type") == "integer":
                assert re.fullmatch(r"\d+", response.headers[name]), name
        for name, _ in response.headers.items():
            if name.startswith("X-RateLimit") or name == "Retry-After":
                assert name in spec.get("headers", {}), f"undocumented header {name}"
        if sent_key and status not in ("401", "503") and operation.get("security") != []:
            for name in RATE_HEADERS:
                assert name in response.headers, f"{name} missing on {status} {path}"
        self.validate(body, spec["content"]["application/json"]["schema"])
        assert "Server-Timing" in response.headers
        assert "Set-Cookie" not in response.headers

    def resolve_ref(self, node: dict) -> dict:
        if "$ref" not in node:
            return node
        target = self.document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return target


_checked_documents: set[str] = set()


class ApiClient:
    """A test client for the API whose every answer is checked against the OpenAPI document."""

    def __init__(self, client) -> None:
        self.client = client
        self._checker = None

    @property
    def checker(self) -> OpenApiChecker:
        if self._checker is None:
            response = self.client.get("/api/openapi.json")
            assert response.status_code == 200
            document = response.get_json()
            marker = response.get_data(as_text=True)
            if marker not in _checked_documents:
                validate_spec(document)
                _checked_documents.add(marker)
            self._checker = OpenApiChecker(document)
        return self._checker

    def call(self, tool: str, body=None, *, key=None, version=None, header="bearer", **kwargs):
        """POST a tool call; `body` is sent as JSON unless `data=` is given."""
        path = f"/api/v1/tools/{tool}" + (f"/{version}" if version else "")
        if body is not None:
            kwargs["json"] = body
        return self.request("POST", path, key=key, header=header, **kwargs)

    def get(self, path: str, *, key=None, header="bearer", **kwargs):
        return self.request("GET", path, key=key, header=header, **kwargs)

    def request(self, method: str, path: str, *, key=None, header="bearer", **kwargs):
        headers = dict(kwargs.pop("headers", {}))
        if key is not None:
            if header == "bearer":
                headers["Authorization"] = f"Bearer {key}"
            else:
                headers["X-API-Key"] = key
        response = self.client.open(path, method=method, headers=headers, **kwargs)
        self.checker.check(method, path.split("?")[0], response, sent_key=key is not None)
        return response


@pytest.fixture
def api(client) -> ApiClient:
    return ApiClient(client)


def error_code(response) -> str:
    return response.get_json()["error"]["code"]
