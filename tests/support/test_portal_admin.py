"""The super-admin page of the developer portal: who may see it, what it refuses, what it saves
(and audits), and the tools whose example no longer runs."""

import re

import pytest
from flask import Blueprint

from dashboard.extensions import db
from dashboard.models import PortalOverrides, Tool
from dashboard.portal import examples
from dashboard.portal import settings as settings_module
from dashboard.portal.settings import (
    INTRO_MAX,
    TAGLINE_MAX,
    TITLE_MAX,
    PortalChoices,
    portal_settings,
    save_choices,
)
from dashboard.tools.served import ActiveTools
from dashboard.tools.sync import sync_tools
from dashboard.tools.tool import ToolVersion, object_schema
from tests.support.conftest import events, start_viewing

PAGE = "/support/portal/"


@pytest.fixture
def app_overrides():
    return {
        "PORTAL_TITLE": "Configured API",
        "PORTAL_TAGLINE": "Configured tagline",
        "PORTAL_PUBLIC_TOOLS": [],
    }


@pytest.fixture(autouse=True)
def synced(app):
    sync_tools(db.session, Tool)
    db.session.commit()


def form(**changes) -> dict:
    data = {
        "title": "Acme Tools",
        "tagline": "Text tools for busy people",
        "logo_url": "/static/brand/logo.svg",
        "intro": "Read the **quickstart**.",
        "public_tools_choice": "chosen",
        "public_tools": ["echo", "markdown"],
    }
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def field_errors(response) -> list[str]:
    return re.findall(r'class="invalid-feedback d-block">([^<]*)', response.get_data(as_text=True))


def test_only_super_admins(client, auth, make_user, support):
    assert client.get(PAGE).status_code in (302, 404)
    auth.login(make_user())
    assert client.get(PAGE).status_code == 404
    assert client.post(PAGE, data=form()).status_code == 404
    auth.logout()
    auth.login(support)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, data=form()).status_code == 403
    assert db.session.get(PortalOverrides, 1) is None
    assert events("portal.settings") == []


def test_the_console_links_the_page_for_super_admins_only(client, auth, admin, support):
    auth.login(support)
    assert PAGE not in client.get("/support/").get_data(as_text=True)
    auth.logout()
    auth.login(admin)
    assert f'href="{PAGE}"' in client.get("/support/").get_data(as_text=True)


def test_an_unsaved_page_shows_the_configuration(client, auth, admin):
    auth.login(admin)
    page = client.get(PAGE).get_data(as_text=True)
    assert 'placeholder="Configured API"' in page
    assert re.search(r'<input checked[^>]*value="configured"', page)
    assert "The portal is on" in page
    assert re.search(r'value="echo"(?! checked)', page)


def test_saving_overrides_the_configuration_and_is_audited(client, auth, admin):
    auth.login(admin)
    response = client.post(PAGE, data=form())
    assert response.status_code == 303
    settings = portal_settings()
    assert (settings.title, settings.tagline, settings.logo_url) == (
        "Acme Tools",
        "Text tools for busy people",
        "/static/brand/logo.svg",
    )
    assert settings.public_tools == {"echo", "markdown"}
    assert "<strong>quickstart</strong>" in settings.intro_html
    (event,) = events("portal.settings")
    assert event.actor_id == admin.id
    assert event.details["changed"] == [
        "title",
        "tagline",
        "logo_url",
        "intro",
        "public_tools_choice",
        "public_tools",
    ]
    assert event.details["public_tools"] == ["echo", "markdown"]
    assert event.details["intro_characters"] == len("Read the **quickstart**.")

    page = client.get(PAGE).get_data(as_text=True)
    assert 'value="Acme Tools"' in page and 'value="echo" checked' in page
    assert "Changed the developer portal" in client.get("/support/audit").get_data(as_text=True)


def test_saving_the_same_again_writes_nothing(client, auth, admin):
    auth.login(admin)
    client.post(PAGE, data=form())
    response = client.post(PAGE, data=form(), follow_redirects=True)
    assert "Nothing changed." in response.get_data(as_text=True)
    assert len(events("portal.settings")) == 1


def test_emptied_fields_fall_back_to_the_configuration(client, auth, admin):
    auth.login(admin)
    client.post(PAGE, data=form())
    response = client.post(
        PAGE,
        data=form(title="  ", tagline="", logo_url="", intro="", public_tools_choice="configured"),
    )
    assert response.status_code == 303
    settings = portal_settings()
    assert (settings.title, settings.tagline, settings.logo_url, settings.intro) == (
        "Configured API",
        "Configured tagline",
        "",
        "",
    )
    assert settings.public_tools is None
    row = db.session.get(PortalOverrides, 1)
    assert (row.title, row.public_tools_choice, row.public_tools) == (None, None, [])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"logo_url": "http://cdn.example.com/logo.svg"}, "path on this site"),
        ({"logo_url": "https://cdn.example.com/logo.svg"}, "path on this site"),
        ({"logo_url": "javascript:alert(1)"}, "path on this site"),
        ({"logo_url": "//evil.example/logo.svg"}, "path on this site"),
        ({"logo_url": "/static/logo .svg"}, "no spaces"),
        ({"logo_url": "/static/" + "a" * 2000}, "at most 2000 characters"),
        ({"title": "T" * (TITLE_MAX + 1)}, f"at most {TITLE_MAX} characters"),
        ({"tagline": "t" * (TAGLINE_MAX + 1)}, f"at most {TAGLINE_MAX} characters"),
        ({"intro": "i" * (INTRO_MAX + 1)}, f"at most {INTRO_MAX:,} characters"),
        ({"public_tools": []}, "Tick at least one tool"),
        ({"public_tools": ["echo", "nope"]}, "Unknown tools: nope."),
        ({"public_tools_choice": "some"}, "Not a valid choice"),
    ],
)
def test_bad_input_is_a_form_error(client, auth, admin, changes, message):
    auth.login(admin)
    response = client.post(PAGE, data=form(**changes))
    assert response.status_code == 400
    assert any(message in error for error in field_errors(response)), field_errors(response)
    assert db.session.get(PortalOverrides, 1) is None
    assert events("portal.settings") == []


