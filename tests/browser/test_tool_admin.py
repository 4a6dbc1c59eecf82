"""The upstream-tools page in Chromium: a super admin adds a tool, fixes a mistake, tests it."""

import json
import os
import threading
import uuid

import pytest
from playwright.sync_api import Page, expect

from dashboard.auth.service import create_user
from dashboard.extensions import db
from dashboard.models import SuperAdmin
from examples.upstream.service import make_server
from tests.browser.test_support import PASSWORD, log_in

SECRET = "browser-secret"
SHOTS = "/tmp/upstream-shots"  # noqa: S108 (screenshots to look at)


@pytest.fixture
def upstream(live_app):
    server = make_server("127.0.0.1", 0, SECRET)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secrets = live_app.config["UPSTREAM_SECRETS"]
    live_app.config["UPSTREAM_SECRETS"] = {**secrets, "example": SECRET}
    yield server
    live_app.config["UPSTREAM_SECRETS"] = secrets
    server.shutdown()
    server.server_close()


@pytest.fixture
def admin_email(live_app):
    with live_app.app_context():
        admin = create_user(f"tools-admin-{uuid.uuid4().hex[:8]}@example.com", PASSWORD)
        db.session.add(SuperAdmin(user_id=admin.id, notes="browser test"))
        db.session.commit()
        return admin.email


def shoot(page: Page, name: str) -> None:
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def test_a_super_admin_adds_and_tests_an_upstream_tool(page: Page, upstream, admin_email):
    name = f"shout_{uuid.uuid4().hex[:6]}"
    log_in(page, admin_email)
    page.goto("/support/")
    page.get_by_role("link", name="Upstream tools").click()
    expect(page.get_by_role("heading", name="Upstream tools", exact=True)).to_be_visible()
    page.get_by_role("link", name="Add an upstream tool").click()

    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Title", exact=True).fill("Shout")
    page.get_by_label("Upstream URL").fill("ftp://nowhere/shout")
    page.get_by_label("Secret name").fill("example")
    schema = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    page.get_by_label("Input JSON Schema").fill(json.dumps(schema, indent=2))
    page.get_by_label("Output JSON Schema").fill('{"type": "object", "required": ["shout"]}')
    page.get_by_label("Example input (JSON)").fill('{"text": "hello"}')
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_text("Must be an http:// or https:// URL with a host.")).to_be_visible()
    shoot(page, "form-error-desktop")

    page.get_by_label("Upstream URL").fill(f"http://127.0.0.1:{upstream.server_port}/shout")
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_text(f"{name} v1 added.")).to_be_visible()
    row = page.locator("tr", has_text=name)
    expect(row.get_by_text("Active")).to_be_visible()

    row.get_by_role("button", name="Test").click()  # htmx: the answer appears under the row
    expect(page.get_by_text("HELLO!")).to_be_visible()
    expect(page.locator(".test-result")).to_contain_text("200 in")
    assert page.url.endswith("/support/tools/")
    shoot(page, "list-tested-desktop")

    page.set_viewport_size({"width": 390, "height": 844})
    shoot(page, "list-phone")
    page.emulate_media(color_scheme="dark")
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "dark")
    shoot(page, "list-phone-dark")
    page.set_viewport_size({"width": 1280, "height": 860})
    page.locator("tr", has_text=name).get_by_role("link").first.click()
    expect(page.get_by_label("Upstream URL")).to_have_value(
        f"http://127.0.0.1:{upstream.server_port}/shout"
    )
    shoot(page, "edit-desktop-dark")

    page.goto("/support/tools/")
    page.locator("tr", has_text=name).get_by_role("button", name="Switch off").click()
    expect(page.get_by_text(f"{name} v1 is switched off.")).to_be_visible()
    expect(page.locator("tr", has_text=name).get_by_text("Off")).to_be_visible()
