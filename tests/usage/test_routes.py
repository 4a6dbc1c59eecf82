"""The usage page: its numbers against the rollups, months, fragments and empty states."""

import json
import re
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from dashboard.extensions import db
from dashboard.keys.service import create_key
from dashboard.models import ToolLog, UsageDaily, UsageSummary, utcnow
from dashboard.usage.service import month_usage

LAST_MOMENT_OF_MARCH = datetime(2026, 3, 31, 23, 59, 59, 999000)
FIRST_MOMENT_OF_APRIL = datetime(2026, 4, 1)


def text_of(page: str, testid: str) -> str:
    """The text inside the element with data-testid=`testid`."""
    match = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</(?:div|span|td|strong)>', page, re.S)
    assert match, f"no {testid} on the page"
    return " ".join(re.sub(r"<[^>]+>", "", match.group(1)).split())  # links count as text


def figures_of(page: str) -> dict:
    """The Plotly figures embedded in the page, by id."""
    blocks = re.findall(
        r'<script type="application/json" id="figure-([\w-]+)">(.*?)</script>', page, re.S
    )
    return {name: json.loads(body) for name, body in blocks}


@pytest.fixture
def busy_march(logged_in, call, reject):
    """Calls of two keys and three tools across March's edges, and some rejections."""
    user = logged_in
    production, _ = create_key(user, "Production")
    staging, _ = create_key(user, "Staging")
    call(user, production, "echo", datetime(2026, 3, 1, 0, 0), ms=4, tokens=10)
    call(user, production, "echo", datetime(2026, 3, 14, 9), ms=40, tokens=20, status="error")
    call(user, staging, "summarize", datetime(2026, 3, 14, 10), ms=900, tokens=300)
    call(user, staging, "translate", LAST_MOMENT_OF_MARCH, ms=7000, tokens=5)
    reject(user, production, "echo", datetime(2026, 3, 20), reason="rate_limit")
    reject(user, staging, "echo", LAST_MOMENT_OF_MARCH, reason="quota")
    # Just outside March, on both sides.
    call(user, production, "echo", FIRST_MOMENT_OF_APRIL, tokens=1000)
    call(user, production, "echo", datetime(2026, 2, 28, 23, 59, 59, 999000), tokens=2000)
    reject(user, production, "echo", FIRST_MOMENT_OF_APRIL, reason="quota")
    return user


def rollup_totals(user_id, first: date, following: date) -> dict:
    """The month straight from the rollup tables, to check the page against."""
    totals = db.session.execute(
        sa.select(
            sa.func.sum(UsageDaily.calls),
            sa.func.sum(UsageDaily.errors),
            sa.func.sum(UsageDaily.tokens),
            sa.func.sum(UsageDaily.rejected_rate_limit),
            sa.func.sum(UsageDaily.rejected_quota),
        ).where(UsageDaily.user_id == user_id, UsageDaily.day >= first, UsageDaily.day < following)
    ).one()
    summary = db.session.execute(
        sa.select(UsageSummary.total_calls, UsageSummary.total_tokens).where(
            UsageSummary.user_id == user_id,
            UsageSummary.month_year == first.strftime("%Y-%m"),
        )
    ).one()
    calls, errors, tokens, rate_limited, quota = (int(value or 0) for value in totals)
    assert (calls, tokens) == (summary.total_calls, summary.total_tokens)
    return {"calls": calls, "errors": errors, "tokens": tokens, "rl": rate_limited, "q": quota}


