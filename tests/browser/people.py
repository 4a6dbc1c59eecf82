"""Accounts made in the browser the way a customer makes them: sign up, then log in (signing up
does not log you in: the page says to check your inbox, whether or not the address was new)."""

from playwright.sync_api import Page, expect

PASSWORD = "a long password"


def sign_up(page: Page, email: str, password: str = PASSWORD) -> str:
    """Sign up with `email`, log in from the "Check your inbox" page, and return the address."""
    page.goto("/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    return email
