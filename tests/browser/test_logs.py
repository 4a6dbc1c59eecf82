import itertools
import os
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from dashboard.api.metering import record_call
from dashboard.auth.service import user_by_email
from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import User, utcnow
from tests.browser import people
from tests.browser.axe import assert_accessible
from tests.browser.conftest import SHOTS

_n = itertools.count()
PHONE = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def remove_accounts(live_app):
    """The live server's database outlives the test: delete what this test made."""
    yield
    with live_app.app_context():
        db.session.execute(sa.delete(User).where(User.email.like(f"logs%-{id(_n)}@example.com")))
        db.session.commit()


def sign_up(page: Page) -> str:
    return people.sign_up(page, f"logs{next(_n)}-{id(_n)}@example.com")


def seed_calls(live_app, email: str) -> None:
    """60 failed keywords calls, 40 good echo calls, spread over the last hours."""
    with live_app.app_context():
        user = user_by_email(email)
        key, _ = create_key(user, "Production server")
        now = utcnow()
        for n in range(100):
            failed = n % 5 < 3
            record_call(
                user_id=user.id,
                api_key_id=key.id,
                tool_name="keywords" if failed else "echo",
                tool_version="v1",
                input_payload={"text": f"<script>alert({n})</script> call {n}", "max": 5},
                output_payload=None if failed else {"echo": f"call {n}", "length": 6},
                status="error" if failed else "success",
                execution_time_ms=20 + n,
                tokens_used=10 + n,
                error_message=(
                    f"Tool timed out after 3000 ms while reading call {n}" if failed else None
                ),
                error_code="tool_error" if failed else None,
                client_ip="203.0.113.7",
                at=now - timedelta(minutes=3 * n),
            )


def rows(page: Page):
    return page.locator("#log-results tbody tr")


def test_filter_page_open_a_call_and_come_back(page: Page, live_app, screenshot):
    email = sign_up(page)
    seed_calls(live_app, email)
    page.goto("/logs/")
    expect(rows(page)).to_have_count(50)
    screenshot("list")

    search = page.get_by_label("Search calls")
    search.fill("status:error")
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"/logs/\?status=error$"))
    expect(page.get_by_role("link", name="Remove filter status error")).to_be_visible()
    expect(search).to_be_focused()  # the form came back out of band; the box kept the focus
    page.get_by_text("More filters").click()
    page.get_by_label("Tool", exact=True).select_option("keywords")
    expect(page).to_have_url(re.compile(r"tool=keywords"))
    expect(page.get_by_label("Tool", exact=True)).to_be_visible()  # "More filters" stays open
    search.fill("TIMED OUT")
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"q=TIMED\+OUT"))
    expect(rows(page)).to_have_count(50)
    expect(page.locator("#log-results")).not_to_contain_text("Success")
    first_row = rows(page).first.get_attribute("data-log-id")

    page.wait_for_load_state("networkidle")  # the debounced search has answered and settled
    page.get_by_role("link", name="Older →").click()
    expect(page).to_have_url(re.compile(r"after="))
    expect(rows(page)).to_have_count(10)
    expect(page.get_by_test_id("newer-hint")).to_be_visible()
    assert "status=error" in page.url and "tool=keywords" in page.url
    page.get_by_role("link", name="← Newer").click()
    expect(rows(page).first).to_have_attribute("data-log-id", first_row)
    page.get_by_role("link", name="Older →").click()
    expect(rows(page)).to_have_count(10)
    page.go_back()  # the browser's back button restores the first page
    expect(rows(page).first).to_have_attribute("data-log-id", first_row)
    expect(page.get_by_label("Status", exact=True)).to_have_value("error")

    rows(page).first.locator("a").first.click()
    panel = page.locator("#log-panel")
    expect(panel.get_by_text("Request ID")).to_be_visible()
    expect(panel.get_by_test_id("input-json")).to_contain_text("<script>alert(")
    screenshot("panel")
    assert_accessible(page)
    page.keyboard.press("Escape")
    expect(panel).to_be_empty()

    rows(page).nth(1).locator("a").first.click()
    panel.get_by_role("link", name="Open full page").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("keywords")
    expect(page.get_by_test_id("error-message")).to_contain_text("Tool timed out after 3000 ms")
    expect(page.get_by_test_id("curl")).to_contain_text("curl -X POST")
    screenshot("detail")
    assert_accessible(page)
    page.set_viewport_size(PHONE)
    screenshot("detail-phone")
    page.get_by_test_id("back-to-logs").click()
    expect(page).to_have_url(re.compile(r"status=error"))
    assert "tool=keywords" in page.url and "q=TIMED+OUT" in page.url
    expect(page.get_by_label("Tool", exact=True)).to_have_value("keywords")
    expect(page.get_by_label("Search calls")).to_have_value("TIMED OUT")
    expect(rows(page)).to_have_count(50)
    screenshot("list-phone")


