"""Every page of the dashboard, with the demo data, passes axe-core in every look.

The other browser tests check the states they reach (forms in error, the secret shown once, the
log panel, the banner); this module walks every page once, as a customer, as support staff and
while viewing as a customer, and saves light/dark desktop/phone screenshots to look at.
"""

import os
import re
import uuid

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from dashboard.auth.service import user_by_email
from dashboard.demo import ADMIN_EMAIL, DEMO_EMAIL, DEMO_PASSWORD, SUPPORT_EMAIL, load_demo
from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import ApiKey, ToolLog
from dashboard.organisations.invitations import invite
from dashboard.organisations.roles import Role
from dashboard.organisations.service import create_organisation
from tests.browser import people
from tests.browser.axe import DESKTOP, LOOKS, assert_accessible, wait_until_settled

SHOTS = os.environ.get("A11Y_SHOTS", "test-results/looks")


@pytest.fixture(scope="module")
def demo(live_app):
    """The demo accounts with a few weeks of calls; ids of one key and one failed call."""
    with live_app.app_context():
        load_demo(days=40, calls=300, users=2)
        user = user_by_email(DEMO_EMAIL)
        key = db.session.scalars(
            db.select(ApiKey).where(ApiKey.user_id == user.id, ApiKey.name == "Production server")
        ).one()
        failed = db.session.scalars(
            db.select(ToolLog).where(ToolLog.user_id == user.id, ToolLog.status == "error").limit(1)
        ).one()
        ids = {
            "key": str(key.id),
            "log": str(failed.id),
            "user": str(user.id),
            "group": f"tool={failed.tool_name}&version={failed.tool_version}"
            f"&group={failed.error_fingerprint}",
        }
        db.session.remove()
    return ids


def log_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def look_at(page: Page, name: str, top: bool = False) -> None:
    """Screenshots in every look (to look at), then axe in every look (to assert). top=True
    scrolls up first, after a state that moved the focus down the page: axe counts whatever the
    sticky header then covers (here the schema's <summary>) as a target too small to touch."""
    if top:
        page.evaluate("window.scrollTo({top: 0, behavior: 'instant'})")  # not smooth
    os.makedirs(SHOTS, exist_ok=True)
    viewport = page.viewport_size
    too_wide = []
    for scheme, size in LOOKS:
        page.set_viewport_size(size)
        page.emulate_media(color_scheme=scheme)
        wait_until_settled(page, scheme)
        width = "desktop" if size == DESKTOP else "phone"
        # Nothing may push the page sideways (wide content scrolls inside its own box); charts
        # redraw at the new width a moment after the window changes.
        try:
            page.wait_for_function("() => document.documentElement.scrollWidth <= innerWidth")
        except PlaywrightTimeoutError:
            too_wide.append(f"{scheme} {size['width']}px")
        page.screenshot(path=f"{SHOTS}/{name}-{width}-{scheme}.png", full_page=True)
    page.set_viewport_size(viewport)
    assert not too_wide, f"{page.url} is wider than the window in: {', '.join(too_wide)}"
    page.emulate_media(color_scheme="light")
    assert_accessible(page)


def test_signed_out_pages(page: Page):
    page.goto("/login")
    look_at(page, "login")
    page.goto("/signup")
    look_at(page, "signup")
    page.goto("/login")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Enter your email").first).to_be_visible()
    look_at(page, "login-errors")
    page.goto("/password/forgot")
    look_at(page, "password-forgot")


