"""The keys page in Chromium: create, copy once, roll, expire; screenshots at two widths."""

import itertools
import re

from playwright.sync_api import Page, expect

from tests.browser import people
from tests.browser.axe import assert_accessible

_n = itertools.count()
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}


def sign_up(page: Page) -> None:
    people.sign_up(page, f"keys{next(_n)}-{id(_n)}@example.com")
    page.goto("/keys/")
    expect(page.get_by_role("heading", name="API keys", level=1)).to_be_visible()


def both_widths(page: Page, screenshot, name: str) -> None:
    screenshot(name)
    page.set_viewport_size(PHONE)
    screenshot(name + "-phone")
    page.set_viewport_size(DESKTOP)


def rows(page: Page):
    return page.locator("tr.key-row")


def test_create_copy_once_roll_and_expire(page: Page, screenshot):
    sign_up(page)
    expect(page.get_by_text("No API keys yet")).to_be_visible()
    expect(page.locator(".curl-example").first).to_contain_text("api/v1/tools/sentiment")
    both_widths(page, screenshot, "empty")
    # One way to create the first key: the form, not three buttons.
    expect(page.get_by_role("button", name="Create key")).to_have_count(1)
    expect(page.get_by_role("link", name=re.compile("Create"))).to_have_count(0)
    expect(page.get_by_label("On a date", exact=True)).not_to_be_checked()
    expect(page.locator(".expiry-date")).to_be_hidden()  # no date field while "Never" is chosen
    page.get_by_label("On a date", exact=True).check()
    expect(page.locator(".expiry-date")).to_be_visible()
    page.get_by_label("Never").check()
    assert_accessible(page)

    # Bad input first: the form explains, nothing is created.
    page.get_by_label("Name").fill("")
    page.get_by_label("Rate limit (calls per minute)").fill("5000")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_text("Give the key a name.")).to_be_visible()
    expect(page.get_by_text("the most your Free plan allows")).to_be_visible()
    expect(page.get_by_label("Name")).to_be_focused()
    both_widths(page, screenshot, "create-errors")
    assert_accessible(page)

    page.get_by_label("Name").fill("production server")
    page.get_by_label("Rate limit (calls per minute)").fill("60")
    page.get_by_label("In 30 days").check()
    page.get_by_role("button", name="Create key").click()

    secret_box = page.locator("#new-key-secret")
    expect(secret_box).to_be_visible()
    expect(secret_box).to_be_focused()
    # Nothing of the panel hides under the sticky header: its heading and warning are in view.
    header_bottom = (
        page.locator("header.app-header").bounding_box()["y"]
        + page.locator("header.app-header").bounding_box()["height"]
    )
    assert page.get_by_test_id("new-secret").bounding_box()["y"] >= header_bottom - 1
    expect(page.get_by_text("Copy this secret now.")).to_be_in_viewport()
    secret = secret_box.input_value()
    assert re.fullmatch(r"tk_live_[A-Za-z0-9_-]{43}[0-9A-Za-z]{6}", secret)
    expect(page.get_by_text("Copy this secret now.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/keys/$"))
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied!")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    both_widths(page, screenshot, "secret-once")
    assert_accessible(page)

    # Reload: the secret is gone for good; the list shows only its prefix.
    page.reload()
    expect(page.locator("#new-key-secret")).to_have_count(0)
    assert secret not in page.content()
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text(secret[:14] + "…")
    expect(rows(page).first).to_contain_text("60/min")
    expect(rows(page).first).to_contain_text("in 30 days")

    # Roll with the default 24-hour grace: both keys listed, the old one marked rolled.
    page.get_by_role("link", name="Roll key production server").click()
    expect(page.get_by_label("24 hours")).to_be_checked()
    page.get_by_role("button", name="Roll key").click()
    new_secret = page.locator("#new-key-secret").input_value()
    assert new_secret != secret
    expect(rows(page)).to_have_count(2)
    expect(page.locator('tr[data-status="rolled"]')).to_contain_text("Rolled — works until")
    expect(page.locator('tr[data-status="active"]')).to_contain_text(new_secret[:14] + "…")
    both_widths(page, screenshot, "rolled")
    assert_accessible(page)

    # Expire the new key after accepting the confirmation.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator('tr[data-status="active"]').get_by_role("link", name=re.compile("^Expire")).click()
    expect(page.get_by_text("expired. It stops working")).to_be_visible()
    expired = page.locator('tr[data-status="expired"]')
    expect(expired).to_have_count(1)
    expect(expired.first).to_contain_text("Expired")
    # No Edit, Roll or Expire: only the name's link to the key's own page stays.
    expect(expired.first.locator(".key-actions").get_by_role("link")).to_have_count(0)
    expect(expired.first.get_by_test_id("key-page-link")).to_have_count(1)
    expect(page.locator('tr[data-status="active"]')).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/keys/$"))
    both_widths(page, screenshot, "list")


def test_dismissed_confirmation_keeps_the_key_and_edit_works_in_place(page: Page, screenshot):
    sign_up(page)
    page.get_by_label("Name").fill("staging")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-key-secret")).to_be_visible()

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("link", name="Expire key staging").click()
    expect(page.locator('tr[data-status="active"]')).to_have_count(1)

    page.get_by_role("link", name="Edit key staging").click()
    name = page.locator("tr.key-form-row").get_by_label("Name")
    expect(name).to_be_focused()
    name.fill("staging box")
    page.locator("tr.key-form-row").get_by_label("Only from these IP addresses").fill(
        "10.0.0.0/8, nope"
    )
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Not an IP address or CIDR range: nope")).to_be_visible()
    expect(
        page.locator("tr.key-form-row").get_by_label("Only from these IP addresses")
    ).to_be_focused()
    screenshot("edit-error")
    assert_accessible(page)
    page.locator("tr.key-form-row").get_by_label("Only from these IP addresses").fill("10.0.0.0/8")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Key “staging box” saved.")).to_be_visible()
    expect(rows(page).first).to_contain_text("From: 10.0.0.0/8")
    expect(page.get_by_role("link", name="Edit key staging box")).to_be_focused()


def test_without_javascript_every_action_is_a_plain_form(browser, base_url, screenshot):
    context = browser.new_context(java_script_enabled=False, base_url=base_url)
    page = context.new_page()
    try:
        sign_up(page)
        page.get_by_label("Name").fill("no js")
        page.get_by_role("button", name="Create key").click()
        secret = page.locator("#new-key-secret").input_value()
        assert secret.startswith("tk_live_")
        page.reload()
        assert secret not in page.content()

        page.get_by_role("link", name="Roll key no js").click()
        expect(page).to_have_url(re.compile(r"/roll$"))
        page.get_by_label("1 hour").check()
        page.get_by_role("button", name="Roll key").click()
        expect(page.locator("#new-key-secret")).to_be_visible()
        expect(page.locator('tr[data-status="rolled"]')).to_have_count(1)

        page.locator('tr[data-status="active"]').get_by_role(
            "link", name=re.compile("^Expire")
        ).click()
        expect(page.get_by_role("heading", name="Expire “no js” now?")).to_be_visible()
        page.get_by_role("button", name="Expire now").click()
        expect(page).to_have_url(re.compile(r"/keys/$"))
        expect(page.locator('tr[data-status="expired"]')).to_have_count(1)
    finally:
        context.close()
