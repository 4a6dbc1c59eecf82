"""The account security journey in Chromium: sign up, confirm by the emailed link, turn on
two-factor, log out, log in with a code, and see the sessions; screenshots of the new pages."""

import itertools
import re
import time

import pyotp
from playwright.sync_api import Page, expect

from tests.jobs_queue import run_queued

_n = itertools.count()
PASSWORD = "a long password"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}


def shots(page: Page, screenshot, name: str) -> None:
    """Desktop and phone, light and dark."""
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.reload()
        screenshot(f"{name}-{scheme}")
        page.set_viewport_size(PHONE)
        screenshot(f"{name}-{scheme}-phone")
        page.set_viewport_size(DESKTOP)
    page.emulate_media(color_scheme="light")


def link_in_last_message(mail_inbox, address: str) -> str:
    inbox, _ = mail_inbox
    body = inbox.last_to(address).get_content()
    return re.search(r"http://[^/\s]+(/\S+)", body).group(1)


def test_sign_up_verify_two_factor_and_sessions(page: Page, screenshot, mail_inbox):
    email = f"secure{next(_n)}-{id(_n)}@example.com"
    page.goto("/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    screenshot("signup-sent")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("verify-banner")).to_be_visible()

    page.goto(link_in_last_message(mail_inbox, email))
    expect(page.get_by_text(f"Thank you: {email} is confirmed.")).to_be_visible()
    expect(page.get_by_test_id("verify-banner")).to_have_count(0)

    page.get_by_role("link", name="Account").click()
    page.get_by_role("link", name="Set up two-factor sign-in").click()
    expect(page.get_by_test_id("totp-qr").locator("svg")).to_be_visible()
    shots(page, screenshot, "two-factor-setup")
    secret = page.get_by_test_id("totp-secret").inner_text().strip()
    page.get_by_label("Code from your app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_test_id("recovery-codes").locator("li")).to_have_count(10)
    screenshot("recovery-codes")
    page.get_by_role("link", name="I have saved them").click()

    page.get_by_role("button", name="Log out").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.get_by_label("Code from your app").fill("000000")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("That code is not right.")).to_be_visible()
    screenshot("login-code-wrong")
    # Each code works once: the set-up used this step's, so log in with the next step's.
    page.get_by_label("Code from your app").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    page.get_by_role("link", name="Account").click()
    sessions = page.get_by_test_id("sessions")
    expect(sessions.get_by_test_id("session-row")).to_have_count(1)
    expect(sessions).to_contain_text("This browser")
    expect(sessions).to_contain_text("Chrome")
    history = page.get_by_test_id("security-history")
    expect(history).to_contain_text("Two-factor sign-in turned on")
    expect(history).to_contain_text("Email address verified")
    shots(page, screenshot, "account-security")


def test_forgot_password_by_email(page: Page, screenshot, mail_inbox, live_app):
    email = f"forgot{next(_n)}-{id(_n)}@example.com"
    page.goto("/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_text("we sent it a link")).to_be_visible()
    screenshot("forgot-sent")
    assert run_queued(live_app, "send_reset_link") == 1  # the worker's part: the mail
    link = link_in_last_message(mail_inbox, email)
    page.goto(link)
    page.get_by_label("New password", exact=True).fill("a newer long password")
    page.get_by_label("Repeat new password").fill("a newer long password")
    screenshot("reset-form")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_text("Your new password is set")).to_be_visible()
    page.goto(link)
    expect(page.get_by_role("heading", name="This link was already used")).to_be_visible()
    shots(page, screenshot, "link-used")
