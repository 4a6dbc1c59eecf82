"""Keep the tools table in step with the registry."""

import sqlalchemy as sa

from dashboard.tools.registry import all_tools


def sync_tools(session, tool_model) -> dict:
    """Insert missing tool versions, refresh changed ones, deactivate those no longer served.

    A version switched off by an operator (`flask tools disable`) stays off. Upstream versions
    are not in the registry (they live only in the table) and are left alone here; the catalog
    file syncs them (dashboard/tools/catalog_file.py).

    tool_model is the mapped Tool class (name, version, description, endpoint_path, is_active).
    Returns {"added": n, "updated": n, "deactivated": n}; the caller commits.
    """
    served = {(tool.name, tool.version): tool for tool in all_tools()}
    stored = {
        (row.name, row.version): row
        for row in session.scalars(sa.select(tool_model).where(tool_model.kind != "upstream"))
    }
    counts = {"added": 0, "updated": 0, "deactivated": 0}
    for key, tool in served.items():
        row = stored.get(key)
        if row is None:
            session.add(
                tool_model(
                    name=tool.name,
                    version=tool.version,
                    description=tool.description,
                    endpoint_path=tool.endpoint_path,
                    is_active=True,
                    kind=tool.kind,
                )
            )
            counts["added"] += 1
        elif (row.description, row.endpoint_path, row.kind) != (
            tool.description,
            tool.endpoint_path,
            tool.kind,
        ):
            # is_active is left alone: an operator may have switched this version off.
            row.description = tool.description
            row.endpoint_path = tool.endpoint_path
            row.kind = tool.kind
            counts["updated"] += 1
    for key, row in stored.items():
        if key not in served and row.is_active:
            row.is_active = False
            counts["deactivated"] += 1
    session.flush()
    return counts
