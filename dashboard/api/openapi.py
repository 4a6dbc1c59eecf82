"""The OpenAPI 3.1 document of the JSON API, built from the served tools' own schemas."""

from flask import current_app

from dashboard.api.catalog import active_tools
from dashboard.api.codes import ErrorCode, codes_by_status
from dashboard.tools.registry import ToolVersion

JSON = "application/json"
REF = "#/components/"

# Which error codes each operation can answer, grouped by status (dashboard.api.codes).
_AUTH = (
    ErrorCode.MISSING_API_KEY,
    ErrorCode.INVALID_API_KEY,
    ErrorCode.EXPIRED_API_KEY,
    ErrorCode.REVOKED_API_KEY,
)
_DOWN = (ErrorCode.DATABASE_UNAVAILABLE, ErrorCode.RATE_LIMITER_UNAVAILABLE)
DESCRIPTIONS = {
    400: "The request or its body cannot be used.",
    401: "No key, an unknown key, or a key that may no longer be used.",
    403: "The key's restrictions refuse this call.",
    404: "No such tool or version is served.",
    413: "The body is larger than the API accepts.",
    422: "The input does not match the tool's input schema.",
    429: "The key's rate limit or the plan's quota.",
    500: "The tool (or the gateway) failed while running.",
    502: "An upstream tool failed, or answered something unusable (not JSON, too large, "
    "a redirect, or an output that breaks its schema).",
    503: "The database (or, when failing closed, the rate limiter) is unavailable; on tool "
    "calls also an upstream tool refused for now (failing, or at its limit of calls in progress).",
    504: "The tool did not answer within its deadline.",
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
    ErrorCode.PAYLOAD_TOO_LARGE,
    ErrorCode.INVALID_INPUT,
    ErrorCode.RATE_LIMITED,
    ErrorCode.QUOTA_EXCEEDED,
    ErrorCode.TOOL_ERROR,
    ErrorCode.INTERNAL_ERROR,
    ErrorCode.UPSTREAM_ERROR,
    ErrorCode.UPSTREAM_UNAVAILABLE,
    ErrorCode.TOOL_TIMEOUT,
    *_DOWN,
)
UPSTREAM_ONLY = ("502", "504")
USAGE_ERRORS = errors_of(
    ErrorCode.INVALID_MONTH, *_AUTH, ErrorCode.IP_NOT_ALLOWED, ErrorCode.RATE_LIMITED, *_DOWN
)
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def document() -> dict:
    """The whole OpenAPI 3.1 document, with one pair of paths per served tool."""
    tools = active_tools().all()
    paths = {
        "/api/v1/tools": {"get": catalog_operation()},
        "/api/v1/tools/{name}": {"post": generic_call_operation(pinned=False)},
        "/api/v1/tools/{name}/{version}": {"post": generic_call_operation(pinned=True)},
        "/api/v1/usage": {"get": usage_operation()},
        "/api/v1/health": {"get": plain_operation("health", "Liveness check.", "Health")},
        "/api/openapi.json": {
            "get": plain_operation("openapi", "This document.", "OpenApiDocument")
        },
    }
    schemas = dict(COMPONENT_SCHEMAS)
    newest = {tool.name: tool for tool in tools}  # sorted by version: the last one wins
    for tool in tools:
        schemas[schema_name(tool, "Input")] = embedded(tool.input_schema, tool, "input")
        schemas[schema_name(tool, "Output")] = embedded(tool.output_schema, tool, "output")
        paths[f"/api/v1/tools/{tool.name}/{tool.version}"] = {"post": tool_operation(tool, True)}
    for tool in newest.values():
        paths[f"/api/v1/tools/{tool.name}"] = {"post": tool_operation(tool, False)}
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
    "(seconds until the key's one-minute window resets). Errors are "
    '`{{"error": {{"code": ..., "message": ...}}}}`.'
)


def schema_name(tool: ToolVersion, part: str) -> str:
    return f"{tool.name.title().replace('_', '')}{tool.version.upper()}{part}"


