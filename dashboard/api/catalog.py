"""The catalog that GET /api/v1/tools answers, built from the served tool versions."""

from dashboard.tools.registry import ToolVersion
from dashboard.tools.served import ActiveTools, active_tools, load_active_tools

__all__ = ["ActiveTools", "active_tools", "catalog", "catalog_entry", "load_active_tools"]


def catalog_entry(name: str, versions: list[ToolVersion]) -> dict:
    """One tool as GET /api/v1/tools lists it."""
    newest = versions[-1]
    return {
        "name": name,
        "title": newest.title,
        "description": newest.description,
        "latest_version": newest.version,
        "endpoint": f"/api/v1/tools/{name}",
        "versions": [
            {
                "version": tool.version,
                "title": tool.title,
                "description": tool.description,
                "endpoint": tool.endpoint_path,
                "input_schema": tool.input_schema,
                "output_schema": tool.output_schema,
                "example_input": tool.example_input,
            }
            for tool in versions
        ],
    }


def catalog() -> dict:
    """Every served tool with its versions, schemas and example input."""
    tools = active_tools()
    entries = []
    for name in sorted(tools.versions):
        versions = sorted(tools.versions[name].values(), key=lambda t: t.version_number)
        entries.append(catalog_entry(name, versions))
    return {"tools": entries}
