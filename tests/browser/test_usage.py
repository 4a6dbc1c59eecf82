"""The usage page in Chromium: charts drawn by Plotly, month changes in place, light and dark."""

import random
import re
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from dashboard.api.metering import record_call, record_rejection
from dashboard.auth.service import create_user
from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import utcnow
from dashboard.usage.service import shift_month
from tests.browser.axe import CHART_TIMEOUT_MS, assert_accessible

PASSWORD = "a long password"
TOOLS = ("summarize", "translate", "word-count", "sentiment")


@pytest.fixture(scope="module")
def account(live_app):
    """A pro account with two months of calls: this month and a quieter previous month."""
    rng = random.Random(6)
    email = f"usage-{uuid.uuid4().hex[:8]}@example.com"
    with live_app.app_context():
        user = create_user(email, PASSWORD, plan="pro")
        keys = [create_key(user, name)[0] for name in ("Production server", "Staging")]
        this_month = utcnow().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        last_month = datetime_of(shift_month(this_month.date(), -1))
        for start, count in ((this_month, 260), (last_month, 90)):
            for _ in range(count):
                at = start + timedelta(days=rng.randrange(27), hours=rng.randrange(24))
                at = min(at, utcnow() - timedelta(seconds=1))
                tool = rng.choice(TOOLS)
                key = rng.choice(keys)
                if rng.random() < 0.04:
                    record_rejection(
                        user_id=user.id,
                        api_key_id=key.id,
                        tool_name=tool,
                        reason=rng.choice(("rate_limit", "quota")),
                        at=at,
                    )
                    continue
                failed = rng.random() < 0.07
                record_call(
                    user_id=user.id,
                    api_key_id=key.id,
                    tool_name=tool,
                    tool_version="v1",
                    input_payload={"text": "hello"},
                    output_payload=None if failed else {"ok": True},
                    status="error" if failed else "success",
                    execution_time_ms=int(rng.lognormvariate(3.5, 0.9)),
                    tokens_used=rng.randint(20, 400),
                    at=at,
                )
        db.session.remove()
    return email


def datetime_of(day):
    return utcnow().replace(
        year=day.year, month=day.month, day=1, hour=0, minute=0, second=0, microsecond=0
    )


def log_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Usage", level=1)).to_be_visible()


def expect_charts_drawn(page: Page, count: int = 6, theme: str = "light") -> None:
    """Wait for Plotly's own word: usage.js sets data-drawn-theme once a chart is drawn."""
    charts = page.locator(f'[data-usage-chart][data-drawn-theme="{theme}"]')
    # Drawing six charts can take long on a busy machine; this waits for the event, not a time.
    expect(charts).to_have_count(count, timeout=CHART_TIMEOUT_MS)
    expect(page.locator(".js-plotly-plot")).to_have_count(count)


def test_usage_page_draws_charts_and_changes_month(page: Page, account, screenshot):
    log_in(page, account)
    expect_charts_drawn(page)
    assert_accessible(page)
    expect(page.get_by_test_id("usage-month")).to_have_text("Last 30 days")  # the default
    screenshot("desktop-light-last-30-days")

    page.get_by_role("link", name="This month").click()
    expect(page).to_have_url(re.compile(r"/usage/\?month=\d{4}-\d{2}$"))
    expect(page.get_by_test_id("usage-month")).not_to_have_text("Last 30 days")
    expect_charts_drawn(page)
    calls = page.get_by_test_id("stat-calls")
    this_month_calls = calls.inner_text()
    this_month_label = page.get_by_test_id("usage-month").inner_text()
    screenshot("desktop-light")

    page.get_by_role("link", name=re.compile("^Previous month")).click()
    expect(page).to_have_url(re.compile(r"/usage/\?month=\d{4}-\d{2}$"))
    expect(page.get_by_test_id("usage-month")).not_to_have_text(this_month_label)
    expect(calls).not_to_have_text(this_month_calls)
    expect_charts_drawn(page)
    assert_accessible(page)  # the month swapped in by htmx
    # The swap happened in place: the Plotly bundle was not loaded a second time.
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1

    page.get_by_role("link", name=re.compile("^Next month")).click()
    expect(page.get_by_test_id("usage-month")).to_have_text(this_month_label)
    expect(calls).to_have_text(this_month_calls)
    expect_charts_drawn(page)

    # The month input: an empty month far back shows the empty state, not empty charts.
    page.get_by_label("Month", exact=True).fill("2021-02")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"month=2021-02"))
    expect(page.get_by_test_id("usage-empty")).to_be_visible()
    expect(page.locator(".js-plotly-plot")).to_have_count(0)

    page.go_back()
    expect(page.get_by_test_id("usage-month")).to_have_text(this_month_label)
    expect_charts_drawn(page)

    page.get_by_role("link", name="Last 30 days").click()
    expect(page).to_have_url(re.compile(r"/usage/$"))
    expect(page.get_by_test_id("usage-month")).to_have_text("Last 30 days")
    expect_charts_drawn(page)


def test_usage_page_phone_and_dark(page: Page, account, screenshot):
    log_in(page, account)
    expect_charts_drawn(page)
    page.emulate_media(color_scheme="dark")
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "dark")
    expect_charts_drawn(page, theme="dark")  # redrawn in the dark theme's colours
    # The charts follow the theme: their text is light on the dark page.
    color = page.evaluate(
        "getComputedStyle(document.querySelector('.js-plotly-plot .xtick text')).fill"
    )
    assert color == "rgb(154, 161, 174)"
    screenshot("desktop-dark")
    page.set_viewport_size({"width": 375, "height": 812})
    page.reload()
    expect_charts_drawn(page, theme="dark")
    screenshot("phone-dark")
    page.screenshot(path="test-results/usage-phone-dark-first-screen.png")
    page.locator("#chart-trend-title").scroll_into_view_if_needed()
    page.screenshot(path="test-results/usage-phone-dark-trend.png")
    page.emulate_media(color_scheme="light")
    page.reload()
    expect_charts_drawn(page)
    screenshot("phone-light")


def test_bad_month_shows_a_message(page: Page, account):
    log_in(page, account)
    response = page.goto("/usage/?month=2026-13")
    assert response.status == 400
    expect(page.get_by_test_id("bad-month")).to_contain_text("is not a month")
    page.get_by_role("link", name=re.compile("^Show ")).click()
    expect_charts_drawn(page)


def test_charts_wait_behind_a_placeholder_and_plotly_arrives_gzipped(page: Page, account):
    log_in(page, account)
    held = []
    # Routing a request turns the browser cache off, so Plotly is asked for again.
    page.route("**/static/vendor/plotly-basic.min.js", lambda route: held.append(route))
    with page.expect_request("**/plotly-basic.min.js"):
        page.goto("/usage/", wait_until="commit")
    chart = page.locator("[data-usage-chart]").first
    expect(chart).to_be_attached()
    # Plotly is still on its way: the card says so instead of standing empty.
    placeholder = chart.evaluate("element => getComputedStyle(element, '::before').content")
    assert placeholder == '"Loading chart…"'

    with page.expect_response("**/plotly-basic.min.js") as answer:
        held[0].continue_()
    assert answer.value.header_value("content-encoding") == "gzip"
    expect_charts_drawn(page)
    assert chart.evaluate("element => getComputedStyle(element, '::before').content") == "none"