def test_the_development_outbox(page: Page, live_app, tmp_path, monkeypatch):
    """Sign-up in development: "check your inbox" points to the local outbox, which shows the
    link (mail kept locally, as `make run` does, instead of the test SMTP server)."""
    for name, value in (
        ("MAIL_SERVER", ""),
        ("OUTBOX_PAGE", True),
        ("MAIL_OUTBOX_FILE", str(tmp_path / "outbox.txt")),
    ):
        monkeypatch.setitem(live_app.config, name, value)
    page.goto("/signup")
    page.get_by_label("Email").fill(f"outbox-{uuid.uuid4().hex[:8]}@example.com")
    page.get_by_label("Password").fill(people.PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    look_at(page, "signup-sent-development")
    page.get_by_role("link", name="local outbox").click()
    expect(page.get_by_role("heading", name="Confirm your email address")).to_be_visible()
    look_at(page, "outbox")


CUSTOMER_PAGES = [
    ("usage", "/usage/"),
    ("usage-empty", "/usage/?month=2021-02"),
    ("usage-bad-month", "/usage/?month=2026-13"),
    ("logs", "/logs/"),
    ("logs-filtered", "/logs/?status=error"),
    ("logs-period", "/logs/?since=24h"),
    ("logs-of-an-error-group", "/logs/?status=error&{group}"),
    ("log-detail", "/logs/{log}"),
    ("errors", "/errors/"),
    ("errors-beyond-retention", "/errors/?days=90"),
    ("keys", "/keys/"),
    ("key-page", "/keys/{key}"),
    ("key-edit", "/keys/{key}/edit"),
    ("key-roll", "/keys/{key}/roll"),
    ("key-expire", "/keys/{key}/expire"),
    ("key-expire-from-its-page", "/keys/{key}/expire?back=key"),
    ("root-keys", "/keys/root/"),
    ("tools", "/tools/"),
    ("tool", "/tools/json_validate"),
    ("account", "/account/"),
    ("two-factor", "/account/two-factor"),
    ("alerts", "/alerts/"),
    ("webhooks", "/webhooks/"),
    ("not-found", "/no-such-page"),
]


@pytest.mark.parametrize(("name", "path"), CUSTOMER_PAGES, ids=[n for n, _ in CUSTOMER_PAGES])
def test_customer_pages(page: Page, demo, name, path):
    log_in(page, DEMO_EMAIL)
    page.goto(path.format(**demo))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    look_at(page, name)


def test_a_new_accounts_empty_pages(page: Page, live_app):
    """What a customer sees before the first call: every empty state, in every look."""
    people.sign_up(page, f"empty-{uuid.uuid4().hex[:8]}@example.com")
    for name, path in (
        ("empty-usage", "/usage/"),
        ("empty-logs", "/logs/"),
        ("empty-errors", "/errors/"),
        ("empty-keys", "/keys/"),
        ("empty-root-keys", "/keys/root/"),
        ("empty-webhooks", "/webhooks/"),
    ):
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        look_at(page, name)


def test_tool_playground(page: Page, demo):
    """The playground's states: an answer, a form error, an API error, the JSON mode."""
    log_in(page, DEMO_EMAIL)
    page.goto("/tools/keywords/v1")
    run = page.get_by_role("button", name="Run", exact=True)
    run.click()
    expect(page.get_by_test_id("playground-status")).to_have_text("200 OK")
    look_at(page, "tool-playground-answer", top=True)
    page.get_by_label("text (required)").fill("")
    run.click()
    expect(page.get_by_test_id("playground-status")).to_have_text("422 UNPROCESSABLE ENTITY")
    look_at(page, "tool-playground-api-error", top=True)
    page.get_by_role("button", name="Edit as JSON").click()
    expect(page.get_by_label("Input (JSON)")).to_be_visible()
    look_at(page, "tool-playground-json", top=True)
    page.goto("/tools/json_validate/v1")
    page.get_by_label("document (required)").fill("{not json")
    page.get_by_label("One of my keys (paste its secret)").check()
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_text("This is not valid JSON")).to_be_visible()
    look_at(page, "tool-playground-form-errors", top=True)


def test_log_panel(page: Page, demo):
    log_in(page, DEMO_EMAIL)
    page.goto("/logs/?status=error")
    page.locator("#log-results tbody tr").first.locator("a").first.click()
    expect(page.locator("#log-panel").get_by_text("Request ID")).to_be_visible()
    look_at(page, "log-panel")


SUPPORT_PAGES = [
    ("support", "/support/"),
    ("support-search", "/support/?q=example.com"),
    ("support-no-match", "/support/?q=nobody-here"),
    ("support-user", "/support/users/{user}"),
    ("audit", "/support/audit"),
    ("tool-admin", "/support/tools/"),
    ("tool-admin-new", "/support/tools/new"),
    ("portal-admin", "/support/portal/"),
]


@pytest.mark.parametrize(("name", "path"), SUPPORT_PAGES, ids=[n for n, _ in SUPPORT_PAGES])
def test_support_pages(page: Page, demo, name, path):
    log_in(page, ADMIN_EMAIL)
    page.goto(path.format(**demo))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    look_at(page, name)


def test_viewing_as_a_customer(page: Page, demo):
    log_in(page, SUPPORT_EMAIL)
    page.goto(f"/support/users/{demo['user']}")
    page.get_by_label("Reason").fill("Ticket 77: usage chart looks wrong")
    page.get_by_role("button", name="View as this user").click()
    banner = page.get_by_role("region", name="Viewing as a customer")
    expect(banner).to_be_visible()
    for name, path in (
        ("as-usage", "/usage/"),
        ("as-keys", "/keys/"),
        ("as-logs", "/logs/"),
        ("as-tool", "/tools/echo"),  # the playground says it does not run while viewing
    ):
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        look_at(page, name)
    banner.get_by_role("button", name=re.compile("^End")).click()
    expect(page.get_by_role("region", name="Viewing as a customer")).to_have_count(0)


