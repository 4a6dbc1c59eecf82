"""Organisations in Chromium, three people in three browsers: the owner creates one and invites a
colleague by email; the colleague accepts the emailed link, opens the organisation with the
header's switcher and makes a key; the owner sees who made it; a viewer reads the keys but gets
no form, and a forced POST is refused. Screenshots of the switcher open and the members page."""

import itertools
import re

from playwright.sync_api import Browser, BrowserContext, Page, expect

from dashboard.auth.service import user_by_email
from dashboard.extensions import db
from dashboard.organisations.invitations import accept, invite
from dashboard.organisations.roles import Role
from dashboard.organisations.service import organisation_by_slug
from tests.browser import people
from tests.browser.axe import DESKTOP, PHONE, wait_until_settled

_n = itertools.count()


def new_email(who: str) -> str:
    return f"org-{who}{next(_n)}-{id(_n)}@example.com"


def second_browser(browser: Browser, base_url: str) -> BrowserContext:
    """Another person's browser: cookies of its own, the same window size as `page`'s."""
    return browser.new_context(base_url=base_url, viewport=DESKTOP)


def switch_to(page: Page, account: str) -> None:
    """Open `account` with the header's switcher (its menu's POST button)."""
    switcher = page.get_by_test_id("account-switcher")
    switcher.locator("summary").click()
    switcher.get_by_role("button", name=re.compile(f"^{re.escape(account)}")).click()
    expect(page.get_by_text(f"{account} is the account open now.")).to_be_visible()
    expect(page.get_by_test_id("current-account")).to_have_text(account)


def switcher_shots(page: Page, screenshot, name: str) -> None:
    """The switcher open: desktop light and dark, then phone width (light and dark)."""
    for scheme, size in (("light", DESKTOP), ("dark", DESKTOP), ("light", PHONE), ("dark", PHONE)):
        page.set_viewport_size(size)
        page.emulate_media(color_scheme=scheme)
        wait_until_settled(page, scheme)
        expect(page.locator(".account-menu")).to_be_visible()
        width = "desktop" if size == DESKTOP else "phone"
        screenshot(f"{name}-{width}-{scheme}")
    page.set_viewport_size(DESKTOP)
    page.emulate_media(color_scheme="light")


