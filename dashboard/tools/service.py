"""The catalog: which tool versions are served, and how to call them."""

import json
import shlex
from functools import cache

from dashboard.tools.registry import ToolVersion, count_tokens
from dashboard.tools.served import active_tools


def catalog() -> list[dict]:
    """Each tool the API serves, with its versions (newest first) and its newest version."""
    served = active_tools()
    return [
        {"name": name, "latest": versions[-1], "versions": versions[::-1]}
        for name, versions in (
            (name, sorted(served.versions[name].values(), key=lambda t: t.version_number))
            for name in sorted(served.versions)
        )
    ]


def served_version(name: str, version: str | None) -> tuple[ToolVersion, list[ToolVersion]] | None:
    """The version asked for (newest when None) and all served versions, or None."""
    entry = next((entry for entry in catalog() if entry["name"] == name), None)
    if entry is None:
        return None
    if version is None:
        return entry["latest"], entry["versions"]
    chosen = next((tool for tool in entry["versions"] if tool.version == version), None)
    return (chosen, entry["versions"]) if chosen else None


@cache
def example_answer(tool: ToolVersion) -> dict | None:
    """What the API answers for the tool's example input (the tool really runs, once); None for
    an upstream tool, which a page view must not call."""
    if tool.run is None:
        return None
    output = tool.run(tool.example_input)
    return {
        "tool": tool.name,
        "version": tool.version,
        "output": output,
        "usage": {"tokens": count_tokens(tool.example_input, output), "execution_time_ms": 3},
        "request_id": "7d0f3c1e-9a4b-4c55-8d1e-2b6f0e9a1c42",
    }


def example_curl(tool: ToolVersion, base_url: str) -> str:
    """A curl command that calls this version with its example input."""
    body = json.dumps(tool.example_input, ensure_ascii=False)
    return (
        f"curl -X POST {base_url.rstrip('/')}{tool.endpoint_path} \\\n"
        f'  -H "Authorization: Bearer $TOOLBOX_API_KEY" \\\n'
        f'  -H "Content-Type: application/json" \\\n'
        f"  -d {shlex.quote(body)}"
    )


def input_fields(tool: ToolVersion) -> list[dict]:
    """The input schema's top-level properties, for a readable table."""
    schema = tool.input_schema
    required = set(schema.get("required", []))
    fields = []
    for name, spec in schema.get("properties", {}).items():
        limits = [
            f"{label} {spec[key]:,}" if isinstance(spec[key], int) else f"{label} {spec[key]}"
            for key, label in (
                ("minLength", "min length"),
                ("maxLength", "max length"),
                ("minimum", "min"),
                ("maximum", "max"),
                ("minItems", "min items"),
                ("maxItems", "max items"),
            )
            if key in spec
        ]
        if "enum" in spec:
            limits.append("one of " + ", ".join(map(str, spec["enum"])))
        if "default" in spec:
            limits.append(f"default {json.dumps(spec['default'])}")
        fields.append(
            {
                "name": name,
                "type": spec.get("type", "any"),
                "required": name in required,
                "description": spec.get("description", ""),
                "limits": limits,
            }
        )
    return fields
