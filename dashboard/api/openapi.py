"""The OpenAPI 3.1 document of the JSON API, built from the served tools' own schemas and the
shapes the API encodes its answers from (msgspec Structs: their schemas are derived here)."""

import json

import msgspec
from flask import current_app

from dashboard.api import leaks, management, management_hooks
from dashboard.api.answers import CallAnswer, Error, Health
from dashboard.api.catalog import Catalog, active_tools
from dashboard.api.codes import ErrorCode, codes_by_status
from dashboard.models import utcnow
from dashboard.tools.registry import ToolVersion
from dashboard.usage.service import Usage, UsageBreakdown

JSON = "application/json"
REF = "#/components/"

# Which error codes each operation can answer, grouped by status (dashboard.api.codes).
_AUTH = (
    ErrorCode.MISSING_API_KEY,
    ErrorCode.API_KEY_REQUIRED,
    ErrorCode.INVALID_API_KEY,
    ErrorCode.EXPIRED_API_KEY,
    ErrorCode.REVOKED_API_KEY,
)
_DOWN = (ErrorCode.DATABASE_UNAVAILABLE, ErrorCode.RATE_LIMITER_UNAVAILABLE)
DESCRIPTIONS = {
    400: "The request or its body cannot be used.",
    401: "No key, an unknown key, or a key that may no longer be used; on leak reports, no "
    "signature or one that does not verify.",
    403: "The key's restrictions refuse this call, or a root key lacks the route's scope.",
    404: "No such tool or version is served, or (management) no key or webhook endpoint of the "
    "account has this id (not_found: a name no route holds, such as one with an encoded slash).",
    409: "The request conflicts with the account's state (its plan's key cap, its cap on webhook "
    "endpoints, a key that is no longer active, an Idempotency-Key whose first request is still "
    "running).",
    410: "The tool version's sunset date has passed (see its `Sunset` header while it was "
    "served, and /docs/changelog).",
    413: "The body is larger than the API accepts.",
    422: "The input does not match the tool's input schema or passes one of the tool's own "
    "limits, or the tool's output for it would pass the version's output limit or the tool "
    "its memory cap.",
    429: "The key's or the account's per-minute limit, or (tool calls) the plan's monthly quota "
    "or its cap on calls in flight at once.",
    500: "The tool (or the gateway) failed while running, or its process died.",
    502: "An upstream tool failed, or answered something unusable (not JSON, too large, "
    "a redirect, or an output that breaks its schema).",
    503: "The database (or, when failing closed, the rate limiter) is unavailable; on tool "
    "calls also an upstream tool refused for now (failing, or at its limit of calls in progress).",
    504: "The tool did not answer within its deadline and was stopped.",
}


def errors_of(*codes: ErrorCode) -> dict:
    """{"status": (description, [code, ...])} for error_responses."""
    return {
        str(status): (DESCRIPTIONS[status], [str(code) for code in grouped])
        for status, grouped in codes_by_status(*codes).items()
    }


CALL_ERRORS = errors_of(
    ErrorCode.INVALID_JSON,
    *_AUTH,
    ErrorCode.IP_NOT_ALLOWED,
    ErrorCode.TOOL_NOT_ALLOWED,
    ErrorCode.UNKNOWN_TOOL,
    ErrorCode.UNKNOWN_VERSION,
    ErrorCode.NOT_FOUND,
    ErrorCode.TOOL_VERSION_RETIRED,
    ErrorCode.PAYLOAD_TOO_LARGE,
    ErrorCode.INVALID_INPUT,
    ErrorCode.OUTPUT_TOO_LARGE,
    ErrorCode.MEMORY_LIMIT_EXCEEDED,
    ErrorCode.RATE_LIMITED,
    ErrorCode.QUOTA_EXCEEDED,
    ErrorCode.KEY_QUOTA_EXCEEDED,
    ErrorCode.CONCURRENCY_LIMITED,
    ErrorCode.TOOL_ERROR,
    ErrorCode.INTERNAL_ERROR,
    ErrorCode.UPSTREAM_ERROR,
    ErrorCode.UPSTREAM_UNAVAILABLE,
    ErrorCode.TOOL_TIMEOUT,
    *_DOWN,
)
UPSTREAM_ONLY = ("502",)
RETIRED = "410"  # only versions with a sunset date
# Sent with every answer of a deprecated version once the tool is known (RFC 9745, RFC 8594).
DEPRECATION_HEADERS = ("Deprecation", "Sunset", "Link")
# 504: upstream tools past their timeout, and tools run in the tool pool past their deadline.
TIMEOUT = "504"
USAGE_ERRORS = errors_of(
    ErrorCode.INVALID_MONTH, *_AUTH, ErrorCode.IP_NOT_ALLOWED, ErrorCode.RATE_LIMITED, *_DOWN
)
RATE_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "RateLimit-Policy",
    "RateLimit",
)
# Sent on tool calls of a key with a monthly cap only.
KEY_QUOTA_HEADERS = ("X-Key-Quota-Limit", "X-Key-Quota-Remaining")


