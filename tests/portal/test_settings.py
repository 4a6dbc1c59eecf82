"""The portal's settings: the configuration, a super admin's choices over it field by field,
read once per request, and the intro rendered safely."""

import pytest
import sqlalchemy as sa
from flask import g

from dashboard.extensions import db
from dashboard.portal.settings import (
    PortalChoices,
    is_public,
    portal_settings,
    save_choices,
)


@pytest.fixture
def app_overrides():
    return {
        "PORTAL_TITLE": "Configured API",
        "PORTAL_TAGLINE": "Configured tagline",
        "PORTAL_LOGO_URL": "/static/configured.svg",
        "PORTAL_PUBLIC_TOOLS": ["echo", "sentiment"],
        "PORTAL_INTRO": "Configured *intro*",
    }


def choices(**fields) -> PortalChoices:
    values = dict.fromkeys(("title", "tagline", "logo_url", "intro", "public_tools_choice"))
    return PortalChoices(**(values | fields))


def fresh() -> None:
    """Forget this request's settings, as the next request would."""
    g.pop("portal_settings", None)


def test_without_a_saved_row_the_configuration_holds(app):
    fresh()
    settings = portal_settings()
    assert (settings.enabled, settings.title, settings.tagline, settings.logo_url) == (
        True,
        "Configured API",
        "Configured tagline",
        "/static/configured.svg",
    )
    assert settings.public_tools == {"echo", "sentiment"}
    assert settings.intro_html == "<p>Configured <em>intro</em></p>\n"
    assert is_public("echo") and not is_public("markdown")


def test_each_saved_field_overrides_its_setting_and_the_others_stay(app, make_user):
    admin = make_user()
    save_choices(choices(title="Acme Tools", public_tools_choice="all"), admin)
    settings = portal_settings()
    assert settings.title == "Acme Tools"
    assert settings.tagline == "Configured tagline"  # not set: as configured
    assert settings.intro == "Configured *intro*"
    assert settings.public_tools is None
    assert is_public("markdown")

    save_choices(choices(public_tools_choice="chosen", public_tools=("markdown",)), admin)
    settings = portal_settings()
    assert settings.title == "Configured API"
    assert settings.public_tools == {"markdown"}
    assert is_public("markdown") and not is_public("echo")


def test_portal_enabled_is_the_environments_alone(app, make_user):
    app.config["PORTAL_ENABLED"] = False
    save_choices(choices(title="Acme Tools", public_tools_choice="all"), make_user())
    assert portal_settings().enabled is False


def test_a_request_reads_the_table_once(app, make_user):
    save_choices(choices(title="Acme Tools"), make_user())
    fresh()
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with app.test_request_context("/"):
            first = portal_settings()
            for _ in range(5):
                assert portal_settings() is first
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
    assert len([s for s in statements if "portal_settings" in s]) == 1
    assert first.title == "Acme Tools"


@pytest.mark.parametrize(
    ("markdown", "absent", "present"),
    [
        ("Hi <script>alert(1)</script>", "<script", "Hi"),
        ("[click](javascript:alert(1))", "href=", "click"),
        ('<img src="x" onerror="alert(1)">', "onerror", "<img"),
        ("[docs](https://example.com/docs)", 'target="', 'rel="noopener noreferrer nofollow"'),
    ],
)
def test_the_intro_is_sanitised(app, make_user, markdown, absent, present):
    save_choices(choices(intro=markdown), make_user())
    html = portal_settings().intro_html
    assert absent not in html
    assert present in html
