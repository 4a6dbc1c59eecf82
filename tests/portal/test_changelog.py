"""The tools changelog (/docs/changelog and its Atom feed): versions released, deprecated and
retired, from the registry, newest first, public tools only."""

import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta

import pytest

from dashboard.extensions import db
from dashboard.models import Tool
from dashboard.tools import registry
from dashboard.tools.sync import sync_tools
from dashboard.tools.tool import ToolVersion, object_schema

TODAY = datetime.now(UTC).date()
ATOM = "{http://www.w3.org/2005/Atom}"


def relic(version: str, **life) -> ToolVersion:
    return ToolVersion(
        name="relic",
        version=version,
        title="Relic",
        description="An old tool.",
        input_schema=object_schema({}, required=[]),
        output_schema=object_schema({}, required=[]),
        example_input={},
        run=lambda payload: {},
        **life,
    )


RELICS = [
    relic(
        "v1",
        released_on=date(2026, 1, 5),
        deprecated_on=TODAY - timedelta(days=40),
        sunset_on=TODAY - timedelta(days=3),
        replacement="v2",
    ),
    relic("v2", released_on=TODAY - timedelta(days=40)),
]


@pytest.fixture(autouse=True)
def served(app):
    for tool in RELICS:
        registry.register(tool)
    sync_tools(db.session, Tool)
    db.session.commit()
    yield
    registry.TOOLS.pop("relic", None)


def changes(html: str) -> list[tuple[str, str, str]]:
    """(day, what, tool version) of each line, in page order."""
    return re.findall(
        r'<time[^>]*datetime="([\d-]+)".*?<span class="badge[^"]*">(\w+)</span>'
        r".*?<code>([^<]+)</code>",
        html,
        re.S,
    )


def test_the_changelog_lists_each_step_newest_first(client):
    page = client.get("/docs/changelog")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    coming, _, past = html.partition('id="past-heading"')
    past_lines = changes(past)
    days = [day for day, _, _ in past_lines]
    assert days == sorted(days, reverse=True)
    assert (str(TODAY - timedelta(days=3)), "Retired", "relic v1") in past_lines
    assert (str(TODAY - timedelta(days=40)), "Deprecated", "relic v1") in past_lines
    assert (str(TODAY - timedelta(days=40)), "Released", "relic v2") in past_lines
    assert ("2026-12-07", "Deprecated", "sentiment v1") in past_lines
    assert ("2026-11-25", "Released", "echo v1") in past_lines
    # Tomorrow's steps are listed apart: the demo's sentiment v1 retires on 2027-12-31.
    if TODAY < date(2027, 12, 31):
        assert ("2027-12-31", "Retired", "sentiment v1") in changes(coming)
        assert ("2027-12-31", "Retired", "sentiment v1") not in past_lines
    assert "use <code>relic v2</code>" in html


def test_only_public_tools_are_listed(client, app):
    app.config["PORTAL_PUBLIC_TOOLS"] = ["echo"]
    html = client.get("/docs/changelog").get_data(as_text=True)
    assert {tool for _, _, tool in changes(html)} == {"echo v1"}


def test_the_atom_feed(client):
    feed = client.get("/docs/changelog.atom")
    assert feed.status_code == 200
    assert feed.mimetype == "application/atom+xml"
    root = ET.fromstring(feed.get_data())  # noqa: S314 (our own feed)
    assert root.tag == f"{ATOM}feed"
    entries = root.findall(f"{ATOM}entry")
    ids = [entry.findtext(f"{ATOM}id") for entry in entries]
    assert len(ids) == len(set(ids))
    assert all(i.startswith("http://localhost/docs/changelog#") for i in ids)
    titles = [entry.findtext(f"{ATOM}title") for entry in entries]
    assert {"Retired: relic v1", "Deprecated: sentiment v1", "Released: echo v1"} <= set(titles)
    updated = [entry.findtext(f"{ATOM}updated") for entry in entries]
    assert updated == sorted(updated, reverse=True)
    assert root.findtext(f"{ATOM}updated") == updated[0]


def test_no_changelog_while_the_portal_is_off(client, app):
    app.config["PORTAL_ENABLED"] = False
    assert client.get("/docs/changelog").status_code == 404
    assert client.get("/docs/changelog.atom").status_code == 404
