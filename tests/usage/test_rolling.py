"""The usage page opens on the last 30 days (issue 26 #5): a call on the 1st of a month still
shows the 29 days before it; months stay one click (and one `?month=` URL) away."""

from datetime import datetime

import pytest

from dashboard.usage import routes
from tests.usage.test_routes import figures_of, text_of

FIRST_OF_MARCH = datetime(2026, 3, 1, 12)


@pytest.fixture
def today_is_march_1st(monkeypatch):
    monkeypatch.setattr(routes, "utcnow", lambda: FIRST_OF_MARCH)


@pytest.fixture
def across_months(today_is_march_1st, logged_in, key, call, reject):
    call(logged_in, key, "echo", datetime(2026, 1, 30, 23, 59, 59), tokens=1000)  # too old
    call(logged_in, key, "echo", datetime(2026, 1, 31), tokens=1)
    call(logged_in, key, "summarize", datetime(2026, 2, 14, 12), tokens=2, status="error")
    call(logged_in, key, "echo", datetime(2026, 3, 1, 9), tokens=4)
    reject(logged_in, key, "echo", datetime(2026, 2, 20), reason="rate_limit")
    return logged_in


def test_on_the_1st_the_default_shows_the_29_days_before(client, across_months):
    page = client.get("/usage/").text
    assert text_of(page, "usage-month") == "Last 30 days"
    assert text_of(page, "usage-range") == "(Sat Jan 31 – Sun Mar 1)"
    assert text_of(page, "stat-calls") == "3"
    assert text_of(page, "stat-tokens") == "7"
    assert text_of(page, "stat-rejected") == "1"
    by_tool = {trace["name"]: trace for trace in figures_of(page)["calls-by-tool"]["data"]}
    assert by_tool["echo"]["x"][0] == "2026-01-31" and by_tool["echo"]["x"][-1] == "2026-03-01"
    assert len(by_tool["echo"]["x"]) == 30
    assert by_tool["echo"]["y"][0] == 1 and by_tool["summarize"]["y"][14] == 1
    assert by_tool["Total"]["y"][-1] == 1
    # The quota is March's: one call so far, resetting on April 1.
    assert text_of(page, "quota-used") == "1"
    assert '<time datetime="2026-04-01T00:00:00Z">April 1, 2026, 00:00 UTC</time>' in page
    assert "Resets on" in page and "Free plan · March 2026" in page
    # Counts link to the logs of exactly these days.
    assert 'href="/logs/?from=2026-01-31&amp;to=2026-03-01&amp;mode=live"' in page
    assert "Breakdown for the last 30 days" in page


def test_a_month_stays_one_url_away(client, across_months):
    page = client.get("/usage/?month=2026-02").text
    assert text_of(page, "usage-month") == "February 2026"
    assert 'data-testid="usage-range"' not in page
    assert text_of(page, "stat-calls") == "1"  # only February 14
    assert len(figures_of(page)["calls-by-tool"]["data"][0]["x"]) == 28
    assert text_of(page, "quota-used") == "1" and "Reset on" in page
    assert 'id="period-rolling"' in page and 'aria-current="page">Last 30 days' not in page
    assert 'href="/usage/?month=2026-01"' in page and 'href="/usage/?month=2026-03"' in page
    march = client.get("/usage/?month=2026-03").text
    assert text_of(march, "stat-calls") == "1" and text_of(march, "usage-month") == "March 2026"


def test_the_picker_on_the_rolling_days(client, across_months):
    page = client.get("/usage/").text
    assert 'aria-current="page">Last 30 days</a>' in page
    assert 'rel="prev"' not in page and 'rel="next"' not in page
    assert 'hx-get="/usage/?month=2026-03"' in page  # "This month"
    assert 'type="month" name="month"' in page and 'value=""' in page


def test_the_rolling_fragment_for_htmx(client, across_months):
    response = client.get("/usage/", headers={"HX-Request": "true"})
    assert "<html" not in response.text
    assert "Showing usage for the last 30 days." in response.text
    assert "HX-Request" in response.headers["Vary"]


def test_nothing_in_the_last_30_days(client, today_is_march_1st, logged_in, key, call):
    call(logged_in, key, "echo", datetime(2026, 1, 15))
    page = client.get("/usage/").text
    assert "No calls in the last 30 days" in page
    assert set(figures_of(page)) == {"trend"}  # January's calls are in the 12 months
