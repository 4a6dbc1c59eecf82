"""Upstream tool definitions: checked the same way from the catalog file and the admin page,
and saved into the `tools` table (with an audit event for every change).

Which wins: the catalog file. `flask tools sync` writes every version the file defines (and
switches off file-defined versions it no longer lists); the admin page can add and edit
versions of its own, but only test a file-defined one (edit the file, then sync).
"""

import json
import re
from datetime import date, datetime
from urllib.parse import urlsplit

import sqlalchemy as sa
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from dashboard.audit import record_event
from dashboard.models import Tool, utcnow
from dashboard.tools.registry import find_tool

NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
VERSION = re.compile(r"^v[1-9][0-9]{0,5}$")
FIELDS = {
    "name": "required",
    "version": "required",
    "title": "optional",
    "description": "optional",
    "url": "required",
    "timeout_ms": "optional",
    "max_concurrency": "optional",
    "secret": "optional",
    "active": "optional",
    "input_schema": "required",
    "output_schema": "required",
    "example_input": "optional",
    "released_on": "optional",
    "deprecated_on": "optional",
    "sunset_on": "optional",
    "replacement": "optional",
}
DEFAULT_TIMEOUT_MS = 5000
MAX_TIMEOUT_MS = 60_000
DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 1000


class DefinitionError(ValueError):
    """One thing wrong with a definition: the field it is about and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def checked_definition(raw: dict) -> dict:
    """The definition with defaults filled in and schemas parsed; DefinitionError if wrong."""
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise DefinitionError(unknown[0], f"unknown field (known: {', '.join(FIELDS)})")
    for name, need in FIELDS.items():
        if need == "required" and raw.get(name) in (None, ""):
            raise DefinitionError(name, "is required")
    name, version = raw["name"], raw["version"]
    if not isinstance(name, str) or not NAME.match(name):
        raise DefinitionError("name", "must be lowercase letters, digits and _ (up to 64)")
    if not isinstance(version, str) or not VERSION.match(version):
        raise DefinitionError("version", "must look like v1, v2, …")
    if find_tool(name) is not None:
        raise DefinitionError("name", f"{name} is a built-in or plugin tool")
    definition = {
        "name": name,
        "version": version,
        "title": text(raw, "title", name),
        "description": text(raw, "description", ""),
        "url": checked_url(raw["url"]),
        "timeout_ms": whole(raw, "timeout_ms", DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS),
        "max_concurrency": whole(raw, "max_concurrency", DEFAULT_CONCURRENCY, MAX_CONCURRENCY),
        "secret": text(raw, "secret", "") or None,
        "active": raw.get("active", True),
        "input_schema": checked_schema(raw, "input_schema"),
        "output_schema": checked_schema(raw, "output_schema"),
        "example_input": json_value(raw, "example_input", {}),
    }
    definition.update(checked_life(raw, version))
    if not isinstance(definition["active"], bool):
        raise DefinitionError("active", "must be true or false")
    if not isinstance(definition["example_input"], dict):
        raise DefinitionError("example_input", "must be a JSON object")
    example_errors = list(
        Draft202012Validator(definition["input_schema"]).iter_errors(definition["example_input"])
    )
    if example_errors:
        raise DefinitionError(
            "example_input", f"does not match the input schema: {example_errors[0].message[:200]}"
        )
    return definition


def checked_life(raw: dict, version: str) -> dict:
    """released_on, deprecated_on, sunset_on (dates: TOML's, or YYYY-MM-DD) and replacement (a
    version), as ToolVersion takes them: a sunset comes after a deprecation."""
    life = {field: day(raw, field) for field in ("released_on", "deprecated_on", "sunset_on")}
    if life["sunset_on"] and not life["deprecated_on"]:
        raise DefinitionError("sunset_on", "needs deprecated_on (a version is deprecated first)")
    if life["sunset_on"] and life["sunset_on"] < life["deprecated_on"]:
        raise DefinitionError("sunset_on", "may not come before deprecated_on")
    replacement = text(raw, "replacement", "") or None
    if replacement is not None and (not VERSION.match(replacement) or replacement == version):
        raise DefinitionError("replacement", "must be another version of the tool, like v2")
    return {**life, "replacement": replacement}


def day(raw: dict, field: str) -> date | None:
    """A date given as a TOML date (or a form's) or as YYYY-MM-DD text; None when absent."""
    value = raw.get(field)
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        raise DefinitionError(field, "must be a date (YYYY-MM-DD), not a time")
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip()) if isinstance(value, str) else None
    except ValueError:
        pass
    raise DefinitionError(field, "must be a date, YYYY-MM-DD")


