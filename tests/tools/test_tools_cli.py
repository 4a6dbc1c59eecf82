"""`flask tools sync` mirrors the registry into the tools table."""

import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.models import Tool
from dashboard.tools.registry import all_tools


def test_tools_sync_adds_then_keeps_the_registry(runner):
    first = runner.invoke(args=["tools", "sync"])
    assert first.exit_code == 0, first.output
    assert f"{len(all_tools())} added" in first.output
    rows = db.session.execute(sa.select(Tool.name, Tool.version, Tool.is_active)).all()
    assert {(name, version) for name, version, _ in rows} == {
        (tool.name, tool.version) for tool in all_tools()
    }
    assert all(active for _, _, active in rows)

    again = runner.invoke(args=["tools", "sync"])
    assert "0 added, 0 updated, 0 deactivated" in again.output