def month_pattern(today) -> str:
    """`YYYY-MM` for the months the usage endpoint answers: 2000 up to next year (or empty)."""
    years = "|".join(str(year) for year in range(2000, today.year + 2))
    return f"^(({years})-(0[1-9]|1[0-2]))?$"


def document() -> dict:
    """The whole OpenAPI 3.1 document, with one pair of paths per served tool."""
    tools = active_tools().all()
    # Only served tools have paths: any other name answers 404 unknown_tool (or not_found), and
    # a templated path would also match the served names with every other tool's body.
    paths = {
        "/api/v1/tools": {"get": catalog_operation()},
        "/api/v1/usage": {"get": usage_operation(utcnow().date())},
        "/api/v1/health": {"get": plain_operation("health", "Liveness check.", "Health")},
        "/api/openapi.json": {
            "get": plain_operation("openapi", "This document.", "OpenApiDocument")
        },
    }
    schemas = dict(COMPONENT_SCHEMAS)
    newest = {tool.name: tool for tool in tools}  # sorted by version: the last one wins
    for tool in tools:
        schemas[schema_name(tool, "Input")] = storable_input(tool, tool.input_schema)
        schemas[schema_name(tool, "Output")] = embedded(tool.output_schema, tool, "output")
        paths[f"/api/v1/tools/{tool.name}/{tool.version}"] = {"post": tool_operation(tool, True)}
    for tool in newest.values():
        paths[f"/api/v1/tools/{tool.name}"] = {"post": tool_operation(tool, False)}
    paths.update(management_paths(utcnow().date()))
    paths.update(hooks_paths())
    paths["/api/v1/leaks"] = {"post": leaks_operation()}
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Tools API",
            "version": "1",
            "description": INFO_DESCRIPTION.format(
                max_body=current_app.config["API_MAX_BODY_BYTES"]
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}, {"apiKeyHeader": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "The key."},
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "rootKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A root key (tk_root_…) from the dashboard's Root keys page.",
                },
            },
            "headers": HEADERS,
            "schemas": schemas,
        },
    }


INFO_DESCRIPTION = (
    "Run tools with an API key. Send the key as `Authorization: Bearer <key>` or "
    "`X-API-Key: <key>`. Bodies are JSON objects of at most {max_body} bytes. Every answer "
    "carries `Server-Timing` (gateway, tool and database time in ms); once the key is known, "
    "answers carry `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` "
    "(for whichever of the key's and the account's limits has fewer calls left) and the IETF "
    "`RateLimit-Policy` and `RateLimit` fields (both limits). Limits count the calls of the last "
    "60 seconds (a sliding window). Strings and property names may not hold \\u0000, and "
    "bodies may nest at most 64 levels (400 invalid_json). A method a path does not document "
    "answers 405 with an `Allow` header. Errors are "
    '`{{"error": {{"code": ..., "message": ...}}}}`.'
)


def schema_name(tool: ToolVersion, part: str) -> str:
    return f"{tool.name.title().replace('_', '')}{tool.version.upper()}{part}"


def embedded(schema: dict, tool: ToolVersion, part: str) -> dict:
    """A tool schema as its own resource ($id), so its local references keep working."""
    return {"$id": f"urn:tools-api:{tool.name}:{tool.version}:{part}", **schema}


NOT_NUL = "^[^\\u0000]*$"
STORABLE = f"{REF}schemas/StorableValue"


