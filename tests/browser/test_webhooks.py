"""The webhooks pages in Chromium: copy the once-shown secret, read a delivery's payload; every
state in light, dark and phone, through the accessibility walk (axe and control contrast)."""

import re
import uuid

from playwright.sync_api import Page, expect

from tests.browser import people
from tests.browser.test_accessibility import look_at

LONG_URL = "https://hooks.example.com/toolbox/events/a-rather-long-path-for-one-receiver"


def test_copy_the_secret_and_read_a_payload(page: Page):
    people.sign_up(page, f"hooks-{uuid.uuid4().hex[:8]}@example.com")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/webhooks/")
    page.get_by_label("URL").fill(LONG_URL)
    page.get_by_role("button", name="Add endpoint").click()

    panel = page.get_by_test_id("webhook-secret")
    secret = panel.locator("#webhook-secret").inner_text()
    assert re.fullmatch(r"whsec_\S+", secret)
    status = panel.locator("#webhook-secret-status")
    expect(status).to_have_attribute("aria-live", "polite")
    expect(status).to_have_text("")
    look_at(page, "webhook-new-secret")
    panel.get_by_role("button", name="Copy signing secret").click()
    expect(status).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == secret

    page.get_by_role("button", name="Send test event").click()
    payload = page.get_by_test_id("delivery-payload").first
    expect(payload).to_be_hidden()
    page.locator("#deliveries summary", has_text="Payload").first.click()
    expect(payload).to_contain_text('"type": "webhook.test"')
    look_at(page, "webhook-endpoint-payload", top=True)

    page.goto("/webhooks/")
    cell = page.locator(".deliveries-table .endpoint-url").first
    expect(cell).to_have_attribute("title", LONG_URL)
    # Cut with an ellipsis on one line, not broken across lines.
    assert cell.evaluate("e => e.scrollWidth > e.clientWidth && e.getClientRects().length === 1")
    look_at(page, "webhooks-with-deliveries")