def embedded(schema: dict, tool: ToolVersion, part: str) -> dict:
    """A tool schema as its own resource ($id), so its local references keep working."""
    return {"$id": f"urn:tools-api:{tool.name}:{tool.version}:{part}", **schema}


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
        if status == "422":
            schema["allOf"].append(ref("schemas", "InvalidInputError"))
        if status == "429" and "quota_exceeded" in codes:
            description += " A quota_exceeded error also has limit, used and resets_at."
        responses[status] = {
            "description": description + " Codes: " + ", ".join(codes) + ".",
            "headers": headers(
                *(RATE_HEADERS if has_rate_headers(status, codes) else ()),
                retry_after=status == "429",
                authenticate=status == "401",
            ),
            "content": json_content(schema),
        }
    return responses


def has_rate_headers(status: str, codes: list[str]) -> bool:
    """Every answer after the key's window is known: not 401s, not the 503s of an outage."""
    return status != "401" and (status != "503" or "upstream_unavailable" in codes)


def call_parameters(pinned: bool, templated: bool) -> list[dict]:
    if not templated:
        return []
    parameters = [
        {
            "name": "name",
            "in": "path",
            "required": True,
            "description": "The tool's name, as GET /api/v1/tools lists it.",
            "schema": {"type": "string"},
        }
    ]
    if pinned:
        parameters.append(
            {
                "name": "version",
                "in": "path",
                "required": True,
                "description": "A version such as `v1` or `v2`.",
                "schema": {"type": "string", "pattern": "^v[0-9]+$"},
            }
        )
    return parameters


def call_operation(
    operation_id: str, summary: str, description: str, body: dict, output: dict, params: list
) -> dict:
    result = {
        "allOf": [
            ref("schemas", "CallResult"),
            {"properties": {"output": output}},
        ]
    }
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
                "headers": headers(*RATE_HEADERS),
                "content": json_content(result),
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
    if tool.kind != "upstream":  # only upstream tools answer 502, and 503/504 for their own
        for status in UPSTREAM_ONLY:
            operation["responses"].pop(status, None)
    return operation


def generic_call_operation(pinned: bool) -> dict:
    """POST for any tool name (and version): what every tool call has in common."""
    return call_operation(
        "call_tool_version" if pinned else "call_tool",
        "Run a pinned version of a tool" if pinned else "Run the newest version of a tool",
        "The body is the tool's input object (its schema is in GET /api/v1/tools and under "
        "the tool's own path in this document). Names that are not served answer 404.",
        {"type": "object"},
        {"type": "object"},
        call_parameters(pinned, templated=True),
    )


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


