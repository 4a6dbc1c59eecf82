"""The tool registry: every tool version the gateway serves, its validation and metering."""

import json
import math

from jsonschema.exceptions import ValidationError

from dashboard.tools.builtin import (
    echo,
    json_validate,
    keywords,
    language,
    markdown,
    readability,
    sentiment,
)
from dashboard.tools.tool import ToolVersion

__all__ = [
    "TOOLS",
    "ToolVersion",
    "all_tools",
    "count_tokens",
    "find_tool",
    "latest_versions",
    "register",
    "validation_errors",
    "warm_up",
]

# The built-in tools, listed explicitly; each module's TOOL_VERSIONS is a list of ToolVersion.
BUILTIN_MODULES = (echo, json_validate, keywords, language, markdown, readability, sentiment)

MAX_MESSAGE_LENGTH = 300

TOOLS: dict[str, dict[str, ToolVersion]] = {}


def register(tool: ToolVersion) -> ToolVersion:
    """Add a tool version to the registry; a (name, version) may be registered once."""
    versions = TOOLS.setdefault(tool.name, {})
    if tool.version in versions:
        raise ValueError(f"{tool.name} {tool.version} is already registered")
    versions[tool.version] = tool
    return tool


def all_tools() -> list[ToolVersion]:
    """Every registered tool version, by name and then version number (v10 after v9)."""
    tools = (tool for versions in TOOLS.values() for tool in versions.values())
    return sorted(tools, key=lambda tool: (tool.name, tool.version_number))


def find_tool(name: str, version: str | None = None) -> ToolVersion | None:
    """The tool version called name/version, or the newest version of name when version is None."""
    versions = TOOLS.get(name)
    if not versions:
        return None
    if version is None:
        return max(versions.values(), key=lambda tool: tool.version_number)
    return versions.get(version)


def latest_versions() -> list[ToolVersion]:
    """The newest version of every tool, by name."""
    return [find_tool(name) for name in sorted(TOOLS)]


def validation_errors(tool: ToolVersion, payload: object) -> list[dict]:
    """Every way payload breaks the tool's input schema, as {path, message} sorted by path."""
    try:
        found = list(tool.validator.iter_errors(payload))
    except (ValueError, RecursionError):
        # jsonschema puts repr(value) in its messages; Python refuses to print integers of more
        # than 4300 digits and runs out of stack on very deep nesting.
        return [{"path": "", "message": "the payload is too large or too deeply nested to check"}]
    errors = [
        {"path": _json_pointer(error.absolute_path), "message": _short_message(error)}
        for error in found
    ]
    return sorted(errors, key=lambda error: (error["path"], error["message"]))


def count_tokens(input_payload: dict, output: dict) -> int:
    """Tokens for one call: ceil(UTF-8 bytes of compact JSON of input + output / 4), at least 1.

    Both objects are encoded with json.dumps(separators=(",", ":"), ensure_ascii=False,
    sort_keys=True); the byte lengths are added, divided by 4 and rounded up. Lone surrogates
    (possible in JSON string escapes) count as 3 bytes each.
    """
    return tokens_for(utf8_size(canonical_json(input_payload)), utf8_size(canonical_json(output)))


def tokens_for(input_bytes: int, output_bytes: int) -> int:
    """count_tokens from the byte sizes of the canonical JSON of the input and the output."""
    return max(1, math.ceil((input_bytes + output_bytes) / 4))


def canonical_json(value: object) -> str:
    """Compact JSON with sorted keys and UTF-8 text: what tokens are counted on."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def utf8_size(text: str) -> int:
    """Bytes of `text` in UTF-8 (a lone surrogate counts as 3)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def warm_up() -> None:
    """Load every lazily loaded library and model now, so the first calls are not slow."""
    for module in BUILTIN_MODULES:
        warm = getattr(module, "warm_up", None)
        if warm is not None:
            warm()


def _json_pointer(path) -> str:
    """RFC 6901 pointer for a jsonschema error path ("" is the whole payload)."""
    parts = (str(part).replace("~", "~0").replace("/", "~1") for part in path)
    return "".join("/" + part for part in parts)


def _short_message(error: ValidationError) -> str:
    """The error's message; when jsonschema quoted a long value, a message without the value."""
    if len(error.message) <= MAX_MESSAGE_LENGTH:
        return error.message
    limit = error.validator_value
    templates = {
        "maxLength": f"is longer than {limit} characters",
        "minLength": f"is shorter than {limit} characters",
        "type": f"is not of type {limit!r}",
        "pattern": f"does not match {limit!r}",
    }
    message = templates.get(error.validator, error.message)
    if len(message) > MAX_MESSAGE_LENGTH:
        return message[: MAX_MESSAGE_LENGTH - 1] + "…"
    return message


for _module in BUILTIN_MODULES:
    for _tool in _module.TOOL_VERSIONS:
        register(_tool)
