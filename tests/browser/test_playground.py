"""The playground in Chromium: every built-in tool runs through its generated form and answers
200; errors, the JSON mode and the key choice; the same without JavaScript."""

from playwright.sync_api import Browser, Page, expect

from dashboard.tools.registry import all_tools
from tests.browser.axe import assert_accessible
from tests.browser.test_keys import both_widths, sign_up

BUILTIN = [tool for tool in all_tools() if tool.kind == "builtin"]


def run(page: Page) -> None:
    page.get_by_role("button", name="Run", exact=True).click()


def accessible_from_the_top(page: Page) -> None:
    """axe from the top of the page: after the focus moved down, whatever the sticky header
    covers would count as a target too small to touch (see test_accessibility.look_at)."""
    page.evaluate("window.scrollTo({top: 0, behavior: 'instant'})")  # not smooth
    assert_accessible(page)


def test_every_builtin_tool_runs_from_its_generated_form(page: Page, screenshot):
    sign_up(page)
    for tool in BUILTIN:
        page.goto(f"/tools/{tool.name}/{tool.version}")
        run(page)
        status = page.get_by_test_id("playground-status")
        expect(status).to_have_text("200 OK")
        expect(page.locator("#playground-answer-heading")).to_be_focused()
        expect(page.get_by_test_id("playground-body")).to_contain_text('"output"')
        expect(page.locator("#playground-curl")).to_contain_text(tool.endpoint_path)
    both_widths(page, screenshot, "answer")
    accessible_from_the_top(page)
    page.get_by_role("link", name="This call in the logs").click()
    expect(page.get_by_text("playground").first).to_be_visible()


def test_errors_json_mode_and_key_choice(page: Page, screenshot):
    sign_up(page)
    page.goto("/tools/json_validate/v1")
    document = page.get_by_label("document (required)")
    document.fill("{not json")
    run(page)
    expect(page.get_by_text("This is not valid JSON")).to_be_visible()
    expect(document).to_be_focused()
    expect(page.get_by_test_id("playground-answer")).to_have_count(0)  # nothing was called
    both_widths(page, screenshot, "form-error")
    accessible_from_the_top(page)

    page.goto("/tools/keywords/v1")
    page.get_by_label("text (required)").fill("")
    page.get_by_label("max_keywords").fill("99")
    run(page)
    expect(page.get_by_test_id("playground-status")).to_have_text("422 UNPROCESSABLE ENTITY")
    expect(page.get_by_test_id("playground-error")).to_contain_text("invalid_input")
    expect(page.get_by_text("This field is required. (from the API)")).to_be_visible()
    expect(page.locator("#playground-answer-heading")).to_be_focused()
    both_widths(page, screenshot, "api-error")
    accessible_from_the_top(page)

    page.get_by_label("text (required)").fill("Owls hunt at night.")
    page.get_by_role("button", name="Edit as JSON").click()
    raw = page.get_by_label("Input (JSON)")
    expect(raw).to_have_value('{\n  "text": "Owls hunt at night.",\n  "max_keywords": 99\n}')
    raw.fill('{"text": "Owls hunt at night.", "max_keywords": 2}')
    run(page)
    expect(page.get_by_test_id("playground-status")).to_have_text("200 OK")
    both_widths(page, screenshot, "json-mode")
    accessible_from_the_top(page)
    page.get_by_role("button", name="Back to the form").click()
    expect(page.get_by_label("max_keywords")).to_have_value("2")

    secret = page.get_by_label("Key secret")
    expect(secret).to_be_hidden()  # only when a pasted key is chosen (CSS)
    page.get_by_label("One of my keys (paste its secret)").check()
    expect(secret).to_be_visible()
    secret.fill("tk_live_not-a-key-of-mine")
    run(page)
    expect(page.get_by_text("That is not the secret of one of your keys.")).to_be_visible()
    expect(secret).to_be_focused()
    accessible_from_the_top(page)


def test_it_works_without_javascript(browser: Browser, base_url, page: Page):
    sign_up(page)  # a session cookie to share with a context that runs no script
    context = browser.new_context(java_script_enabled=False, base_url=base_url)
    context.add_cookies(page.context.cookies())
    plain = context.new_page()
    plain.goto("/tools/echo/v1")
    plain.get_by_label("message (required)").fill("no script here")
    plain.get_by_role("button", name="Run", exact=True).click()
    expect(plain.get_by_test_id("playground-status")).to_have_text("200 OK")
    expect(plain.get_by_test_id("playground-body")).to_contain_text("no script here")
    context.close()