def usage_operation() -> dict:
    return {
        "operationId": "get_usage",
        "summary": "The key owner's usage for a month",
        "tags": ["usage"],
        "parameters": [
            {
                "name": "month",
                "in": "query",
                "required": False,
                "description": "YYYY-MM (UTC); this month when left out.",
                "schema": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
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
        "Calls the key may make a minute. Sent once the key is known, except while the "
        "rate-limit storage is unreachable (the gateway then fails open)."
    ),
    "X-RateLimit-Remaining": integer_header("Calls left in the key's current window."),
    "X-RateLimit-Reset": integer_header("Seconds until the key's current window resets."),
    "Retry-After": integer_header("Seconds to wait before trying again.", required=True),
    "WWW-Authenticate": {
        "description": "Sent with missing_api_key.",
        "schema": {"type": "string"},
    },
}

_COUNTS = {"type": "integer", "minimum": 0}
COMPONENT_SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "request_id": {
                        "type": "string",
                        "format": "uuid",
                        "description": "The call's log id, for errors that are logged.",
                    },
                    "errors": {"type": "array", "items": {"$ref": f"{REF}schemas/SchemaError"}},
                    "limit": {**_COUNTS, "description": "quota_exceeded: the plan's quota."},
                    "used": {**_COUNTS, "description": "quota_exceeded: calls this month."},
                    "resets_at": {"type": "string", "format": "date-time"},
                },
            }
        },
    },
    "InvalidInputError": {
        "type": "object",
        "properties": {
            "error": {"type": "object", "required": ["errors", "request_id"]},
        },
    },
    "SchemaError": {
        "type": "object",
        "required": ["path", "message"],
        "properties": {
            "path": {"type": "string", "description": "JSON Pointer into the input."},
            "message": {"type": "string"},
        },
        "additionalProperties": False,
    },
    "CallResult": {
        "type": "object",
        "required": ["tool", "version", "output", "usage", "request_id"],
        "properties": {
            "tool": {"type": "string"},
            "version": {"type": "string"},
            "output": {"type": "object"},
            "usage": {
                "type": "object",
                "required": ["tokens", "execution_time_ms"],
                "properties": {"tokens": _COUNTS, "execution_time_ms": _COUNTS},
                "additionalProperties": False,
            },
            "request_id": {"type": "string", "format": "uuid"},
        },
        "additionalProperties": False,
    },
    "Catalog": {
        "type": "object",
        "required": ["tools"],
        "properties": {"tools": {"type": "array", "items": {"$ref": f"{REF}schemas/CatalogTool"}}},
        "additionalProperties": False,
    },
    "CatalogTool": {
        "type": "object",
        "required": ["name", "title", "description", "latest_version", "endpoint", "versions"],
        "properties": {
            "name": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "latest_version": {"type": "string"},
            "endpoint": {"type": "string"},
            "versions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": [
                        "version",
                        "title",
                        "description",
                        "endpoint",
                        "input_schema",
                        "output_schema",
                        "example_input",
                    ],
                    "properties": {
                        "version": {"type": "string"},
                        "title": {"type": "string"},
                        "description": {"type": "string"},
                        "endpoint": {"type": "string"},
                        "input_schema": {"type": "object"},
                        "output_schema": {"type": "object"},
                        "example_input": {"type": "object"},
                    },
                    "additionalProperties": False,
                },
            },
        },
        "additionalProperties": False,
    },
    "Usage": {
        "type": "object",
        "required": [
            "month",
            "plan",
            "calls",
            "tokens",
            "errors",
            "error_rate",
            "rejected",
            "quota",
            "days",
            "tools",
        ],
        "properties": {
            "month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
            "plan": {
                "type": "object",
                "required": ["name", "monthly_calls"],
                "properties": {"name": {"type": "string"}, "monthly_calls": _COUNTS},
            },
            "calls": _COUNTS,
            "tokens": _COUNTS,
            "errors": _COUNTS,
            "error_rate": {"type": "number", "minimum": 0, "maximum": 1},
            "rejected": {
                "type": "object",
                "required": ["rate_limit", "quota"],
                "properties": {"rate_limit": _COUNTS, "quota": _COUNTS},
            },
            "quota": {
                "type": "object",
                "required": ["limit", "used", "remaining", "resets_at"],
                "properties": {
                    "limit": _COUNTS,
                    "used": _COUNTS,
                    "remaining": _COUNTS,
                    "resets_at": {"type": "string", "format": "date-time"},
                },
            },
            "days": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": [
                        "date",
                        "calls",
                        "errors",
                        "tokens",
                        "rejected_rate_limit",
                        "rejected_quota",
                    ],
                    "properties": {
                        "date": {"type": "string", "format": "date"},
                        "calls": _COUNTS,
                        "errors": _COUNTS,
                        "tokens": _COUNTS,
                        "rejected_rate_limit": _COUNTS,
                        "rejected_quota": _COUNTS,
                    },
                },
            },
            "tools": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["tool", "calls", "errors", "tokens"],
                    "properties": {
                        "tool": {"type": "string"},
                        "calls": _COUNTS,
                        "errors": _COUNTS,
                        "tokens": _COUNTS,
                    },
                },
            },
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"const": "ok"}},
    },
    "OpenApiDocument": {
        "type": "object",
        "required": ["openapi", "info", "paths"],
        "properties": {"openapi": {"type": "string", "pattern": "^3\\.1\\."}},
    },
}
