"""The portal's settings page in Chromium: a super admin finds it from the console, fixes a
refused logo URL (the error state passes axe too), chooses the public tools and saves."""

import uuid

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from dashboard.auth.service import create_user
from dashboard.extensions import db
from dashboard.models import PortalOverrides, SuperAdmin
from dashboard.portal.settings import portal_settings
from tests.browser.axe import assert_accessible
from tests.browser.test_support import PASSWORD, log_in


@pytest.fixture
def admin_email(live_app):
    with live_app.app_context():
        admin = create_user(f"portal-admin-{uuid.uuid4().hex[:8]}@example.com", PASSWORD)
        db.session.add(SuperAdmin(user_id=admin.id, notes="browser test"))
        db.session.commit()
        email = admin.email
    yield email
    # The live server's database serves the browser tests that follow: the portal they see is
    # the configured one again.
    with live_app.app_context():
        db.session.execute(sa.delete(PortalOverrides))
        db.session.commit()


def test_a_super_admin_sets_the_portals_texts_and_tools(page: Page, live_app, admin_email):
    log_in(page, admin_email)
    page.goto("/support/")
    page.get_by_role("link", name="Developer portal").click()
    expect(page.get_by_role("heading", name="Developer portal", level=1)).to_be_visible()

    page.get_by_label("Title").fill("Acme Tools")
    page.get_by_label("Logo URL").fill("http://cdn.example.com/logo.svg")
    page.get_by_label("Introduction (Markdown)").fill("Start with the **quickstart**.")
    page.get_by_label("Only the tools ticked below").check()
    page.get_by_label("echo", exact=True).check()
    page.get_by_role("button", name="Save portal settings").click()
    logo = page.get_by_label("Logo URL")
    expect(logo).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("Give a path on this site, such as /static/logo.svg")).to_be_visible()
    expect(page.get_by_label("echo", exact=True)).to_be_checked()  # the rest is kept
    assert_accessible(page)

    logo.fill("/static/favicon.svg")
    page.get_by_role("button", name="Save portal settings").click()
    expect(page.get_by_text("Portal settings saved.")).to_be_visible()
    expect(page.get_by_label("Title")).to_have_value("Acme Tools")
    expect(page.get_by_label("Only the tools ticked below")).to_be_checked()
    expect(page.get_by_label("echo", exact=True)).to_be_checked()
    with live_app.test_request_context():
        settings = portal_settings()
        db.session.remove()
    assert (settings.title, settings.logo_url, settings.public_tools) == (
        "Acme Tools",
        "/static/favicon.svg",
        {"echo"},
    )
