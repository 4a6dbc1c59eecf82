import pytest
import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.models import Tool
from dashboard.tools.registry import all_tools
from dashboard.tools.sync import sync_tools


@pytest.fixture(autouse=True)
def synced(app):
    sync_tools(db.session, Tool)
    db.session.commit()


def test_catalog_lists_every_tool_with_versions(client, logged_in):
    page = client.get("/tools/").get_data(as_text=True)
    for tool in all_tools():
        assert tool.title in page
    assert "v2 · newest" in page  # sentiment has two versions


def test_catalog_needs_login(client):
    assert client.get("/tools/").status_code == 302


def test_tool_page_shows_schema_example_and_curl(client, logged_in):
    page = client.get("/tools/sentiment/v1").get_data(as_text=True)
    assert "/api/v1/tools/sentiment/v1" in page
    assert "Authorization: Bearer $TOOLBOX_API_KEY" in page
    assert "&#34;compound&#34;" in page  # the example answer really ran the tool
    assert "max length 20,000" in page


def test_tool_page_without_version_shows_the_newest(client, logged_in):
    page = client.get("/tools/sentiment").get_data(as_text=True)
    assert "/api/v1/tools/sentiment/v2" in page


@pytest.mark.parametrize("url", ["/tools/nope", "/tools/sentiment/v9", "/tools/sentiment/x"])
def test_unknown_tool_or_version_is_404(client, logged_in, url):
    assert client.get(url).status_code == 404


def test_switched_off_versions_leave_the_catalog(client, logged_in):
    db.session.execute(
        sa.update(Tool)
        .where(Tool.name == "sentiment", Tool.version == "v2")
        .values(is_active=False)
    )
    db.session.commit()
    assert client.get("/tools/sentiment/v2").status_code == 404
    assert "/api/v1/tools/sentiment/v1" in client.get("/tools/sentiment").get_data(as_text=True)