def storable_input(tool: ToolVersion, schema: dict) -> dict:
    """A tool's input schema that also says what the gateway refuses before the tool sees it:
    a NUL in any string or property name (400 invalid_json). Every string excludes NUL (beside
    its own pattern, if it has one), open objects take only names without NUL, and values of any
    type refer to the StorableValue component. A schema with references of its own keeps its
    $id (so they stay local, and the component cannot be referred to from inside it): its
    strings and names still exclude NUL, and only its values of any type go without the rule."""
    local = "$ref" in json.dumps(schema)

    def walk(node):
        if not isinstance(node, dict):
            return node
        node = {
            name: (
                {key: walk(value) for key, value in child.items()}
                if name in ("properties", "$defs", "patternProperties")
                else [walk(item) for item in child]
                if isinstance(child, list) and name in ("anyOf", "oneOf", "allOf", "prefixItems")
                else walk(child)
                if name in ("items", "additionalProperties", "not")
                else child
            )
            for name, child in node.items()
        }
        kinds = node.get("type")
        kinds = set(kinds) if isinstance(kinds, list) else {kinds} if kinds else set()
        if not kinds and not {"$ref", "anyOf", "oneOf", "allOf", "enum", "const"} & set(node):
            return node if local else {**node, "$ref": STORABLE}
        if "string" in kinds:
            if "pattern" not in node:
                node["pattern"] = NOT_NUL
            elif node["pattern"] != NOT_NUL:  # its own pattern, and NUL refused besides
                node["allOf"] = [*node.get("allOf", []), {"pattern": NOT_NUL}]
        if "object" in kinds and node.get("additionalProperties", True) is True:
            node["patternProperties"] = {NOT_NUL: True if local else {"$ref": STORABLE}}
            node["additionalProperties"] = False  # names holding NUL
        return node

    walked = walk(schema)
    return embedded(walked, tool, "input") if local else walked


def ref(kind: str, name: str) -> dict:
    return {"$ref": f"{REF}{kind}/{name}"}


def json_content(schema: dict) -> dict:
    return {JSON: {"schema": schema}}


def headers(*names: str, retry_after: bool = False, authenticate: bool = False) -> dict:
    found = {"Server-Timing": ref("headers", "Server-Timing")}
    found.update({name: ref("headers", name) for name in names})
    if retry_after:
        found["Retry-After"] = ref("headers", "Retry-After")
    if authenticate:
        found["WWW-Authenticate"] = ref("headers", "WWW-Authenticate")
    return found


def error_responses(errors: dict) -> dict:
    """One response per status, its body an Error whose code is one of the listed codes."""
    responses = {}
    for status, (description, codes) in errors.items():
        schema = {
            "allOf": [
                ref("schemas", "Error"),
                {"properties": {"error": {"properties": {"code": {"enum": codes}}}}},
            ]
        }
        if status == "422" and "invalid_input" in codes:
            schema["allOf"].append(ref("schemas", "InvalidInputError"))
            description += " output_too_large and memory_limit_exceeded also have limit."
        if status == "429" and "quota_exceeded" in codes:
            description += (
                " A quota_exceeded or key_quota_exceeded error also has limit, used and resets_at."
            )
        responses[status] = {
            "description": description + " Codes: " + ", ".join(codes) + ".",
            "headers": headers(
                *(RATE_HEADERS + KEY_QUOTA_HEADERS if has_rate_headers(status, codes) else ()),
                retry_after=status == "429",
                authenticate=status == "401",
            ),
            "content": json_content(schema),
        }
    return responses


def has_rate_headers(status: str, codes: list[str]) -> bool:
    """Every answer after the key's window is known: not 401s, not the 503s of an outage."""
    return status != "401" and (status != "503" or "upstream_unavailable" in codes)


def call_operation(
    operation_id: str, summary: str, description: str, body: dict, output: dict, params: list
) -> dict:
    # The result as one object whose `output` is the tool's own schema (not allOf over a
    # generic result), so that generated clients get a typed output per tool; untitled, so that
    # they name it after the operation.
    answer = {key: value for key, value in CALL_ANSWER.items() if key != "title"}
    result = {**answer, "properties": {**answer["properties"], "output": output}}
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "tags": ["tools"],
        "parameters": params,
        "requestBody": {"required": True, "content": json_content(body)},
        "responses": {
            "200": {
                "description": "The tool ran. The call is logged; request_id is its log id.",
                "headers": headers(*RATE_HEADERS, *KEY_QUOTA_HEADERS),
                "content": json_content(result),
                "links": {
                    "UsageOfThisMonth": {
                        "operationId": "get_usage",
                        "description": "The key owner's usage this month, this call counted.",
                    }
                },
            },
            **error_responses(CALL_ERRORS),
        },
    }


