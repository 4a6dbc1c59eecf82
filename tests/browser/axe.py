"""axe-core in Chromium: `assert_accessible(page)` checks the page as it is now, in every look.

Call it at each page or fragment state a browser test reaches (after the state is on screen):

    from tests.browser.axe import assert_accessible

    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-key-secret")).to_be_focused()
    assert_accessible(page)

It runs axe-core (from npm, pinned in package-lock.json; `make assets` installs it into
node_modules/) four times: light and dark colour scheme, desktop and phone width. Any violation of
any impact fails the test with the rule, the elements and axe's own explanation. In each look it
also measures what axe does not: the non-text contrast of controls (WCAG 1.4.11, 3:1 for the
border or fill of inputs, selects, checkboxes, radios and buttons against what lies behind them;
control_contrast.js). Afterwards the page is back in the viewport and colour scheme it had, so
the test goes on where it was.

The script is injected with page.evaluate of the file's text: the app's Content-Security-Policy
forbids the inline and foreign scripts that page.add_script_tag would add.
"""

from functools import cache
from pathlib import Path

from playwright.sync_api import Page, expect

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
CONTROL_CONTRAST_JS = Path(__file__).with_name("control_contrast.js")
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
# Charts are drawn when Plotly says so; on a busy machine that can take a while.
CHART_TIMEOUT_MS = 60_000
LOOKS = (
    ("light", DESKTOP),
    ("dark", DESKTOP),
    ("dark", PHONE),
    ("light", PHONE),
)

# Rules switched off, each with the reason it does not apply. Keep this empty unless a rule
# cannot apply to this app; fix the page instead.
DISABLED_RULES: dict[str, str] = {}

OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
    "rules": {rule: {"enabled": False} for rule in DISABLED_RULES},
}


@cache
def axe_source() -> str:
    if not AXE_JS.exists():
        raise RuntimeError(f"{AXE_JS} is missing: run `make assets` (npm ci) first")
    return AXE_JS.read_text(encoding="utf-8")


def axe_violations(page: Page) -> list[dict]:
    """axe-core's violations for the page as it is now (one run, the current look)."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    return page.evaluate("options => axe.run(document, options).then(r => r.violations)", OPTIONS)


def low_contrast_controls(page: Page) -> list[dict]:
    """Visible controls whose boundary (border or fill) is under 3:1 against their background."""
    return page.evaluate(CONTROL_CONTRAST_JS.read_text(encoding="utf-8"))


def describe_low_contrast(controls: list[dict], look: str) -> str:
    lines = [f"[{look}] control-contrast: a control's boundary is under 3:1 (WCAG 1.4.11)"]
    for c in controls[:12]:
        lines.append(
            f"    {c['control']}: {c['part']} {c['colour']} on {c['background']} = {c['ratio']}:1"
        )
    if len(controls) > 12:
        lines.append(f"    … and {len(controls) - 12} more")
    return "\n".join(lines)


def describe(violations: list[dict], look: str) -> str:
    lines = []
    for violation in violations:
        lines.append(f"[{look}] {violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:8]:
            lines.append(f"    {' '.join(node['target'])}: {node['failureSummary']}".rstrip())
            lines.append(f"      {node['html'][:160]}")
        if len(violation["nodes"]) > 8:
            lines.append(f"    … and {len(violation['nodes']) - 8} more")
    return "\n".join(lines)


def wait_until_settled(page: Page, scheme: str) -> None:
    """The theme switch has landed and any chart has redrawn for the new look."""
    expect(page.locator("html")).to_have_attribute("data-bs-theme", scheme)
    # Colours fade between themes (Bootstrap's transitions): judge them when they have landed.
    page.wait_for_function(
        "() => document.getAnimations().every(a => !(a instanceof CSSTransition) "
        "|| a.playState === 'finished')"
    )
    # usage.js marks each chart with the theme it was last drawn for, once Plotly has drawn it.
    page.wait_for_function(
        """scheme => [...document.querySelectorAll('[data-usage-chart].is-drawn')]
             .every(chart => chart.dataset.drawnTheme === scheme)""",
        arg=scheme,
        timeout=CHART_TIMEOUT_MS,
    )


def assert_accessible(page: Page, looks=LOOKS) -> None:
    """Fail with axe's findings unless the page has no violation in light, dark, desktop, phone."""
    viewport = page.viewport_size
    scheme = page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'")
    found = []
    # At the top nothing sits under the sticky header; scrolled down, axe counts whatever the
    # header covers as a target too small to touch (the focused field itself stays clear of it:
    # scroll-padding-top). Not smooth: Bootstrap makes scrolling smooth.
    page.evaluate("window.scrollTo({top: 0, behavior: 'instant'})")
    try:
        for colour, size in looks:
            page.set_viewport_size(size)
            page.emulate_media(color_scheme=colour)
            wait_until_settled(page, colour)
            look = f"{colour} {size['width']}px {page.url}"
            violations = axe_violations(page)
            if violations:
                found.append(describe(violations, look))
            controls = low_contrast_controls(page)
            if controls:
                found.append(describe_low_contrast(controls, look))
    finally:
        page.set_viewport_size(viewport)
        page.emulate_media(color_scheme=scheme)
    assert not found, "accessibility violations:\n" + "\n".join(found)
