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
    return curl_command(f"{base_url.rstrip('/')}{tool.endpoint_path}", body)


ENV_KEY_HEADER = '"Authorization: Bearer $TOOLBOX_API_KEY"'


def curl_command(url: str, body: str, secret: str | None = None) -> str:
    """The curl command that POSTs `body` to `url`, quoted for a POSIX shell; the key is
    $TOOLBOX_API_KEY unless a secret is given."""
    key = shlex.quote(f"Authorization: Bearer {secret}") if secret else ENV_KEY_HEADER
    return (
        f"curl -X POST {shlex.quote(url)} \\\n"
        f"  -H {key} \\\n"
        '  -H "Content-Type: application/json" \\\n'
        f"  -d {shlex.quote(body)}"
    )
