import itertools
import re

from playwright.sync_api import Page, expect

from tests.browser.axe import assert_accessible
from tests.browser.people import sign_up

_n = itertools.count()


def new_email() -> str:
    return f"browser{next(_n)}-{id(_n)}@example.com"


def test_sign_up_log_out_log_in_change_password(page: Page, screenshot):
    email = new_email()
    sign_up(page, email)
    expect(page.get_by_text(email).first).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_text("You are logged out.")).to_be_visible()

    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("a long password")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Account").click()
    expect(page.get_by_role("heading", name="Account", level=1)).to_be_visible()
    screenshot("account")
    assert_accessible(page)

    page.get_by_label("Current password").fill("a long password")
    page.get_by_label("New password", exact=True).fill("an even longer password")
    page.get_by_label("Repeat new password").fill("an even longer password")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your password was changed.")).to_be_visible()
    screenshot("account-after-password-change")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("an even longer password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_wrong_password_shows_an_error(page: Page, screenshot):
    email = new_email()
    sign_up(page, email)
    page.get_by_role("button", name="Log out").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    error = page.get_by_text("That email and password do not match an account.")
    expect(error).to_be_visible()
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    screenshot("wrong-password")
    assert_accessible(page)


def test_sign_up_form_explains_bad_input(page: Page):
    page.goto("/signup")
    page.get_by_label("Email").fill("not-an-email")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("Enter a valid email address")).to_be_visible()
    expect(page.get_by_text("Use between 10 and 128 characters.")).to_be_visible()
