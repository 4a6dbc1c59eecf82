"""The example plugin (examples/plugin/, installed by make dev-deps): found through its
entry point, served and metered like a built-in tool."""

from importlib.metadata import EntryPoint

import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.models import Tool, ToolLog
from dashboard.tools.registry import find_tool, plugin_tools


def test_the_plugin_is_registered_from_its_entry_point():
    tool = find_tool("slugify")
    assert tool is not None and tool.kind == "plugin"


def test_the_plugin_is_called_through_the_api(api, secret):
    response = api.call("slugify", {"text": "Crème Brûlée: A Recipe", "separator": "_"}, key=secret)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["output"] == {"slug": "creme_brulee_a_recipe", "words": 4}
    row = db.session.scalar(sa.select(ToolLog))
    assert (row.tool_name, row.status) == ("slugify", "success")
    assert db.session.scalar(sa.select(Tool.kind).where(Tool.name == "slugify")) == "plugin"


def test_the_plugin_input_is_validated(api, secret):
    response = api.call("slugify", {"text": "x", "separator": "/"}, key=secret)
    assert response.status_code == 422


def test_a_broken_plugin_is_skipped_not_fatal(caplog):
    broken = EntryPoint("broken", "no_such_module_anywhere:TOOLS", "toolbox.tools")
    wrong = EntryPoint("wrong", "json:dumps", "toolbox.tools")
    good = EntryPoint("slugify", "toolbox_slugify:TOOL_VERSIONS", "toolbox.tools")
    tools = plugin_tools([broken, wrong, good])
    assert [tool.name for tool in tools] == ["slugify"]
    assert "broken" in caplog.text and "wrong" in caplog.text
