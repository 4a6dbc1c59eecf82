"""The tool registry: every tool version the gateway serves, its validation and metering."""

import dataclasses
import json
import logging
import math
from importlib.metadata import EntryPoint, entry_points

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
    "plugin_tools",
    "register",
    "validation_errors",
    "warm_up",
]

# The built-in tools, listed explicitly; each module's TOOL_VERSIONS is a list of ToolVersion.
BUILTIN_MODULES = (echo, json_validate, keywords, language, markdown, readability, sentiment)

# Installed packages declare their tools in this entry point group (see examples/plugin/).
PLUGIN_GROUP = "toolbox.tools"

MAX_MESSAGE_LENGTH = 300

log = logging.getLogger(__name__)

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


def validation_errors(tool: ToolVersion, payload: object, validator=None) -> list[dict]:
    """Every way payload breaks the tool's input schema (or validator's), as {path, message}
    sorted by path."""
    try:
        found = list((validator or tool.validator).iter_errors(payload))
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


def plugin_tools(found: list[EntryPoint] | None = None) -> list[ToolVersion]:
    """The tool versions that installed packages declare in the `toolbox.tools` group.

    An entry point names a ToolVersion or a list of them (`name = "package.module:TOOLS"`).
    A plugin that fails to load, or declares something else, is logged and skipped: one broken
    package must not stop the gateway serving every other tool.
    """
    tools = []
    for entry_point in entry_points(group=PLUGIN_GROUP) if found is None else found:
        try:
            declared = entry_point.load()
        except Exception:
            log.exception("Tool plugin %s (%s) failed to load", entry_point.name, entry_point.value)
            continue
        declared = [declared] if isinstance(declared, ToolVersion) else declared
        if not isinstance(declared, list | tuple) or not all(
            isinstance(tool, ToolVersion) for tool in declared
        ):
            log.error("Tool plugin %s declares no ToolVersion list; skipped", entry_point.name)
            continue
        tools.extend(dataclasses.replace(tool, kind="plugin") for tool in declared)
    return tools


def register_plugins(found: list[EntryPoint] | None = None) -> list[ToolVersion]:
    """Register every plugin tool version whose name and version are still free."""
    registered = []
    for tool in plugin_tools(found):
        if find_tool(tool.name, tool.version) is not None:
            log.error("Tool plugin %s %s clashes with a registered tool", tool.name, tool.version)
            continue
        registered.append(register(tool))
    return registered


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
# Plugins are picked up here, where the registry loads, so that every process that serves tools
# (web workers and the isolated tool pool's children) sees the same ones.
register_plugins()
