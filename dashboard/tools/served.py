"""Which tool versions are served: registered in code AND active in the `tools` table.

The active set is read from the table at most every TOOL_CACHE_SECONDS (by default the same
as API_KEY_CACHE_SECONDS), not once per call. A version missing from the table is not served:
`flask tools sync` adds the registry's versions to it.
"""

import threading
import time
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from dashboard.extensions import db
from dashboard.models import Tool
from dashboard.tools.registry import ToolVersion, all_tools

TOOLS = Tool.__table__


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
    """Read the active (name, version) pairs from the table and match them to the registry."""
    rows = db.session.execute(sa.select(TOOLS.c.name, TOOLS.c.version).where(TOOLS.c.is_active))
    active = {(row.name, row.version) for row in rows}
    versions: dict[str, dict[str, ToolVersion]] = {}
    for tool in all_tools():
        if (tool.name, tool.version) in active:
            versions.setdefault(tool.name, {})[tool.version] = tool
    return ActiveTools(versions)


class ToolCache:
    """The active tools, reloaded when older than `seconds`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.loaded_at = float("-inf")
        self.value: ActiveTools | None = None
        self.lock = threading.Lock()

    def get(self) -> ActiveTools:
        if self.value is None or time.monotonic() - self.loaded_at >= self.seconds:
            value = load_active_tools()
            with self.lock:
                self.value, self.loaded_at = value, time.monotonic()
        return self.value


def active_tools() -> ActiveTools:
    """The tool versions the API serves now (cached for a few seconds)."""
    app = current_app._get_current_object()
    cache = app.extensions.get("api_tool_cache")
    if cache is None:
        seconds = app.config.get("TOOL_CACHE_SECONDS", app.config["API_KEY_CACHE_SECONDS"])
        cache = app.extensions.setdefault("api_tool_cache", ToolCache(seconds))
    return cache.get()
