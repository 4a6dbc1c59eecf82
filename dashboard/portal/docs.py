"""What a public tool page says, generated from the registry: the public tools, each field of a
schema with its constraints, the worked example (really run, once per process), the error codes
a call can answer and the limits of each plan.

Nothing here reads an upstream tool's `upstream` (its URL, its signing secret's name): a page
shows a tool's name, texts, schemas and example, which the operator wrote to be shown.
"""

import json
import logging
import threading
from dataclasses import dataclass

from flask import current_app
from jsonschema import Draft202012Validator

from dashboard.api.codes import ErrorCode
from dashboard.api.openapi import tool_operation
from dashboard.catalog.playground_form import limits_of
from dashboard.plans import Plan, all_plans
from dashboard.portal.settings import PortalSettings, is_public, portal_settings
from dashboard.tools.registry import ToolVersion, count_tokens
from dashboard.tools.service import catalog

log = logging.getLogger(__name__)

# The request id shown in example answers (a real call's is its log id).
EXAMPLE_REQUEST_ID = "7d0f3c1e-9a4b-4c55-8d1e-2b6f0e9a1c42"
# Nested objects and arrays are listed down to this depth; deeper parts are in the JSON Schema.
MAX_DEPTH = 4


@dataclass(frozen=True)
class PublicTool:
    """A public tool: its newest version and every served version, newest first."""

    name: str
    latest: ToolVersion
    versions: list[ToolVersion]


def public_tools(settings: PortalSettings | None = None) -> list[PublicTool]:
    """The served tools the portal shows, by name."""
    settings = settings or portal_settings()
    return [
        PublicTool(entry["name"], entry["latest"], entry["versions"])
        for entry in catalog()
        if is_public(entry["name"], settings)
    ]


def public_tool(name: str) -> PublicTool | None:
    """The public tool called `name`, or None (unknown, not served, or not public)."""
    return next((tool for tool in public_tools() if tool.name == name), None)


@dataclass(frozen=True)
class SchemaRow:
    """One field of a schema, for a table: `path` names nested fields (`options.limit`,
    `items[].word`); depth says how far to indent it."""

    path: str
    depth: int
    type: str
    required: bool
    description: str
    constraints: list[str]


def schema_rows(schema: dict, prefix: str = "", depth: int = 0) -> list[SchemaRow]:
    """Every property of an object schema, nested objects' and array items' properties after
    their parent, in the schema's order."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict) or depth >= MAX_DEPTH:
        return []
    required = set(schema.get("required") or [])
    rows = []
    for name, spec in properties.items():
        spec = spec if isinstance(spec, dict) else {}
        path = f"{prefix}{name}"
        rows.append(
            SchemaRow(
                path=path,
                depth=depth,
                type=type_words(spec),
                required=name in required,
                description=str(spec.get("description", "")),
                constraints=constraints_of(spec),
            )
        )
        rows.extend(schema_rows(spec, f"{path}.", depth + 1))
        items = spec.get("items")
        if isinstance(items, dict):
            rows.extend(schema_rows(items, f"{path}[].", depth + 1))
    return rows


def type_words(spec: dict) -> str:
    """A property's type as a reader says it: `string`, `integer | null`, `array of string`."""
    kind = spec.get("type")
    if kind is None:
        kind = "enum" if "enum" in spec else "const" if "const" in spec else "any"
    words = " | ".join(kind) if isinstance(kind, list) else str(kind)
    items = spec.get("items")
    if words == "array" and isinstance(items, dict):
        words += f" of {type_words(items)}"
    return words


def constraints_of(spec: dict) -> list[str]:
    """The property's constraints in words: lengths, ranges, enums, formats, defaults."""
    found = limits_of(spec)
    for key, label in (("exclusiveMinimum", "above"), ("exclusiveMaximum", "below")):
        if key in spec:
            found.append(f"{label} {spec[key]}")
    if "const" in spec:
        found.append(f"always {json.dumps(spec['const'])}")
    if "format" in spec:
        found.append(f"format {spec['format']}")
    if spec.get("uniqueItems"):
        found.append("unique items")
    if spec.get("additionalProperties") is False and "properties" in spec:
        found.append("no other fields")
    return found


@dataclass(frozen=True)
class Example:
    """A tool version's worked example: its input, and the answer the tool gave (None when it
    was not run, or failed: `problem` says which)."""

    input: dict
    answer: dict | None
    problem: str | None = None


_EXAMPLES: dict[ToolVersion, Example] = {}
_LOCK = threading.Lock()


def worked_example(tool: ToolVersion) -> Example:
    """The tool's example input and its answer, run once per process (the first view). An
    upstream tool is not called from a page; a failing example is kept with its problem (listed
    for super admins by dashboard/portal/examples.py) and shown without an answer."""
    with _LOCK:
        known = _EXAMPLES.get(tool)
    if known is not None:
        return known
    example = run_example(tool)
    with _LOCK:
        _EXAMPLES[tool] = example
    return example


def run_example(tool: ToolVersion) -> Example:
    """Run the example through the tool, checking input and output against the schemas."""
    if tool.run is None:
        return Example(tool.example_input, None, "The example of an upstream tool is not run.")
    try:
        problems = [error.message for error in tool.validator.iter_errors(tool.example_input)]
        if problems:
            return Example(tool.example_input, None, "invalid example input: " + problems[0])
        output = tool.run(tool.example_input)
        problems = [
            error.message for error in Draft202012Validator(tool.output_schema).iter_errors(output)
        ]
        if problems:
            return Example(tool.example_input, None, "output breaks its schema: " + problems[0])
    except Exception as error:  # a broken example must never break the page
        log.exception("The example of %s %s failed", tool.name, tool.version)
        return Example(tool.example_input, None, f"{type(error).__name__}: {error}")
    answer = {
        "tool": tool.name,
        "version": tool.version,
        "output": output,
        "usage": {"tokens": count_tokens(tool.example_input, output), "execution_time_ms": 3},
        "request_id": EXAMPLE_REQUEST_ID,
    }
    return Example(tool.example_input, answer)


def forget_examples() -> None:
    """Run every example again at its next view (after a sync, and in tests)."""
    with _LOCK:
        _EXAMPLES.clear()


def error_codes(tool: ToolVersion) -> list[ErrorCode]:
    """The error codes a call of this version can answer, as the OpenAPI document lists them,
    by status."""
    responses = tool_operation(tool, True)["responses"]
    listed = set()
    for status, response in responses.items():
        if status.startswith(("4", "5")):
            schema = response["content"]["application/json"]["schema"]["allOf"][1]
            listed.update(schema["properties"]["error"]["properties"]["code"]["enum"])
    return sorted((code for code in ErrorCode if code in listed), key=lambda c: c.status)


@dataclass(frozen=True)
class Limits:
    """What bounds one call of a tool version, and what each plan allows."""

    max_body_bytes: int
    max_output_bytes: int
    deadline_seconds: float
    plans: list[Plan]


def limits_of_tool(tool: ToolVersion) -> Limits:
    """The version's body, output and time limits, and the plans."""
    config = current_app.config
    deadline = tool.deadline_seconds or config["TOOL_DEADLINE_SECONDS"]
    if tool.upstream is not None:
        deadline = tool.upstream.timeout_ms / 1000
    return Limits(
        max_body_bytes=config["API_MAX_BODY_BYTES"],
        max_output_bytes=tool.max_output_bytes or config["TOOL_MAX_OUTPUT_BYTES"],
        deadline_seconds=deadline,
        plans=all_plans(),
    )
