"""The catalog that GET /api/v1/tools answers, built from the served tool versions as a
`Catalog` (the API encodes it as it is, and its OpenAPI schema is derived from it)."""

import msgspec

from dashboard.tools.registry import ToolVersion
from dashboard.tools.served import ActiveTools, active_tools, load_active_tools

__all__ = [
    "ActiveTools",
    "Catalog",
    "CatalogTool",
    "CatalogVersion",
    "active_tools",
    "catalog",
    "catalog_entry",
    "load_active_tools",
]


class CatalogVersion(msgspec.Struct, forbid_unknown_fields=True):
    """One served version of a tool: its own endpoint, schemas and an example input."""

    version: str
    title: str
    description: str
    endpoint: str
    input_schema: dict
    output_schema: dict
    example_input: dict


class CatalogTool(msgspec.Struct, forbid_unknown_fields=True):
    """A served tool: its newest version's title and description, and every served version."""

    name: str
    title: str
    description: str
    latest_version: str
    endpoint: str
    versions: list[CatalogVersion]


class Catalog(msgspec.Struct, forbid_unknown_fields=True):
    tools: list[CatalogTool]


def catalog_entry(name: str, versions: list[ToolVersion]) -> CatalogTool:
    """One tool as GET /api/v1/tools lists it."""
    newest = versions[-1]
    return CatalogTool(
        name=name,
        title=newest.title,
        description=newest.description,
        latest_version=newest.version,
        endpoint=f"/api/v1/tools/{name}",
        versions=[
            CatalogVersion(
                version=tool.version,
                title=tool.title,
                description=tool.description,
                endpoint=tool.endpoint_path,
                input_schema=tool.input_schema,
                output_schema=tool.output_schema,
                example_input=tool.example_input,
            )
            for tool in versions
        ],
    )


def catalog() -> Catalog:
    """Every served tool with its versions, schemas and example input."""
    tools = active_tools()
    entries = []
    for name in sorted(tools.versions):
        versions = sorted(tools.versions[name].values(), key=lambda t: t.version_number)
        entries.append(catalog_entry(name, versions))
    return Catalog(tools=entries)