def test_an_owner_a_developer_and_a_viewer_share_an_organisations_keys(
    page: Page, browser: Browser, base_url, live_app, mail_inbox, screenshot
):
    inbox, _ = mail_inbox
    owner_email, colleague_email, viewer_email = (new_email(w) for w in ("owner", "dev", "view"))
    team = f"Team {next(_n)}-{id(_n) % 10_000}"

    # The owner creates the organisation, which becomes the open account, and invites.
    people.sign_up(page, owner_email)
    page.goto("/organisations/new")
    page.get_by_label("Organisation name").fill(team)
    page.get_by_role("button", name="Create organisation").click()
    expect(page.get_by_test_id("my-role")).to_have_text("owner")
    expect(page.get_by_test_id("current-account")).to_have_text(team)
    page.get_by_label("Email address").fill(colleague_email)
    page.get_by_label("Role", exact=True).select_option("developer")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_test_id("invitations")).to_contain_text(colleague_email)
    members_page = page.url
    slug = re.search(r"/o/([^/]+)/members/", members_page).group(1)
    invitation = inbox.link_to(colleague_email)
    assert invitation.startswith("/invitations/")
    message = inbox.last_to(colleague_email)
    assert message["Subject"] == f"Join {team} on Toolbox"
    assert f"{owner_email} invited you to join {team} on Toolbox as developer." in (
        message.get_content()
    )

    colleague = second_browser(browser, base_url).new_page()
    viewer = second_browser(browser, base_url).new_page()
    try:
        # The colleague signs up, accepts the emailed link and joins as a developer.
        people.sign_up(colleague, colleague_email)
        colleague.goto(invitation)
        expect(colleague.get_by_test_id("invitation-role")).to_have_text("developer")
        colleague.get_by_role("button", name=f"Accept and join {team}").click()
        expect(colleague.get_by_text(f"You joined {team} as developer.")).to_be_visible()

        # The switcher goes back to their own account and over to the organisation again.
        colleague.goto("/keys/")
        switch_to(colleague, "Personal")
        expect(colleague.get_by_test_id("keys-empty")).to_be_visible()
        switch_to(colleague, team)
        expect(colleague).to_have_url(re.compile(r"/keys/$"))
        expect(colleague.get_by_role("link", name="Members")).to_be_visible()
        colleague.get_by_label("Name").fill("ci runner")
        colleague.get_by_role("button", name="Create key").click()
        expect(colleague.locator("#new-key-secret")).to_be_visible()
        expect(colleague.locator("tr.key-row")).to_have_count(1)

        # The owner, in the organisation, finds the key and who made it.
        page.goto("/keys/")
        expect(page.get_by_test_id("current-account")).to_have_text(team)
        page.get_by_role("link", name="ci runner", exact=True).click()
        expect(page.get_by_role("heading", name=re.compile("^ci runner"), level=1)).to_be_visible()
        history = page.get_by_test_id("key-history")
        expect(history).to_contain_text(f"by {colleague_email}")
        expect(history).not_to_contain_text(owner_email)

        # A third member, added as a viewer through the invitation service, reads but cannot
        # create: no form, and a POST made by hand (with a valid CSRF token) is refused.
        people.sign_up(viewer, viewer_email)
        with live_app.app_context():
            organisation = organisation_by_slug(slug)
            sent = invite(user_by_email(owner_email), organisation, viewer_email, Role.VIEWER)
            accept(user_by_email(viewer_email), sent.link.rsplit("/", 1)[1])
            db.session.remove()
        viewer.goto("/keys/")
        switch_to(viewer, team)
        expect(viewer.locator("tr.key-row")).to_have_count(1)
        expect(viewer.locator("tr.key-row")).to_contain_text("ci runner")
        expect(viewer.locator("#create-key")).to_have_count(0)
        expect(viewer.get_by_role("button", name="Create key")).to_have_count(0)
        expect(viewer.get_by_role("link", name=re.compile("^(Edit|Roll|Expire)"))).to_have_count(0)
        expect(viewer.get_by_test_id("keys-read-only")).to_contain_text(
            f"As viewer in {team} you see its keys"
        )
        token = viewer.locator('input[name="csrf_token"]').first.get_attribute("value")
        forced = viewer.request.post(
            "/keys/",
            form={
                "csrf_token": token,
                "name": "sneaky",
                "expiry": "never",
                "rate_limit_per_minute": "60",
            },
            max_redirects=0,
        )
        assert forced.status == 403
        assert f"Your role in {team} (viewer) may not do this." in forced.text()
        viewer.reload()
        expect(viewer.locator("tr.key-row")).to_have_count(1)
        expect(viewer.get_by_text("sneaky")).to_have_count(0)
    finally:
        colleague.context.close()
        viewer.context.close()

    # The owner's members page: three members, no invitation left; then the switcher open.
    page.goto(members_page)
    members = page.get_by_test_id("members")
    for email in (owner_email, colleague_email, viewer_email):
        expect(members).to_contain_text(email)
    expect(page.get_by_text("No invitations waiting.")).to_be_visible()
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    screenshot("members")
    page.set_viewport_size(PHONE)
    screenshot("members-phone")
    page.set_viewport_size(DESKTOP)

    page.goto("/keys/")
    page.get_by_test_id("account-switcher").locator("summary").click()
    menu = page.locator(".account-menu")
    expect(menu.get_by_role("button", name=re.compile(f"^{re.escape(team)}"))).to_have_attribute(
        "aria-current", "true"
    )
    expect(menu.get_by_role("button", name=re.compile("^Personal"))).to_be_visible()
    switcher_shots(page, screenshot, "switcher-open")

    # Like other menus it closes with Escape (focus back on its button) or a click elsewhere.
    summary = page.get_by_test_id("account-switcher").locator("summary")
    menu.get_by_role("button", name=re.compile("^Personal")).focus()
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(summary).to_be_focused()
    summary.click()
    expect(menu).to_be_visible()
    page.get_by_role("heading", name="API keys", level=1).click()
    expect(menu).to_be_hidden()
    expect(page.get_by_test_id("current-account")).to_have_text(team)