def test_usage_needs_login(client):
    response = client.get("/usage/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_home_page_is_usage(client, logged_in):
    response = client.get("/")
    assert response.headers["Location"].endswith("/usage/")


def test_headline_matches_the_rollups(client, busy_march):
    totals = rollup_totals(busy_march.id, date(2026, 3, 1), date(2026, 4, 1))
    assert totals == {"calls": 4, "errors": 1, "tokens": 335, "rl": 1, "q": 1}
    page = client.get("/usage/?month=2026-03").get_data(as_text=True)
    assert text_of(page, "usage-month") == "March 2026"
    assert text_of(page, "stat-calls") == "4"
    assert text_of(page, "stat-tokens") == "335"
    assert text_of(page, "stat-error-rate") == "25.0%"
    assert text_of(page, "stat-errors") == "1 error"
    assert text_of(page, "stat-rejected") == "2"
    assert text_of(page, "stat-rejected-split") == "1 rate limit · 1 quota"
    assert text_of(page, "quota-used") == "4"
    assert text_of(page, "quota-percent") == "0.4%"  # 4 of the free plan's 1,000
    assert 'aria-valuenow="0.4"' in page
    assert '<time datetime="2026-04-01T00:00:00Z">April 1, 2026, 00:00 UTC</time>' in page
    assert "Reset on" in page  # a past month


def test_page_and_month_usage_agree(client, busy_march):
    page = client.get("/usage/?month=2026-04").get_data(as_text=True)
    numbers = month_usage(busy_march.id, "free", date(2026, 4, 1), date(2026, 5, 1))
    assert text_of(page, "stat-calls") == f"{numbers.calls:,}" == "1"
    assert text_of(page, "stat-tokens") == f"{numbers.tokens:,}" == "1,000"
    assert text_of(page, "stat-rejected-split") == "0 rate limit · 1 quota"


def test_charts_carry_the_daily_numbers(client, busy_march):
    page = client.get("/usage/?month=2026-03").get_data(as_text=True)
    figures = figures_of(page)
    assert set(figures) == {
        "calls-by-tool",
        "calls-by-outcome",
        "tokens",
        "errors",
        "latency",
        "trend",
    }
    by_tool = {trace["name"]: trace for trace in figures["calls-by-tool"]["data"]}
    assert set(by_tool) == {"echo", "summarize", "translate", "Total"}
    assert by_tool["Total"]["y"][13] == 2  # the day's total, shown in the hover
    assert len(by_tool["echo"]["x"]) == 31
    assert by_tool["echo"]["y"][0] == 1 and by_tool["echo"]["y"][13] == 1
    assert by_tool["translate"]["y"][30] == 1  # 23:59:59.999 on March 31 stays in March
    assert sum(by_tool["echo"]["y"]) == 2  # not Feb 28's or April 1st's calls
    outcome = {trace["name"]: trace["y"] for trace in figures["calls-by-outcome"]["data"]}
    assert outcome["Refused: quota"][30] == 1 and sum(outcome["Refused: quota"]) == 1
    assert outcome["Refused: rate limit"][19] == 1
    assert outcome["Error"][13] == 1 and outcome["Success"][13] == 1
    assert figures["tokens"]["data"][0]["y"][13] == 320
    latency = {trace["name"]: trace for trace in figures["latency"]["data"]}
    assert latency["Median"]["customdata"][30] == "> 5000 ms"
    trend = figures["trend"]["data"][0]
    assert trend["x"][-1] == "2026-03-01" and trend["y"][-1] == 4 and trend["y"][-2] == 1


def test_breakdown_tables(client, busy_march):
    page = client.get("/usage/?month=2026-03").get_data(as_text=True)
    by_key = page[page.index('data-testid="by-key"') :]
    by_key = by_key[: by_key.index("</table>")]
    assert "Production" in by_key and "Staging" in by_key
    rows = re.findall(r"<tr>(.*?)</tr>", by_key.split("<tbody>")[1], re.S)
    cells = [re.findall(r'<td class="text-end">(.*?)</td>', row, re.S) for row in rows]
    flat = [[" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in row] for row in cells]
    # Both keys have 2 calls; ties sort by id, so compare as a set.
    assert sorted(flat) == sorted(
        [["2", "1 50.0%", "30", "22 ms", "1"], ["2", "0", "305", "3,950 ms", "1"]]
    )
    by_tool = page[page.index('data-testid="by-tool"') :]
    assert re.search(r'echo</span>.*?<td class="text-end"><a [^>]+>2</a></td>', by_tool, re.S)


def test_page_reads_rollups_not_tool_logs(client, busy_march):
    before = client.get("/usage/?month=2026-03").get_data(as_text=True)
    db.session.execute(sa.delete(ToolLog))
    db.session.commit()
    after = client.get("/usage/?month=2026-03").get_data(as_text=True)
    assert text_of(after, "stat-calls") == text_of(before, "stat-calls") == "4"
    assert figures_of(after) == figures_of(before)


def test_other_accounts_do_not_show(client, busy_march, make_user, call):
    stranger = make_user()
    call(stranger, create_key(stranger, "Secret key name")[0], "secret-tool", datetime(2026, 3, 5))
    page = client.get("/usage/?month=2026-03").get_data(as_text=True)
    assert text_of(page, "stat-calls") == "4"
    assert "secret-tool" not in page and "Secret key name" not in page


def test_this_month_on_request(client, logged_in, key, call):
    call(logged_in, key, "echo", utcnow())
    page = client.get("/usage/", query_string={"month": utcnow().strftime("%Y-%m")}).text
    assert text_of(page, "usage-month") == utcnow().strftime("%B %Y")
    assert text_of(page, "stat-calls") == "1"
    assert "Resets on" in page
    assert 'rel="next"' not in page  # no link into the future
    assert 'rel="prev"' in page


def test_month_links_and_picker(client, logged_in):
    page = client.get("/usage/?month=2026-01").get_data(as_text=True)
    assert 'href="/usage/?month=2025-12"' in page
    assert 'hx-get="/usage/?month=2025-12"' in page
    assert 'href="/usage/?month=2026-02"' in page
    assert 'hx-push-url="true"' in page
    assert re.search(r'<form[^>]*method="get"[^>]*action="/usage/"', page)
    assert 'type="month" name="month"' in page and 'value="2026-01"' in page
    assert (
        'id="month-input"' in page and '<label class="visually-hidden" for="month-input">' in page
    )


def test_empty_month_shows_an_empty_state(client, logged_in):
    response = client.get("/usage/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-testid="usage-empty"' in page
    assert "No calls in the last 30 days" in page
    assert 'href="/keys/"' in page and 'href="/tools/"' in page
    assert figures_of(page) == {}
    assert text_of(page, "stat-calls") == "0"


def test_empty_month_keeps_the_trend_when_other_months_have_calls(client, logged_in, key, call):
    call(logged_in, key, "echo", datetime(2026, 1, 10))
    page = client.get("/usage/?month=2026-02").get_data(as_text=True)
    assert 'data-testid="usage-empty"' in page
    assert set(figures_of(page)) == {"trend"}


def test_month_with_only_rejections_is_not_empty(client, logged_in, key, reject):
    reject(logged_in, key, "echo", datetime(2026, 3, 3), reason="rate_limit")
    page = client.get("/usage/?month=2026-03").get_data(as_text=True)
    assert 'data-testid="usage-empty"' not in page
    assert text_of(page, "stat-rejected") == "1"


@pytest.mark.parametrize(
    ("month", "message"),
    [
        ("2026-13", "is not a month"),
        ("March", "is not a month"),
        ("2026-3", "is not a month"),
        ("1999-12", "out of range"),
        ("9999-01", "out of range"),
        ("<script>", "is not a month"),
    ],
)
def test_bad_month_is_a_clear_400(client, logged_in, month, message):
    response = client.get("/usage/", query_string={"month": month})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<html" in page
    assert message in text_of(page, "bad-month") or message in page
    assert 'role="alert"' in page
    assert re.search(r'<a class="alert-link[^"]*" href="/usage/">Show ', page)
    assert "<script>" not in page.split('data-testid="bad-month"')[1][:400]


def test_bad_month_fragment_for_htmx(client, logged_in):
    response = client.get("/usage/?month=2026-00", headers={"HX-Request": "true"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<html" not in page
    assert "is not a month" in page


def test_full_page_and_htmx_fragment(client, busy_march):
    full = client.get("/usage/?month=2026-03")
    page = full.get_data(as_text=True)
    assert "<html" in page and 'id="usage"' in page
    assert page.count("/static/vendor/plotly-basic.min.js") == 1
    assert "js/usage.js" in page
    assert "HX-Request" in full.headers["Vary"]

    fragment = client.get("/usage/?month=2026-03", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200
    assert "<html" not in body and "plotly-basic.min.js" not in body
    assert "HX-Request" in fragment.headers["Vary"]
    assert text_of(body, "stat-calls") == "4"
    assert set(figures_of(body)) == set(figures_of(page))
    assert "<title>Usage · March 2026 · Toolbox</title>" in body
    assert '<p id="usage-status" hx-swap-oob="innerHTML">Showing usage for March 2026.</p>' in body


def test_history_restore_gets_the_whole_page(client, busy_march):
    headers = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    page = client.get("/usage/?month=2026-03", headers=headers).get_data(as_text=True)
    assert "<html" in page


def test_quota_used_up(client, make_user, auth, call):
    user = make_user()
    key, _ = create_key(user, "k")
    for _ in range(3):
        call(user, key, "echo", datetime(2026, 3, 2))
    user.subscription_plan = "tiny"
    db.session.commit()
    from dashboard.plans import Plan

    client.application.config["PLANS"] = {
        **client.application.config["PLANS"],
        "tiny": Plan("tiny", "Tiny", 2, 10, 1, 1, 0),
    }
    auth.login(user)
    page = client.get("/usage/?month=2026-03").get_data(as_text=True)
    assert text_of(page, "quota-percent") == "150.0%"
    assert 'aria-valuenow="100"' in page
    assert "Quota used up" in page
    assert "progress-bar bg-danger" in page