def tool_operation(tool: ToolVersion, pinned: bool) -> dict:
    """POST for one served tool: its own input and output schemas."""
    version_note = f"version {tool.version}" if pinned else f"its newest version ({tool.version})"
    operation = call_operation(
        f"call_{tool.name}_{tool.version}" if pinned else f"call_{tool.name}",
        f"{tool.title} ({tool.version})" if pinned else tool.title,
        f"{tool.description}\n\nRuns {version_note}.",
        ref("schemas", schema_name(tool, "Input")),
        ref("schemas", schema_name(tool, "Output")),
        [],
    )
    operation["requestBody"]["content"][JSON]["example"] = tool.example_input
    if tool.sunset_on is None:  # only a version with a sunset date is ever retired
        operation["responses"].pop(RETIRED)
    if tool.deprecated_on is not None:
        operation["deprecated"] = True
        operation["description"] += "\n\n" + deprecation_note(tool)
        names = DEPRECATION_HEADERS if tool.sunset_on else ("Deprecation", "Link")
        for status, response in operation["responses"].items():
            # 401s come before the tool is known; every later answer says it is deprecated.
            if status != "401":
                response["headers"].update({name: ref("headers", name) for name in names})
    if tool.kind != "upstream":  # only upstream tools answer 502, and 503 for their own
        for status in UPSTREAM_ONLY:
            operation["responses"].pop(status, None)
        if not (current_app.config["TOOL_ISOLATION"] and tool.isolated):
            operation["responses"].pop(TIMEOUT, None)
    return operation


def deprecation_note(tool: ToolVersion) -> str:
    """What a deprecated version's operation says of it."""
    note = f"**Deprecated** since {tool.deprecated_on:%Y-%m-%d}"
    if tool.sunset_on:
        note += f"; retired on {tool.sunset_on:%Y-%m-%d} (from then on: 410 tool_version_retired)"
    if tool.replacement:
        note += f". Use {tool.replacement} instead"
    return note + ". See /docs/changelog."


def catalog_operation() -> dict:
    return {
        "operationId": "list_tools",
        "summary": "The catalog of tools",
        "description": "Every served tool with its versions, schemas and an example input.",
        "tags": ["tools"],
        "security": [],
        "responses": {
            "200": {
                "description": "The catalog.",
                "headers": headers(),
                "content": json_content(ref("schemas", "Catalog")),
            },
            "503": error_responses({"503": CALL_ERRORS["503"]})["503"],
        },
    }


def usage_operation(today) -> dict:
    return {
        "operationId": "get_usage",
        "summary": "The key owner's usage for a month",
        "tags": ["usage"],
        "parameters": [
            {
                "name": "month",
                "in": "query",
                "required": False,
                "description": "YYYY-MM (UTC), from 2000 to next year; this month when left "
                "out or empty.",
                "schema": {"type": "string", "pattern": month_pattern(today)},
            }
        ],
        "responses": {
            "200": {
                "description": "The month's usage, as the dashboard's usage page shows it.",
                "headers": headers(*RATE_HEADERS),
                "content": json_content(ref("schemas", "Usage")),
            },
            **error_responses(USAGE_ERRORS),
        },
    }


def plain_operation(operation_id: str, summary: str, schema: str) -> dict:
    return {
        "operationId": operation_id,
        "summary": summary,
        "tags": ["meta"],
        "security": [],
        "responses": {
            "200": {
                "description": summary,
                "headers": headers(),
                "content": json_content(ref("schemas", schema)),
            }
        },
    }


def integer_header(description: str, required: bool = False) -> dict:
    return {"description": description, "required": required, "schema": {"type": "integer"}}