def text(raw: dict, field: str, default: str) -> str:
    value = raw.get(field, default)
    if value is None:
        return default
    if not isinstance(value, str) or len(value) > 2000:
        raise DefinitionError(field, "must be text of at most 2,000 characters")
    return value.strip()


def whole(raw: dict, field: str, default: int, maximum: int) -> int:
    value = raw.get(field, default)
    if value in (None, ""):
        return default
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise DefinitionError(field, f"must be a whole number from 1 to {maximum:,}")
    return value


def checked_url(url) -> str:
    """An absolute http(s) URL with a host and no credentials or fragment."""
    if not isinstance(url, str):
        raise DefinitionError("url", "must be text")
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError as error:
        raise DefinitionError("url", f"is not a URL ({error})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DefinitionError("url", "must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise DefinitionError("url", "must not hold credentials (use a secret)")
    if parts.fragment:
        raise DefinitionError("url", "must not have a #fragment")
    return url


def json_value(raw: dict, field: str, default):
    """A JSON value given as a table/object, or as JSON text."""
    value = raw.get(field, default)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as error:
            raise DefinitionError(field, f"is not valid JSON ({error})") from None
    return value


def checked_schema(raw: dict, field: str) -> dict:
    """A valid JSON Schema (2020-12) for a JSON object."""
    schema = json_value(raw, field, None)
    if not isinstance(schema, dict):
        raise DefinitionError(field, "must be a JSON Schema object")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        where = "/".join(str(part) for part in error.absolute_path) or "the top"
        raise DefinitionError(
            field, f"is not a valid JSON Schema at {where}: {error.message[:200]}"
        ) from None
    if schema.get("type") != "object":
        raise DefinitionError(field, 'must describe a JSON object ("type": "object")')
    return schema


def stored(session, name: str, version: str) -> Tool | None:
    return session.scalar(sa.select(Tool).where(Tool.name == name, Tool.version == version))


def save_definition(session, definition: dict, managed_by: str, actor=None) -> str | None:
    """Insert or update one upstream version; "added", "updated" or None (no change).

    Records an audit event for a change; the caller commits.
    """
    row = stored(session, definition["name"], definition["version"])
    if row is not None and row.kind != "upstream":
        raise DefinitionError("name", f"{row.name} {row.version} is not an upstream tool")
    values = {
        "kind": "upstream",
        "title": definition["title"],
        "description": definition["description"],
        "upstream_url": definition["url"],
        "timeout_ms": definition["timeout_ms"],
        "max_concurrency": definition["max_concurrency"],
        "secret_ref": definition["secret"],
        "is_active": definition["active"],
        "input_schema": definition["input_schema"],
        "output_schema": definition["output_schema"],
        "example_input": definition["example_input"],
        "released_on": definition["released_on"],
        "deprecated_on": definition["deprecated_on"],
        "sunset_on": definition["sunset_on"],
        "replacement": definition["replacement"],
        "managed_by": managed_by,
        "endpoint_path": f"/api/v1/tools/{definition['name']}/{definition['version']}",
    }
    if row is None:
        row = Tool(name=definition["name"], version=definition["version"], **values)
        session.add(row)
        outcome = "added"
    else:
        changed = {k: v for k, v in values.items() if getattr(row, k) != v}
        if not changed:
            return None
        for key, value in changed.items():
            setattr(row, key, value)
        outcome = "updated"
    row.updated_at = utcnow()
    record_event(
        f"upstream_tool.{outcome}",
        actor=actor,
        subject=None,
        details={
            "tool": definition["name"],
            "version": definition["version"],
            "by": managed_by,
            "url": definition["url"],
            "active": definition["active"],
        },
        commit=False,
    )
    return outcome


def switch(session, row: Tool, active: bool, actor) -> None:
    """Switch an upstream version on or off, with its audit event; the caller commits."""
    row.is_active = active
    row.updated_at = utcnow()
    record_event(
        "upstream_tool.on" if active else "upstream_tool.off",
        actor=actor,
        subject=None,
        details={"tool": row.name, "version": row.version, "by": "page"},
        commit=False,
    )


def as_definition(row: Tool) -> dict:
    """A stored upstream version as the fields a definition has."""
    return {
        "name": row.name,
        "version": row.version,
        "title": row.title,
        "description": row.description,
        "url": row.upstream_url,
        "timeout_ms": row.timeout_ms,
        "max_concurrency": row.max_concurrency,
        "secret": row.secret_ref,
        "active": row.is_active,
        "input_schema": row.input_schema,
        "output_schema": row.output_schema,
        "example_input": row.example_input,
        "released_on": row.released_on,
        "deprecated_on": row.deprecated_on,
        "sunset_on": row.sunset_on,
        "replacement": row.replacement,
    }
