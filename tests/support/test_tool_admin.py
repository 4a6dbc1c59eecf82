"""The super-admin page for upstream tools: who may see it, add, edit, switch, test, audit."""

import json
import re
import threading

import pytest
import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.models import Tool
from dashboard.tools.definitions import checked_definition, save_definition
from examples.upstream.service import make_server
from tests.support.conftest import events

SECRET = "admin-page-secret"
INPUT = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
OUTPUT = {"type": "object", "properties": {"shout": {"type": "string"}}, "required": ["shout"]}


@pytest.fixture(scope="module")
def example():
    server = make_server("127.0.0.1", 0, SECRET)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def app_overrides():
    return {"UPSTREAM_SECRETS": {"example": SECRET}}


@pytest.fixture(autouse=True)
def close_upstream_client(app):
    yield
    upstreams = app.extensions.pop("upstreams", None)
    if upstreams is not None:
        upstreams.close()


def form(example, **changes) -> dict:
    data = {
        "name": "shout",
        "version": "v1",
        "title": "Shout",
        "url": f"http://127.0.0.1:{example.server_port}/shout",
        "timeout_ms": "2000",
        "max_concurrency": "4",
        "secret": "example",
        "active": "y",
        "input_schema": json.dumps(INPUT),
        "output_schema": json.dumps(OUTPUT),
        "example_input": '{"text": "hello"}',
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def stored(name="shout") -> Tool | None:
    return db.session.scalar(sa.select(Tool).where(Tool.name == name))


@pytest.mark.parametrize("path", ["/support/tools/", "/support/tools/new"])
def test_only_super_admins(client, auth, make_user, support, path):
    assert client.get(path).status_code in (302, 404)
    auth.login(make_user())
    assert client.get(path).status_code == 404
    auth.logout()
    auth.login(support)
    assert client.get(path).status_code == 403


def test_add_edit_switch_and_audit(client, auth, admin, example):
    auth.login(admin)
    assert "No upstream tools yet" in client.get("/support/tools/").get_data(as_text=True)
    response = client.post("/support/tools/new", data=form(example))
    assert response.status_code == 303
    row = stored()
    assert (row.kind, row.managed_by, row.timeout_ms, row.is_active) == (
        "upstream",
        "page",
        2000,
        True,
    )
    page = client.get("/support/tools/").get_data(as_text=True)
    assert "shout</strong> v1" in page and "signed with" in page

    response = client.post(f"/support/tools/{row.id}", data=form(example, timeout_ms="900"))
    assert response.status_code == 303
    db.session.refresh(row)
    assert row.timeout_ms == 900

    client.post(f"/support/tools/{row.id}/switch")
    db.session.refresh(row)
    assert not row.is_active
    actions = [event.action for event in events()]
    assert actions == ["upstream_tool.added", "upstream_tool.updated", "upstream_tool.off"]
    assert all(event.actor_id == admin.id for event in events())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"url": "ftp://example.com/x"}, "http:// or https://"),
        ({"input_schema": "{not json"}, "not valid JSON"),
        ({"output_schema": '{"type": 5}'}, "not a valid JSON Schema"),
        ({"example_input": '{"text": 1}'}, "does not match the input schema"),
        ({"name": "echo"}, "built-in or plugin"),
        ({"timeout_ms": "0"}, "from 1 to 60,000"),
        ({"name": None}, "Give the tool a name"),
    ],
)
def test_bad_definitions_are_form_errors(client, auth, admin, example, changes, message):
    auth.login(admin)
    response = client.post("/support/tools/new", data=form(example, **changes))
    assert response.status_code == 400
    errors = re.findall(r"invalid-feedback[^>]*>([^<]*)", response.get_data(as_text=True))
    assert any(message.lower() in error.lower() for error in errors), errors
    assert stored() is None and events() == []


def test_the_test_button_calls_the_upstream(client, auth, admin, example):
    auth.login(admin)
    client.post("/support/tools/new", data=form(example))
    row = stored()
    plain = client.post(f"/support/tools/{row.id}/test")
    assert plain.status_code == 200 and "<html" in plain.get_data(as_text=True)
    fragment = client.post(f"/support/tools/{row.id}/test", headers={"HX-Request": "true"})
    text = fragment.get_data(as_text=True)
    assert "<html" not in text
    assert "200 in" in text and "HELLO!" in text
    path, headers = example.RequestHandlerClass.calls[-1]
    assert (path, headers["X-Toolbox-Account"]) == ("/shout", str(admin.id))


