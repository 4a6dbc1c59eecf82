"""Support finds a customer, views as them with a reason, ends; the customer sees it."""

import itertools
import re
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from dashboard.api.metering import record_call
from dashboard.auth.service import create_user
from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import SuperAdmin, utcnow
from tests.browser.axe import assert_accessible

PASSWORD = "a long password"
REASON = "Ticket 4821: their key fails with 401"
_n = itertools.count()


def unique(name: str) -> str:
    return f"{name}{next(_n)}-{uuid.uuid4().hex[:6]}@example.com"


@pytest.fixture
def people(live_app):
    """A support person, a super admin and a customer with a key, calls and an error."""
    with live_app.app_context():
        support = create_user(unique("support"), PASSWORD, role="support")
        admin = create_user(unique("admin"), PASSWORD)
        db.session.add(SuperAdmin(user_id=admin.id, notes="browser test"))
        customer = create_user(unique("customer"), PASSWORD, plan="pro")
        key, _ = create_key(customer, "Production server")
        create_key(customer, "Old laptop", expires_at=utcnow() - timedelta(days=2))
        for n in range(6):
            failed = n % 3 == 0
            record_call(
                user_id=customer.id,
                api_key_id=key.id,
                tool_name="word_count",
                tool_version="v1",
                input_payload={"text": "hello"},
                output_payload=None if failed else {"words": 1},
                status="error" if failed else "success",
                execution_time_ms=15 + n,
                tokens_used=4,
                error_message="Input must be a string." if failed else None,
                error_code="invalid_input" if failed else None,
                at=utcnow() - timedelta(minutes=5 * n),
            )
        return {
            "support": support.email,
            "admin": admin.email,
            "customer": customer.email,
            "prefix": key.prefix,
        }


def log_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def on_phone(page: Page, screenshot, name: str) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(f"{name}-phone")
    page.set_viewport_size({"width": 1280, "height": 860})


def test_support_views_as_a_customer_and_the_customer_sees_it(page: Page, people, screenshot):
    log_in(page, people["support"])
    # Support staff land on the console, not on their own (empty) usage page.
    expect(page.get_by_role("heading", name="Support console")).to_be_visible()
    page.get_by_label("Email, organisation, account id or key prefix").fill(people["prefix"])
    page.get_by_role("button", name="Search").click()
    result = page.get_by_role("link", name=people["customer"])
    expect(result).to_be_visible()
    expect(page).to_have_url(re.compile(r"/support/\?q=tk_live_"))  # htmx kept the URL shareable
    screenshot("console-search")
    on_phone(page, screenshot, "console-search")
    assert_accessible(page)

    result.click()
    expect(page.get_by_role("heading", name=people["customer"])).to_be_visible()
    expect(page.get_by_text("Input must be a string.").first).to_be_visible()
    expect(page.get_by_text("Old laptop")).to_be_visible()
    screenshot("user-page")
    on_phone(page, screenshot, "user-page")
    assert_accessible(page)

    page.get_by_role("button", name="View as this user").click()  # no reason yet
    expect(page.get_by_text("Say why you need to view as this customer.")).to_be_visible()
    page.get_by_label("Reason").fill(REASON)
    page.get_by_role("button", name="View as this user").click()

    banner = page.get_by_role("region", name="Viewing as a customer")
    expect(banner).to_contain_text(f"You are viewing as {people['customer']}")
    # The header names who is really logged in, never the customer.
    expect(page.get_by_test_id("logged-in-as")).to_have_text(people["support"])
    countdown = page.get_by_test_id("impersonation-countdown")
    expect(countdown).to_have_text(re.compile(r"^(29|30):\d\d min$"))
    first = countdown.inner_text()
    # It counts down live (a busy machine may hold the timer while Plotly draws the usage page).
    expect(countdown).not_to_have_text(first, timeout=30_000)
    page.get_by_role("link", name="Logs").click()
    expect(page.get_by_role("heading", name="Logs", level=1)).to_be_visible()
    expect(banner).to_be_visible()
    expect(page.get_by_role("link", name="Support")).to_have_count(0)
    page.mouse.wheel(0, 3000)  # the banner sticks with the header when the page scrolls
    expect(banner).to_be_in_viewport()
    screenshot("banner")
    on_phone(page, screenshot, "banner")
    assert_accessible(page)

    # A leaked key: support may expire it (and nothing else) while viewing as the customer.
    page.get_by_role("link", name="API keys").click()
    expect(page.get_by_role("heading", name="API keys", level=1)).to_be_visible()
    page.wait_for_load_state()  # htmx (a deferred script) has taken the Expire link over
    expect(page.get_by_role("button", name="Create key")).to_have_count(0)
    expect(page.get_by_role("link", name="Create a key")).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("link", name="Expire key Production server").click()
    expect(page.get_by_text("Key “Production server” expired.")).to_be_visible()
    expect(banner).to_be_visible()

    banner.get_by_role("button", name=re.compile("^End")).click()
    expect(page.get_by_text(f"You stopped viewing as {people['customer']}.")).to_be_visible()
    expect(page.get_by_role("heading", name=people["customer"])).to_be_visible()  # the console
    expect(page.get_by_role("region", name="Viewing as a customer")).to_have_count(0)
    page.get_by_role("button", name="Log out").click()

    log_in(page, people["customer"])
    page.get_by_role("link", name="Account").click()
    access = page.get_by_test_id("support-access")
    expect(access).to_contain_text(f"Support ({people['support']})")
    expect(access).to_contain_text(REASON)
    access.scroll_into_view_if_needed()
    screenshot("account-support-access")


def test_super_admin_reads_the_audit_log(page: Page, people, screenshot):
    log_in(page, people["support"])
    page.goto("/support/")
    page.get_by_label("Email, organisation, account id or key prefix").fill(people["customer"])
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=people["customer"]).click()
    page.get_by_label("Reason").fill(REASON)
    page.get_by_role("button", name="View as this user").click()
    page.get_by_role("button", name=re.compile("^End")).click()
    page.get_by_role("button", name="Log out").click()

    log_in(page, people["admin"])
    page.goto("/support/")
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    page.get_by_label("Subject email or organisation").fill(people["customer"])
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("#audit-rows tbody tr")
    expect(rows.first).to_contain_text("Stopped viewing as customer")
    expect(rows.last).to_contain_text(REASON)
    expect(rows.filter(has_text="Started viewing as customer")).to_have_count(1)
    expect(rows.filter(has_text="Read a page while viewing")).not_to_have_count(0)  # pages seen
    screenshot("audit")
    on_phone(page, screenshot, "audit")
    assert_accessible(page)

    # Back after an htmx filter answers the whole page, not a bare fragment.
    page.goto("/support/")
    page.go_back()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    expect(rows.filter(has_text="Started viewing as customer")).to_have_count(1)
