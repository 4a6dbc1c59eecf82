"""The portal's API reference (/docs/api) in Chromium: Redoc renders the served OpenAPI document
under the site's Content-Security-Policy, with every operation of the document on the page."""

from playwright.sync_api import Page, expect

# Recorded by the page itself from its first script on: each CSP violation the browser reports.
LISTEN_FOR_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def operation_ids(document: dict) -> set[str]:
    return {
        operation["operationId"]
        for operations in document["paths"].values()
        for operation in operations.values()
    }


def test_the_api_reference_renders_every_operation_under_the_csp(page: Page, live_server):
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.add_init_script(LISTEN_FOR_VIOLATIONS)
    answer = page.goto("/docs/api")
    assert answer.status == 200
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    expect(page.locator("#api-reference")).to_have_attribute("data-state", "ready")

    document = page.request.get(f"{live_server}/api/openapi.json").json()
    expected = operation_ids(document)
    assert {"call_sentiment_v1", "list_tools", "get_usage"} <= expected
    shown = set(
        page.locator("[data-section-id^='operation/']").evaluate_all(
            "nodes => nodes.map(node => node.dataset.sectionId.slice('operation/'.length))"
        )
    )
    assert shown == expected
    # Each operation's summary is on the page too, and the deprecated version says so.
    for operations in document["paths"].values():
        for operation in operations.values():
            section = page.locator(f"[data-section-id='operation/{operation['operationId']}']")
            expect(section.get_by_role("heading", level=2).first).to_contain_text(
                operation["summary"]
            )
    deprecated = page.locator("[data-section-id='operation/call_sentiment_v1']")
    expect(deprecated).to_contain_text("Deprecated")
    assert page.evaluate("window.__violations") == []
    assert problems == []
