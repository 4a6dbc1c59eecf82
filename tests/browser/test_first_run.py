"""A newcomer's first run in Chromium: sign up, open the emailed link (from the real SMTP
server) and be logged in, then the three-step card on the usage home: playground, key, a call
with that key, each step ticked; the card goes with the first successful call. Every wait is
for something on the page, never for a clock."""

import itertools
import re

from playwright.sync_api import Page, expect

from tests.browser import people
from tests.browser.axe import DESKTOP, LOOKS, assert_accessible, wait_until_settled

_n = itertools.count()


def step(page: Page, name: str):
    return page.get_by_test_id(f"step-{name}")


def three_looks(page: Page, screenshot, name: str) -> None:
    """Light and dark on a desktop and on a phone, each once the theme has landed."""
    for scheme, size in LOOKS:
        page.set_viewport_size(size)
        page.emulate_media(color_scheme=scheme)
        wait_until_settled(page, scheme)
        screenshot(f"{name}-{'desktop' if size == DESKTOP else 'phone'}-{scheme}")
    page.set_viewport_size(DESKTOP)
    page.emulate_media(color_scheme="light")
    wait_until_settled(page, "light")


def test_sign_up_to_a_first_call(page: Page, mail_inbox, screenshot):
    inbox, _ = mail_inbox
    email = f"first-run-{next(_n)}-{id(_n)}@example.com"
    page.goto("/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(people.PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()

    # The message is on the SMTP server by the time the page answered (sent in the request).
    page.goto(inbox.link_to(email))  # the emailed link: no password typed again
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_text(f"Thank you: {email} is confirmed.")).to_be_visible()
    expect(page.get_by_role("heading", name="Usage", level=1)).to_be_visible()
    card = page.get_by_test_id("first-steps")
    expect(card.get_by_role("heading", name="Your first call in three steps")).to_be_visible()
    for name in ("playground", "key", "call"):
        expect(step(page, name)).to_contain_text("Not done yet")
    three_looks(page, screenshot, "card-new")
    assert_accessible(page)

    # 1. The playground, from the card: no key needed.
    card.get_by_role("link", name="Try a tool in the playground").click()
    expect(page.get_by_role("heading", name="Tools", level=1)).to_be_visible()
    page.goto("/tools/echo/v1")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_test_id("playground-status")).to_have_text("200 OK")

    # 2. A key, from the card.
    page.goto("/usage/")
    expect(step(page, "playground")).to_contain_text("Done")
    step(page, "key").get_by_role("link", name="Create an API key").click()
    expect(page.get_by_role("heading", name="API keys", level=1)).to_be_visible()
    page.get_by_label("Name").fill("first key")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#new-key-secret").input_value()
    assert re.fullmatch(r"tk_live_[A-Za-z0-9_-]{43}[0-9A-Za-z]{6}", secret)

    page.goto("/usage/")
    expect(step(page, "playground")).to_have_attribute("data-done", "true")
    expect(step(page, "key")).to_have_attribute("data-done", "true")
    expect(step(page, "call")).to_contain_text("Not done yet")
    three_looks(page, screenshot, "card-two-done")
    assert_accessible(page)

    # 3. A call with the key, as the keys page shows it, then Logs from the card.
    answer = page.request.post(
        "/api/v1/tools/echo/v1",
        headers={"Authorization": f"Bearer {secret}"},
        data={"message": "hello"},
    )
    assert answer.status == 200, answer.text()
    step(page, "call").get_by_role("link", name="See your call in Logs").click()
    calls = page.locator("#log-results tbody tr")
    expect(calls).to_have_count(2)  # the playground's run and the key's call
    expect(calls.filter(has_text="playground")).to_have_count(1)

    page.goto("/usage/")
    expect(page.get_by_role("heading", name="Usage", level=1)).to_be_visible()
    expect(page.get_by_test_id("first-steps")).to_have_count(0)  # the first call was made
    screenshot("after-first-call")


def test_a_used_sign_up_link_does_not_log_in_again(page: Page, mail_inbox, browser, base_url):
    inbox, _ = mail_inbox
    email = f"first-run-once-{next(_n)}-{id(_n)}@example.com"
    page.goto("/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(people.PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    link = inbox.link_to(email)
    page.goto(link)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    other = browser.new_context(base_url=base_url).new_page()
    other.goto(link)
    expect(other.get_by_role("heading", name="This link was already used")).to_be_visible()
    expect(other.get_by_role("button", name="Log out")).to_have_count(0)
    other.context.close()
