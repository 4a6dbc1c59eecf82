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


def test_disable_and_enable_a_version(runner, client):
    runner.invoke(args=["tools", "sync"])
    off = runner.invoke(args=["tools", "disable", "sentiment", "v2"])
    assert off.exit_code == 0, off.output
    assert not db.session.scalar(
        sa.select(Tool.is_active).where(Tool.name == "sentiment", Tool.version == "v2")
    )
    # A later sync keeps the operator's switch-off.
    runner.invoke(args=["tools", "sync"])
    db.session.expire_all()
    assert not db.session.scalar(
        sa.select(Tool.is_active).where(Tool.name == "sentiment", Tool.version == "v2")
    )
    on = runner.invoke(args=["tools", "enable", "sentiment", "v2"])
    assert on.exit_code == 0
    db.session.expire_all()
    assert db.session.scalar(
        sa.select(Tool.is_active).where(Tool.name == "sentiment", Tool.version == "v2")
    )


def test_disable_an_unknown_version_says_so(runner):
    result = runner.invoke(args=["tools", "disable", "nope", "v1"])
    assert result.exit_code != 0
    assert "No tool nope v1" in result.output