def test_a_failing_test_shows_why(client, auth, admin, example):
    auth.login(admin)
    client.post("/support/tools/new", data=form(example, url="http://127.0.0.1:1/x"))
    text = client.post(f"/support/tools/{stored().id}/test").get_data(as_text=True)
    assert "502 upstream_error" in text


def test_catalog_versions_are_read_only(client, auth, admin, example):
    definition = checked_definition({**form(example), "active": True})
    save_definition(db.session, definition, managed_by="catalog")
    db.session.commit()
    auth.login(admin)
    row = stored()
    page = client.get(f"/support/tools/{row.id}").get_data(as_text=True)
    assert "defined in the catalog file" in page
    client.post(f"/support/tools/{row.id}", data=form(example, timeout_ms="5"))
    client.post(f"/support/tools/{row.id}/switch")
    db.session.refresh(row)
    assert (row.timeout_ms, row.is_active) == (2000, True)


def test_unknown_ids_are_404(client, auth, admin):
    auth.login(admin)
    assert client.get("/support/tools/nope").status_code == 404
    assert (
        client.post("/support/tools/00000000-0000-0000-0000-000000000001/test").status_code == 404
    )


def main_nav_tab(page: str) -> str:
    """The label of the main navigation's current tab ('' when none is)."""
    nav = page.split('aria-label="Main"')[1].split("</nav>")[0]
    found = re.search(r'aria-current="page">([^<]+)</a>', nav)
    return found.group(1) if found else ""


@pytest.mark.parametrize("path", ["/support/tools/", "/support/tools/new"])
def test_tool_pages_light_the_support_tab(client, auth, admin, path):
    auth.login(admin)
    assert main_nav_tab(client.get(path).get_data(as_text=True)) == "Support"
    assert main_nav_tab(client.get("/support/").get_data(as_text=True)) == "Support"
    assert main_nav_tab(client.get("/tools/").get_data(as_text=True)) == "Tools"


def test_no_upstream_tools_is_an_empty_state_without_commands(client, auth, admin):
    auth.login(admin)
    page = client.get("/support/tools/").get_data(as_text=True)
    empty = page.split('data-testid="no-upstream-tools">')[1].split("</div>")[0]
    assert "<h2" in empty and "No upstream tools yet" in empty
    assert 'href="/support/tools/new"' in empty
    assert "flask" not in page and "</code>." not in page
    assert page.count('href="/support/tools/new"') == 1  # one call to action, not two


def test_a_version_is_deprecated_from_the_page(client, auth, admin, example):
    """The dates and the replacement are stored and make the served version's headers."""
    from dashboard.tools.served import load_active_tools

    auth.login(admin)
    client.post("/support/tools/new", data=form(example, version="v2"))
    life = {"deprecated_on": "2026-12-01", "sunset_on": "2027-03-31", "replacement": "v2"}
    response = client.post("/support/tools/new", data=form(example, **life))
    assert response.status_code == 303
    row = stored_version("v1")
    assert (str(row.deprecated_on), str(row.sunset_on), row.replacement) == (
        "2026-12-01",
        "2027-03-31",
        "v2",
    )
    page = client.get(f"/support/tools/{row.id}").get_data(as_text=True)
    assert 'value="2027-03-31"' in page
    served = load_active_tools().versions["shout"]["v1"]
    assert dict(served.deprecation_headers) == {
        "Deprecation": "@1796083200",
        "Sunset": "Wed, 31 Mar 2027 00:00:00 GMT",
    }
    assert served.replacement == "v2"


@pytest.mark.parametrize(
    ("life", "message"),
    [
        ({"sunset_on": "2027-03-31"}, "needs deprecated_on"),
        ({"deprecated_on": "2027-03-31", "sunset_on": "2027-01-01"}, "before deprecated_on"),
        ({"deprecated_on": "2027-03-31", "replacement": "v1"}, "another version"),
        ({"deprecated_on": "31/03/2027"}, "not a valid date"),
    ],
)
def test_bad_dates_are_form_errors(client, auth, admin, example, life, message):
    auth.login(admin)
    response = client.post("/support/tools/new", data=form(example, **life))
    assert response.status_code == 400
    errors = re.findall(r"invalid-feedback[^>]*>([^<]*)", response.get_data(as_text=True))
    assert any(message.lower() in error.lower() for error in errors), errors


def stored_version(version: str) -> Tool:
    return db.session.scalar(sa.select(Tool).where(Tool.name == "shout", Tool.version == version))