def test_an_intro_that_renders_too_large_is_refused(client, auth, admin):
    auth.login(admin)
    # One long link definition used by every link: a few kB of Markdown, megabytes of HTML.
    intro = "[a]: https://e.example/" + "x" * 5_000 + "\n\n" + "[a] " * 1_200
    assert len(intro) <= INTRO_MAX
    response = client.post(PAGE, data=form(intro=intro))
    assert response.status_code == 400
    assert any("too much HTML" in error for error in field_errors(response))


@pytest.mark.parametrize("logo", ["/static/logo.svg", "/static/a/logo.png?v=2"])
def test_good_logo_urls(client, auth, admin, logo):
    auth.login(admin)
    assert client.post(PAGE, data=form(logo_url=logo)).status_code == 303
    assert portal_settings().logo_url == logo


def test_a_post_without_its_csrf_token_is_refused(app, client, auth, admin):
    app.config["WTF_CSRF_ENABLED"] = True
    auth.login(admin)
    response = client.post(PAGE, data=form())
    assert response.status_code == 400  # refused by CSRFProtect before the view
    assert db.session.get(PortalOverrides, 1) is None


def test_the_page_lists_the_tools_whose_example_fails(client, auth, admin, monkeypatch):
    def broken(payload):
        raise RuntimeError("the model file is missing")

    schema = object_schema({"text": {"type": "string"}}, required=["text"])
    failing = ToolVersion(
        name="broken",
        version="v2",
        title="Broken",
        description="",
        input_schema=schema,
        output_schema=schema,
        example_input={"text": "hi"},
        run=broken,
    )
    wrong_answer = ToolVersion(
        name="shouty",
        version="v1",
        title="Shouty",
        description="",
        input_schema=schema,
        output_schema=schema,
        example_input={"text": "hi"},
        run=lambda payload: {"text": 5},
    )
    fine = ToolVersion(
        name="fine",
        version="v1",
        title="Fine",
        description="",
        input_schema=schema,
        output_schema=schema,
        example_input={"text": "hi"},
        run=lambda payload: payload,
    )
    served = ActiveTools(
        {"broken": {"v2": failing}, "shouty": {"v1": wrong_answer}, "fine": {"v1": fine}}
    )
    monkeypatch.setattr(examples, "active_tools", lambda: served)
    assert [(f.tool_name, f.version) for f in examples.example_failures()] == [
        ("broken", "v2"),
        ("shouty", "v1"),
    ]
    auth.login(admin)
    section = client.get(PAGE).get_data(as_text=True).split('data-testid="example-failures"')[1]
    assert "<strong>broken</strong> v2" in section
    assert "RuntimeError: the model file is missing" in section
    assert "output breaks its schema" in section
    assert "fine" not in section


def test_every_built_in_example_runs(app):
    assert examples.example_failures() == []


def test_refused_while_viewing_as_a_customer(client, auth, admin, customer):
    auth.login(admin)
    assert start_viewing(client, customer).status_code == 303
    assert client.get(PAGE).status_code == 404  # the customer's view: no console
    assert client.post(PAGE, data=form()).status_code == 403
    assert db.session.get(PortalOverrides, 1) is None


def test_two_first_saves_at_once_both_land(app, admin, make_user, monkeypatch):
    """The second super admin's first save finds the row the first one just made."""
    other = make_user()
    first = save_choices(PortalChoices("One", None, None, None, None), admin)
    db.session.expunge(db.session.get(PortalOverrides, 1))  # as another process would
    original = settings_module.stored_choices
    reads = []

    def stale_first_read():  # the second save read "no row" before the first one committed
        reads.append(1)
        return None if len(reads) == 1 else original()

    monkeypatch.setattr(settings_module, "stored_choices", stale_first_read)
    second = save_choices(PortalChoices("Two", None, None, None, None), other)
    assert (first, second) == (["title"], ["title"])
    assert len(reads) == 2  # it tried to make the row, then saved over it
    assert portal_settings().title == "Two"
    assert [event.actor_id for event in events("portal.settings")] == [admin.id, other.id]


def test_the_page_links_the_public_landing_page(app, client, auth, admin):
    if "portal.landing" not in app.view_functions:  # the portal's pages are not on this branch
        stub = Blueprint("portal", __name__)
        stub.add_url_rule("/", "landing", lambda: "landing")
        app.register_blueprint(stub)
    auth.login(admin)
    page = client.get(PAGE).get_data(as_text=True)
    assert re.search(r'href="/"[^>]*data-testid="portal-preview"', page)


def test_while_the_portal_is_off_the_page_says_so(app, client, auth, admin):
    app.config["PORTAL_ENABLED"] = False
    auth.login(admin)
    page = client.get(PAGE).get_data(as_text=True)
    assert "The portal is off" in page
    assert "portal-preview" not in page