HEADERS = {
    "Server-Timing": {
        "description": "`gateway;dur=…, tool;dur=…, db;dur=…` in milliseconds.",
        "required": True,
        "schema": {"type": "string"},
    },
    "X-RateLimit-Limit": integer_header(
        "Calls a minute of the binding limit (the key's or the account's, whichever has fewer "
        "calls left). Sent once the key is known, except while the rate-limit storage is "
        "unreachable (the gateway then fails open)."
    ),
    "X-RateLimit-Remaining": integer_header("Calls left in the binding limit's window."),
    "X-Key-Quota-Limit": integer_header(
        "The key's own monthly cap of calls (only for a key that has one)."
    ),
    "X-Key-Quota-Remaining": integer_header(
        "Calls the key may still make this calendar month (UTC), after this one."
    ),
    "X-RateLimit-Reset": integer_header(
        "Seconds until the binding limit's sliding window next frees a place."
    ),
    "RateLimit-Policy": {
        "description": 'Both limits, e.g. `"key";q=100;w=60, "account";q=1000;w=60` '
        "(draft-ietf-httpapi-ratelimit-headers).",
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'Calls left and seconds until a place frees, per limit: `"key";r=99;t=60, '
        '"account";r=999;t=60`.',
        "schema": {"type": "string"},
    },
    "Retry-After": integer_header("Seconds to wait before trying again.", required=True),
    "Deprecation": {
        "description": "The version is deprecated (RFC 9745): `@<unix seconds>`, when it was "
        "(or will be) deprecated. Sent on every answer of the version once the key is known.",
        "schema": {"type": "string", "pattern": "^@-?[0-9]+$"},
    },
    "Sunset": {
        "description": "When the deprecated version is retired (RFC 8594), an HTTP-date; from "
        "then on its calls answer 410 tool_version_retired.",
        "schema": {"type": "string"},
    },
    "Link": {
        "description": 'With a deprecated version: `<…/docs/changelog>; rel="deprecation"`, the '
        "page that says what replaces it (RFC 9745).",
        "schema": {"type": "string"},
    },
    "WWW-Authenticate": {
        "description": "Sent with missing_api_key.",
        "schema": {"type": "string"},
    },
}

# The shapes the API encodes its answers from, as JSON Schema: the catalog, usage, health, the
# error envelope and a call's answer (whose `output` each tool operation replaces with the
# tool's own output schema, inline, so it is no component of its own).
_, SHAPES = msgspec.json.schema_components(
    [
        Catalog,
        Usage,
        Health,
        Error,
        CallAnswer,
        management.KeyInfo,
        management.KeyList,
        management.KeyWithSecret,
        management.KeyCreate,
        management.KeyUpdate,
        management.KeyRoll,
        management.LogList,
        UsageBreakdown,
        management_hooks.ErrorGroupList,
        management_hooks.WebhookList,
        management_hooks.WebhookInfo,
        management_hooks.WebhookWithSecret,
        management_hooks.WebhookCreate,
        management_hooks.WebhookUpdate,
        leaks.LeakReport,
        leaks.LeakLabel,
    ],
    ref_template=f"{REF}schemas/{{name}}",
)
CALL_ANSWER = SHAPES.pop("CallAnswer")
# openapi-python-client names an enum's members from x-enum-varnames (else VALUE_0, VALUE_1, …),
# so a generated client writes KeyRollGrace.ONE_HOUR; msgspec sorts the values, hence a lookup.
GRACE_NAMES = {"none": "NONE", "1h": "ONE_HOUR", "24h": "ONE_DAY", "7d": "SEVEN_DAYS"}
_grace = SHAPES["KeyRoll"]["properties"]["grace"]
_grace["x-enum-varnames"] = [GRACE_NAMES[value] for value in _grace["enum"]]

COMPONENT_SCHEMAS = {
    "StorableValue": {
        "description": "Any JSON value with no \\u0000 in a string or property name, nested at "
        "most 64 levels in the body.",
        "type": ["null", "boolean", "number", "string", "array", "object"],
        "pattern": NOT_NUL,
        "items": {"$ref": STORABLE},
        "patternProperties": {NOT_NUL: {"$ref": STORABLE}},
        "additionalProperties": False,
    },
    **SHAPES,
    "InvalidInputError": {
        "description": "Every 422 is logged (request_id); invalid_input lists its errors, "
        "output_too_large and memory_limit_exceeded name their limit.",
        "type": "object",
        "properties": {"error": {"type": "object", "required": ["request_id"]}},
        "allOf": [
            {
                "if": {"properties": {"error": {"properties": {"code": {"const": code}}}}},
                "then": {"properties": {"error": {"required": [field]}}},
            }
            for code, field in (
                ("invalid_input", "errors"),
                ("output_too_large", "limit"),
                ("memory_limit_exceeded", "limit"),
            )
        ],
    },
    "OpenApiDocument": {
        "type": "object",
        "required": ["openapi", "info", "paths"],
        "properties": {"openapi": {"type": "string", "pattern": "^3\\.1\\."}},
    },
}


# The management API (dashboard/api/management.py): root keys only.