def test_an_organisation_in_the_support_console(page: Page, live_app, demo):
    """An organisation as support finds it (search by name), its page (members, no role form),
    the member's page listing it, and viewing as it (the banner names the organisation)."""
    from dashboard.organisations.invitations import invite
    from dashboard.organisations.roles import Role
    from dashboard.organisations.service import create_organisation

    name = f"Console {uuid.uuid4().hex[:6]}"
    with live_app.app_context():
        owner = user_by_email(DEMO_EMAIL)
        organisation = create_organisation(owner, name)
        invite(owner, organisation, "invited@example.com", Role.VIEWER)
        ids = {"organisation": str(organisation.user_id), "owner": str(owner.id)}
        db.session.remove()
    log_in(page, ADMIN_EMAIL)
    page.goto(f"/support/?q={name}")
    expect(page.get_by_test_id("organisation-result")).to_contain_text(name)
    look_at(page, "support-search-organisation")
    page.goto(f"/support/users/{ids['organisation']}")
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    look_at(page, "support-organisation")
    page.goto(f"/support/users/{ids['owner']}")
    expect(page.get_by_test_id("belongs-to")).to_contain_text(name)
    look_at(page, "support-member")
    page.goto(f"/support/users/{ids['organisation']}")
    page.get_by_label("Reason").fill("Ticket 78: the team's keys fail")
    page.get_by_role("button", name="View as this organisation").click()
    banner = page.get_by_role("region", name="Viewing as a customer")
    expect(banner.get_by_test_id("impersonated-organisation")).to_have_text(name)
    page.goto("/keys/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    look_at(page, "as-organisation-keys")
    banner.get_by_role("button", name=re.compile("^End")).click()
    expect(page.get_by_role("region", name="Viewing as a customer")).to_have_count(0)


def test_the_invitation_pages(page: Page, live_app, demo):
    """An invitation to an organisation as its invitee sees it: logged out, logged in, used."""
    with live_app.app_context():
        owner = user_by_email(ADMIN_EMAIL)
        organisation = create_organisation(owner, f"Walk {uuid.uuid4().hex[:6]}")
        path = (
            "/invitations/"
            + invite(owner, organisation, DEMO_EMAIL, Role.DEVELOPER).link.rsplit("/", 1)[1]
        )
        db.session.remove()
    page.goto(path)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    look_at(page, "invitation-logged-out")
    log_in(page, DEMO_EMAIL)
    page.goto(path)
    look_at(page, "invitation")
    page.get_by_role("button", name=re.compile("Accept and join")).click()
    expect(page.get_by_text("You joined")).to_be_visible()
    look_at(page, "members-as-developer")
    page.goto(path)
    expect(page.get_by_role("heading", name="This invitation was already used")).to_be_visible()
    look_at(page, "invitation-used")


def test_the_organisation_pages(page: Page, live_app, demo):
    """Creating an organisation, then its members page as its owner (invite form, roles)."""
    log_in(page, DEMO_EMAIL)
    page.goto("/organisations/new")
    look_at(page, "organisation-new")
    page.get_by_role("button", name="Create organisation").click()
    expect(page.get_by_text("Give the organisation a name.")).to_be_visible()
    look_at(page, "organisation-new-errors")
    page.get_by_label("Organisation name").fill(f"Team {uuid.uuid4().hex[:6]}")
    page.get_by_role("button", name="Create organisation").click()
    expect(page.get_by_test_id("my-role")).to_have_text("owner")
    page.get_by_label("Email address").fill("colleague@example.com")
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_test_id("invitations")).to_contain_text("colleague@example.com")
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    look_at(page, "members-as-owner")
    page.get_by_label("Billing contact").fill("billing@example.com")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("The organisation's settings are saved.")).to_be_visible()
    expect(page.get_by_label("Billing contact")).to_have_value("billing@example.com")
    look_at(page, "members-settings-saved")
    page.get_by_label("Require two-factor sign-in").check()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Turn on two-factor sign-in yourself first")).to_be_visible()
    look_at(page, "members-settings-refused")


def test_the_keys_page_of_an_organisation_with_the_switcher_open(page: Page, live_app, demo):
    """An organisation is the open account: its keys, and the header's menu of accounts."""
    name = f"Keys walk {uuid.uuid4().hex[:6]}"
    with live_app.app_context():
        organisation = create_organisation(user_by_email(DEMO_EMAIL), name)
        create_key(organisation.account, "Shared CI")
        db.session.remove()
    log_in(page, DEMO_EMAIL)
    page.goto("/keys/")
    switcher = page.get_by_test_id("account-switcher")
    switcher.locator("summary").click()
    switcher.get_by_role("button", name=re.compile(f"^{name}")).click()
    expect(page.get_by_test_id("current-account")).to_have_text(name)
    expect(page.locator("tr.key-row")).to_contain_text("Shared CI")
    switcher.locator("summary").click()
    expect(switcher.get_by_role("button", name=re.compile(f"^{name}"))).to_have_attribute(
        "aria-current", "true"
    )
    look_at(page, "keys-of-an-organisation-switcher-open")


def test_a_new_root_key_shown_once(page: Page, live_app, demo):
    """The Root keys page with a secret just made, and its refusal of a bad form."""
    log_in(page, DEMO_EMAIL)
    page.goto("/keys/root/")
    page.get_by_label("Name").fill("Terraform")
    page.get_by_label("keys:read: List and read API keys.").check()
    page.get_by_role("button", name="Create root key").click()
    expect(page.get_by_test_id("new-root-secret")).to_be_visible()
    look_at(page, "root-key-created")
    page.get_by_role("button", name="Create root key").click()  # no name, no scope
    expect(page.get_by_text("Give the root key a name.")).to_be_visible()
    look_at(page, "root-key-refused")