def first_screen(page: Page, name: str) -> None:
    """What the window shows before any scrolling (a full-page shot hides that on a phone)."""
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=f"{SHOTS}/logs-first-screen-{name}.png")


def test_search_box_and_chips_in_light_dark_and_on_a_phone(page: Page, live_app, screenshot):
    email = sign_up(page)
    seed_calls(live_app, email)
    page.goto("/logs/")
    search = page.get_by_label("Search calls")
    search.fill("status:error tool:keywords version:v1 timed out")
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"status=error"))
    expect(rows(page)).to_have_count(50)
    for name in ("status error", "tool keywords", "version v1"):
        expect(page.get_by_role("link", name=f"Remove filter {name}")).to_be_visible()
    expect(page.locator("#log-summary")).to_contain_text("filtered by status error")
    screenshot("chips-light")
    first_screen(page, "desktop-light")
    page.emulate_media(color_scheme="dark")
    screenshot("chips-dark")
    first_screen(page, "desktop-dark")
    page.set_viewport_size({"width": 375, "height": 812})
    screenshot("chips-phone-dark")
    first_screen(page, "phone-dark")
    page.emulate_media(color_scheme="light")
    screenshot("chips-phone-light")
    first_screen(page, "phone-light")
    rows(page).nth(2).scroll_into_view_if_needed()
    first_screen(page, "phone-cards")
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    assert_accessible(page)

    page.get_by_role("link", name="Remove filter version v1").click()
    expect(page).not_to_have_url(re.compile(r"version="))
    assert "status=error" in page.url and "tool=keywords" in page.url and "q=timed" in page.url
    expect(page.get_by_role("link", name="Remove filter version v1")).to_have_count(0)

    search.fill("foo:bar")
    search.press("Enter")
    expect(page.get_by_test_id("filter-problems")).to_contain_text("is not a filter")
    expect(search).to_have_attribute("aria-invalid", "true")
    screenshot("unknown-term-phone")
    first_screen(page, "phone-unknown-term")


def test_empty_states(page: Page, live_app, screenshot):
    email = sign_up(page)
    page.goto("/logs/")
    expect(page.get_by_test_id("no-calls")).to_contain_text("No calls yet")
    expect(page.locator("#first-curl")).to_contain_text("/api/v1/tools/echo/v1")
    screenshot("no-calls")
    assert_accessible(page)
    page.set_viewport_size(PHONE)
    screenshot("no-calls-phone")
    page.set_viewport_size({"width": 1280, "height": 860})

    seed_calls(live_app, email)
    page.goto("/logs/?status=bogus&from=2030-01-02&to=2030-01-01&tool=sentiment")
    expect(page.get_by_test_id("filter-problems")).to_contain_text("Status must be")
    expect(page.get_by_test_id("no-match")).to_be_visible()
    screenshot("no-match")
    page.get_by_role("link", name="Clear filters").click()
    expect(rows(page)).to_have_count(50)