_ROOT_AUTH = (
    ErrorCode.MISSING_API_KEY,
    ErrorCode.ROOT_KEY_REQUIRED,
    ErrorCode.INVALID_API_KEY,
    ErrorCode.EXPIRED_API_KEY,
    ErrorCode.REVOKED_API_KEY,
    ErrorCode.IP_NOT_ALLOWED,
    ErrorCode.INSUFFICIENT_SCOPE,
    ErrorCode.RATE_LIMITED,
    *_DOWN,
)
_WRITES = (
    ErrorCode.INVALID_JSON,
    ErrorCode.INVALID_PARAMETERS,
    ErrorCode.IDEMPOTENCY_KEY_REUSED,
    ErrorCode.IDEMPOTENCY_IN_PROGRESS,
    ErrorCode.IDEMPOTENCY_KEYS_EXHAUSTED,
    ErrorCode.PAYLOAD_TOO_LARGE,
)
KEY_ID = {
    "name": "key_id",
    "in": "path",
    "required": True,
    "description": "The key's id.",
    "schema": {"type": "string"},
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any string of 1 to 255 characters: a retry with it gets the first answer "
    "again (a secret in it as null) and never makes a second key.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
LOG_PARAMETERS = tuple(
    {"name": name, "in": "query", "required": False, "description": description, "schema": schema}
    for name, description, schema in (
        ("status", "success or error", {"type": "string", "enum": ["success", "error"]}),
        ("tool", "A tool's name.", {"type": "string"}),
        ("key_id", "One of the account's keys.", {"type": "string"}),
        (
            "since",
            "From this time (RFC 3339, with its offset).",
            {"type": "string", "format": "date-time"},
        ),
        (
            "until",
            "Before this time (RFC 3339, with its offset).",
            {"type": "string", "format": "date-time"},
        ),
        ("cursor", "The next_cursor of the page before.", {"type": "string"}),
        (
            "limit",
            "Calls a page, 1 to 100 (50).",
            {"type": "integer", "minimum": 1, "maximum": 100},
        ),
    )
)
BREAKDOWN_PARAMETERS = tuple(
    {"name": name, "in": "query", "required": False, "description": description, "schema": schema}
    for name, description, schema in (
        (
            "group_by",
            "day (the default), key or tool.",
            {"type": "string", "enum": ["day", "key", "tool"]},
        ),
        ("key_id", "Only this key's calls (a deleted key's too).", {"type": "string"}),
        ("tool", "Only this tool's calls.", {"type": "string"}),
    )
)
KEY_LINKS = {
    "GetKey": ("get_key", "The key."),
    "UpdateKey": ("update_key", "Change the key."),
    "RollKey": ("roll_key", "Roll the key."),
    "ExpireKey": ("expire_key", "Expire the key."),
    "DeleteKey": ("delete_key", "Delete the key."),
}


def key_links(pointer: str) -> dict:
    return {
        name: {
            "operationId": operation,
            "parameters": {"key_id": f"$response.body#{pointer}"},
            "description": description,
        }
        for name, (operation, description) in KEY_LINKS.items()
    }


def management_operation(
    operation_id: str,
    summary: str,
    answer: str,
    *codes: ErrorCode,
    status: str = "200",
    body: str | None = None,
    params: tuple = (),
    links: dict | None = None,
    tags: tuple = (),
    body_required: bool = False,
) -> dict:
    operation = {
        "operationId": operation_id,
        "summary": summary,
        "tags": ["management", *tags],
        "security": [{"rootKey": []}],
        "parameters": list(params),
        "responses": {
            status: {
                "description": summary,
                "headers": headers(*RATE_HEADERS),
                "content": json_content(ref("schemas", answer)),
            },
            **error_responses(errors_of(*_ROOT_AUTH, *codes)),
        },
    }
    if links:
        operation["responses"][status]["links"] = links
    if body:
        operation["requestBody"] = {
            "required": body_required,  # a body whose shape has required fields
            "content": json_content(ref("schemas", body)),
        }
    return operation


def management_paths(today) -> dict:
    written = (*_WRITES, ErrorCode.KEY_NOT_FOUND)
    restricted = (ErrorCode.RATE_LIMIT_ABOVE_PLAN,)
    usage = usage_operation(today)
    return {
        "/api/v1/keys": {
            "get": management_operation(
                "list_keys", "The account's API keys", "KeyList", links=key_links("/keys/0/id")
            ),
            "post": management_operation(
                "create_key",
                "Create an API key (its secret is in this answer only)",
                "KeyWithSecret",
                *_WRITES,
                *restricted,
                ErrorCode.KEY_LIMIT_REACHED,
                status="201",
                body="KeyCreate",
                body_required=True,
                params=(IDEMPOTENCY_KEY,),
                links=key_links("/key/id"),
            ),
        },
        "/api/v1/keys/{key_id}": {
            "get": management_operation(
                "get_key", "One API key", "KeyInfo", ErrorCode.KEY_NOT_FOUND, params=(KEY_ID,)
            ),
            "patch": management_operation(
                "update_key",
                "Change a key's name, rate limit or restrictions",
                "KeyInfo",
                *written,
                *restricted,
                body="KeyUpdate",
                params=(KEY_ID, IDEMPOTENCY_KEY),
            ),
            "delete": management_operation(
                "delete_key",
                "Delete a key: it stops now and leaves the lists; its calls stay in the logs "
                "and the month's usage (answered once: the key is then 404)",
                "KeyInfo",
                *written,
                params=(KEY_ID, IDEMPOTENCY_KEY),
            ),
        },
        "/api/v1/keys/{key_id}/roll": {
            "post": management_operation(
                "roll_key",
                "Roll a key: a successor with a new secret; the old one works for `grace`",
                "KeyWithSecret",
                *written,
                ErrorCode.KEY_NOT_ACTIVE,
                ErrorCode.KEY_LIMIT_REACHED,
                status="201",
                body="KeyRoll",
                params=(KEY_ID, IDEMPOTENCY_KEY),
                links=key_links("/key/id"),
            ),
        },
        "/api/v1/keys/{key_id}/expire": {
            "post": management_operation(
                "expire_key",
                "Expire a key now",
                "KeyInfo",
                *written,
                params=(KEY_ID, IDEMPOTENCY_KEY),
            ),
        },
        "/api/v1/logs": {
            "get": management_operation(
                "list_logs",
                "The account's logged calls, newest first, a page at a time",
                "LogList",
                ErrorCode.INVALID_PARAMETERS,
                ErrorCode.KEY_NOT_FOUND,
                params=LOG_PARAMETERS,
            ),
        },
        "/api/v1/account/usage": {
            "get": management_operation(
                "get_account_usage",
                "The account's usage for a month, by day and tool",
                "Usage",
                ErrorCode.INVALID_MONTH,
                params=tuple(usage["parameters"]),
            ),
        },
        "/api/v1/account/usage/breakdown": {
            "get": management_operation(
                "get_account_usage_breakdown",
                "The account's usage of live keys for a month, by day, key or tool",
                "UsageBreakdown",
                ErrorCode.INVALID_MONTH,
                ErrorCode.INVALID_PARAMETERS,
                ErrorCode.KEY_NOT_FOUND,
                params=(*usage["parameters"], *BREAKDOWN_PARAMETERS),
            ),
        },
    }


# Error groups and webhook endpoints (dashboard/api/management_hooks.py): root keys too, tagged
# `management` (the Schemathesis walks) and `errors` or `webhooks`.

WEBHOOK_ID = {
    "name": "webhook_id",
    "in": "path",
    "required": True,
    "description": "The webhook endpoint's id.",
    "schema": {"type": "string"},
}
ERROR_PARAMETERS = tuple(
    {"name": name, "in": "query", "required": False, "description": description, "schema": schema}
    for name, description, schema in (
        (
            "days",
            "The period in UTC days, as the errors inbox offers it (1, 7, 30, 90; 0: the plan's "
            "whole log retention). A period longer than the retention is cut to it, with a "
            "`note`. Default 30, or the whole retention when it is shorter.",
            {"type": "integer", "enum": [1, 7, 30, 90, 0]},
        ),
        ("cursor", "The next_cursor of the page before.", {"type": "string"}),
        (
            "limit",
            f"Groups a page, 1 to {management_hooks.ERRORS_PAGE_MAX} "
            f"({management_hooks.ERRORS_PAGE_MAX}).",
            {"type": "integer", "minimum": 1, "maximum": management_hooks.ERRORS_PAGE_MAX},
        ),
    )
)
WEBHOOK_LINKS = {
    "GetWebhook": ("get_webhook", "The endpoint."),
    "UpdateWebhook": ("update_webhook", "Change the endpoint."),
    "DeleteWebhook": ("delete_webhook", "Delete the endpoint."),
}


def webhook_links(pointer: str) -> dict:
    return {
        name: {
            "operationId": operation,
            "parameters": {"webhook_id": f"$response.body#{pointer}"},
            "description": description,
        }
        for name, (operation, description) in WEBHOOK_LINKS.items()
    }


def hooks_paths() -> dict:
    written = (*_WRITES, ErrorCode.WEBHOOK_NOT_FOUND, ErrorCode.INVALID_WEBHOOK_URL)
    return {
        "/api/v1/errors": {
            "get": management_operation(
                "list_errors",
                "The account's error groups, as the errors inbox shows them, a page at a time",
                "ErrorGroupList",
                ErrorCode.INVALID_PARAMETERS,
                params=ERROR_PARAMETERS,
                tags=("errors",),
            ),
        },
        "/api/v1/webhooks": {
            "get": management_operation(
                "list_webhooks",
                "The account's webhook endpoints",
                "WebhookList",
                links=webhook_links("/webhooks/0/id"),
                tags=("webhooks",),
            ),
            "post": management_operation(
                "create_webhook",
                "Add a webhook endpoint (its signing secret is in this answer only)",
                "WebhookWithSecret",
                *_WRITES,
                ErrorCode.INVALID_WEBHOOK_URL,
                ErrorCode.WEBHOOK_LIMIT_REACHED,
                status="201",
                body="WebhookCreate",
                body_required=True,
                params=(IDEMPOTENCY_KEY,),
                links=webhook_links("/webhook/id"),
                tags=("webhooks",),
            ),
        },
        "/api/v1/webhooks/{webhook_id}": {
            "get": management_operation(
                "get_webhook",
                "One webhook endpoint",
                "WebhookInfo",
                ErrorCode.WEBHOOK_NOT_FOUND,
                params=(WEBHOOK_ID,),
                tags=("webhooks",),
            ),
            "patch": management_operation(
                "update_webhook",
                "Change a webhook endpoint's URL, description or events, or disable or enable it",
                "WebhookInfo",
                *written,
                body="WebhookUpdate",
                params=(WEBHOOK_ID, IDEMPOTENCY_KEY),
                tags=("webhooks",),
            ),
            "delete": management_operation(
                "delete_webhook",
                "Delete a webhook endpoint and its delivery log (the answer: it as it was)",
                "WebhookInfo",
                *_WRITES,
                ErrorCode.WEBHOOK_NOT_FOUND,
                params=(WEBHOOK_ID, IDEMPOTENCY_KEY),
                tags=("webhooks",),
            ),
        },
    }


# Leak reports (dashboard/api/leaks.py): signed by the scanner, no key.

LEAK_ERRORS = errors_of(
    ErrorCode.INVALID_JSON,
    ErrorCode.MISSING_SIGNATURE,
    ErrorCode.INVALID_SIGNATURE,
    ErrorCode.PAYLOAD_TOO_LARGE,
    ErrorCode.TOO_MANY_LEAK_REPORTS,
    ErrorCode.INVALID_PARAMETERS,
    ErrorCode.DATABASE_UNAVAILABLE,
)


def signature_header(name: str, description: str) -> dict:
    return {
        "name": name,
        "in": "header",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def leaks_operation() -> dict:
    return {
        "operationId": "report_leaks",
        "summary": "Report leaked keys (for secret scanners, as GitHub's partner programme)",
        "description": "A JSON array of tokens found in public, signed instead of sent with a "
        "key: Github-Public-Key-Signature is the base64 DER ECDSA P-256 SHA-256 signature of "
        "the raw body by the public key Github-Public-Key-Identifier names (configured in "
        "LEAK_REPORT_PUBLIC_KEYS). Each of our keys among them is expired (or flagged, by its "
        "account's setting) and its owners are emailed; the answer labels every token.",
        "tags": ["leaks"],
        "security": [],
        "parameters": [
            signature_header(leaks.KEY_ID_HEADER, "The identifier of the signing public key."),
            signature_header(leaks.SIGNATURE_HEADER, "Base64 DER ECDSA signature of the body."),
        ],
        "requestBody": {
            "required": True,
            "content": json_content(
                {
                    "type": "array",
                    "maxItems": current_app.config["LEAK_REPORT_MAX_TOKENS"],
                    "items": ref("schemas", "LeakReport"),
                }
            ),
        },
        "responses": {
            "200": {
                "description": "One label per reported token, in the order sent.",
                "headers": headers(),
                "content": json_content({"type": "array", "items": ref("schemas", "LeakLabel")}),
            },
            **error_responses(LEAK_ERRORS),
        },
    }
