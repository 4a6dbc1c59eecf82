"""Which tool versions are served: registered in code AND active in the `tools` table, plus
the active upstream versions, which the table alone defines.

The active set is read from the table at most every TOOL_CACHE_SECONDS (by default the same
as API_KEY_CACHE_SECONDS), not once per call. A version missing from the table is not served:
`flask tools sync` adds the registry's versions to it.
"""

import logging
import threading
from dataclasses import dataclass

import cachetools
import sqlalchemy as sa
from flask import current_app
from jsonschema.exceptions import SchemaError

from dashboard.extensions import db
from dashboard.models import Tool
from dashboard.tools.registry import ToolVersion, all_tools
from dashboard.tools.tool import Upstream

TOOLS = Tool.__table__
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActiveTools:
    """The served tool versions: name -> version -> ToolVersion."""

    versions: dict[str, dict[str, ToolVersion]]

    def resolve(self, name: str, version: str | None) -> tuple[ToolVersion | None, str | None]:
        """(tool, None), or (None, `unknown_tool` | `unknown_version`)."""
        versions = self.versions.get(name)
        if not versions:
            return None, "unknown_tool"
        if version is None:
            return max(versions.values(), key=lambda tool: tool.version_number), None
        tool = versions.get(version)
        return (tool, None) if tool else (None, "unknown_version")

    def newest(self) -> list[ToolVersion]:
        """The newest served version of each tool, by name."""
        return [self.resolve(name, None)[0] for name in sorted(self.versions)]

    def all(self) -> list[ToolVersion]:
        """Every served version, by name then version number."""
        return [
            tool
            for name in sorted(self.versions)
            for tool in sorted(self.versions[name].values(), key=lambda t: t.version_number)
        ]


def load_active_tools() -> ActiveTools:
    """Read the active versions from the table: registry tools by (name, version), upstream
    tools built from their rows."""
    rows = db.session.execute(sa.select(TOOLS).where(TOOLS.c.is_active)).all()
    active = {(row.name, row.version) for row in rows if row.kind != "upstream"}
    versions: dict[str, dict[str, ToolVersion]] = {}
    for tool in all_tools():
        if (tool.name, tool.version) in active:
            versions.setdefault(tool.name, {})[tool.version] = tool
    for row in rows:
        if row.kind == "upstream" and row.version not in versions.get(row.name, {}):
            try:
                tool = upstream_tool(row)
            except (ValueError, TypeError, SchemaError):
                # A row edited by hand past the checks: skip it, serve every other tool.
                log.exception("Upstream tool %s %s is not valid; not served", row.name, row.version)
                continue
            versions.setdefault(row.name, {})[row.version] = tool
    return ActiveTools(versions)


# Built once per stored definition (its id and updated_at), so that reloading the active set
# every few seconds neither recompiles schemas nor changes the tool's identity.
_UPSTREAM_TOOLS: cachetools.LRUCache = cachetools.LRUCache(maxsize=1000)
_UPSTREAM_LOCK = threading.Lock()
_ACTIVE_LOCK = threading.Lock()


def upstream_tool(row) -> ToolVersion:
    """The ToolVersion of an upstream row of the tools table."""
    key = (row.id, row.updated_at, row.upstream_url)
    with _UPSTREAM_LOCK:
        tool = _UPSTREAM_TOOLS.get(key)
    if tool is None:
        tool = ToolVersion(
            name=row.name,
            version=row.version,
            title=row.title or row.name,
            description=row.description or "",
            input_schema=row.input_schema,
            output_schema=row.output_schema,
            example_input=row.example_input or {},
            kind="upstream",
            released_on=row.released_on,
            deprecated_on=row.deprecated_on,
            sunset_on=row.sunset_on,
            replacement=row.replacement,
            upstream=Upstream(
                url=row.upstream_url,
                timeout_ms=row.timeout_ms,
                secret_ref=row.secret_ref,
                max_concurrency=row.max_concurrency,
            ),
        )
        with _UPSTREAM_LOCK:
            _UPSTREAM_TOOLS[key] = tool
    return tool


def active_tools() -> ActiveTools:
    """The tool versions the API serves now (cached for a few seconds, per app)."""
    app = current_app._get_current_object()
    cache = app.extensions.get("api_tool_cache")
    if cache is None:
        seconds = app.config.get("TOOL_CACHE_SECONDS", app.config["API_KEY_CACHE_SECONDS"])
        cache = app.extensions.setdefault("api_tool_cache", cachetools.TTLCache(1, seconds))
    with _ACTIVE_LOCK:  # cachetools' caches are not thread-safe; the query runs outside it
        active = cache.get("active")
    if active is None:  # two threads may both read the table once, never wait on each other
        active = load_active_tools()
        with _ACTIVE_LOCK:
            cache["active"] = active
    return active
