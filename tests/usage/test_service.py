"""The usage page's rollup queries, fed through the real metering path, on both databases."""

from datetime import date, datetime

from dashboard.api.metering import record_call
from dashboard.keys.service import create_key
from dashboard.usage import service
from dashboard.usage.service import month_usage, parse_month, shift_month

MARCH = (date(2026, 3, 1), date(2026, 4, 1))
APRIL = (date(2026, 4, 1), date(2026, 5, 1))
LAST_MOMENT_OF_MARCH = datetime(2026, 3, 31, 23, 59, 59, 999000)
FIRST_MOMENT_OF_APRIL = datetime(2026, 4, 1, 0, 0, 0)


def test_shift_month_crosses_years():
    assert shift_month(date(2026, 1, 1), -1) == date(2025, 12, 1)
    assert shift_month(date(2026, 12, 1), 1) == date(2027, 1, 1)
    assert shift_month(date(2026, 3, 1), -11) == date(2025, 4, 1)


def test_month_days_covers_the_month():
    days = service.month_days(date(2028, 2, 1), date(2028, 3, 1))
    assert len(days) == 29 and days[0] == date(2028, 2, 1) and days[-1] == date(2028, 2, 29)


def test_days_split_at_midnight_utc(user, key, call, reject):
    call(user, key, "echo", LAST_MOMENT_OF_MARCH, tokens=3)
    call(user, key, "echo", FIRST_MOMENT_OF_APRIL, tokens=4)
    reject(user, key, "echo", FIRST_MOMENT_OF_APRIL, reason="quota")

    march = service.daily_tool_rows(user.id, *MARCH)
    assert [(row["day"], row["calls"], row["tokens"]) for row in march] == [
        (date(2026, 3, 31), 1, 3)
    ]
    april = service.daily_tool_rows(user.id, *APRIL)
    assert [(row["day"], row["calls"], row["rejected_quota"]) for row in april] == [
        (date(2026, 4, 1), 1, 1)
    ]


def test_daily_series_aligns_every_day_and_sums_tools(user, key, call, reject):
    call(user, key, "echo", datetime(2026, 3, 2, 8), ms=1)
    call(user, key, "echo", datetime(2026, 3, 2, 9), ms=7, status="error")
    call(user, key, "summarize", datetime(2026, 3, 2, 10), ms=6000, tokens=50)
    call(user, key, "summarize", datetime(2026, 3, 30, 10), ms=150)
    reject(user, key, "translate", datetime(2026, 3, 5, 1))

    days = service.month_days(*MARCH)
    series = service.daily_series(days, service.daily_tool_rows(user.id, *MARCH))
    assert len(series["calls"]) == 31
    assert series["calls"][1] == 3 and series["calls"][29] == 1 and sum(series["calls"]) == 4
    assert series["errors"][1] == 1
    assert series["tokens"][1] == 60
    assert series["rejected_rate_limit"][4] == 1
    # A tool that was only rejected has no calls to stack.
    assert set(series["by_tool"]) == {"echo", "summarize"}
    assert series["by_tool"]["echo"][1] == 2 and series["by_tool"]["summarize"][29] == 1
    # Histogram buckets: ≤1, (5,10] and > 5000 on March 2; (100,200] on March 30.
    assert series["histograms"][1] == [1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    assert series["histograms"][29][7] == 1


def test_breakdowns_per_key_and_tool(user, make_user, call, reject):
    production, _ = create_key(user, "Production")
    staging, _ = create_key(user, "Staging")
    at = datetime(2026, 3, 10, 12)
    call(user, production, "echo", at, ms=10, tokens=5)
    call(user, production, "echo", at, ms=30, tokens=5, status="error")
    call(user, production, "summarize", at, ms=100, tokens=40)
    call(user, staging, "echo", at, ms=20, tokens=1)
    reject(user, staging, "echo", at)
    reject(user, staging, "echo", at, reason="quota")
    call(user, production, "echo", datetime(2026, 4, 1), ms=1, tokens=1)  # another month
    stranger = make_user()
    call(stranger, create_key(stranger, "Theirs")[0], "echo", at)

    keys = service.key_breakdown(user.id, *MARCH)
    assert [(k["name"], k["calls"], k["errors"], k["tokens"], k["rejected"]) for k in keys] == [
        ("Production", 3, 1, 50, 0),
        ("Staging", 1, 0, 1, 2),
    ]
    assert keys[0]["avg_latency_ms"] == round(140 / 3, 1)
    assert keys[0]["prefix"] == production.prefix and keys[0]["key_id"] == str(production.id)

    tools = service.tool_breakdown(user.id, *MARCH)
    assert [(t["tool"], t["calls"], t["errors"], t["tokens"]) for t in tools] == [
        ("echo", 3, 1, 11),
        ("summarize", 1, 0, 40),
    ]
    assert tools[0]["avg_latency_ms"] == 20.0


def test_breakdown_of_a_key_with_only_rejections_has_no_average(user, key, reject):
    reject(user, key, "echo", datetime(2026, 3, 3))
    (row,) = service.key_breakdown(user.id, *MARCH)
    assert row["calls"] == 0 and row["rejected"] == 1 and row["avg_latency_ms"] is None


def test_monthly_trend_fills_missing_months(user, key, call):
    call(user, key, "echo", datetime(2025, 4, 15), tokens=2)  # the oldest month shown
    call(user, key, "echo", datetime(2025, 3, 31, 23, 59, 59), tokens=100)  # one too old
    call(user, key, "echo", datetime(2026, 3, 1), tokens=7)
    call(user, key, "echo", datetime(2026, 3, 2), tokens=8)
    trend = service.monthly_trend(user.id, date(2026, 3, 1))
    assert len(trend) == 12
    assert trend[0] == {"month": "2025-04", "calls": 1, "tokens": 2}
    assert trend[-1] == {"month": "2026-03", "calls": 2, "tokens": 15}
    assert [row["calls"] for row in trend[1:-1]] == [0] * 10


def test_usage_report_agrees_with_month_usage(user, key, call, reject):
    for day in (1, 15, 31):
        call(user, key, "echo", datetime(2026, 3, day, 12), tokens=day)
    reject(user, key, "echo", datetime(2026, 3, 31, 23, 59, 59))
    report = service.usage_report(user.id, "free", service.Period(*MARCH, False), date(2026, 11, 2))
    assert report["summary"] == month_usage(user.id, "free", *MARCH)
    assert sum(report["series"]["calls"]) == report["summary"].calls == 3
    assert sum(report["series"]["tokens"]) == report["summary"].tokens == 47
    assert sum(report["histogram"]) == 3
    assert parse_month("2026-03", date(2026, 11, 1)) == MARCH


def test_the_rolling_days_cross_the_month(user, key, call, reject):
    """On March 1 the rolling 30 days are January 31 to March 1; the quota stays March's."""
    today = date(2026, 3, 1)
    period = service.rolling_period(today)
    assert (period.first, period.last_day) == (date(2026, 1, 31), today)
    assert len(service.month_days(period.first, period.following)) == 30
    call(user, key, "echo", datetime(2026, 1, 30, 23, 59, 59), tokens=1000)  # a day too old
    call(user, key, "echo", datetime(2026, 1, 31), tokens=1)
    call(user, key, "echo", datetime(2026, 2, 14, 12), tokens=2, status="error")
    call(user, key, "echo", datetime(2026, 3, 1, 9), tokens=4)
    reject(user, key, "echo", datetime(2026, 2, 20), reason="rate_limit")
    report = service.usage_report(user.id, "free", period, today)
    summary = report["summary"]
    assert (summary.calls, summary.tokens, summary.errors) == (3, 7, 1)
    assert (summary.rejected.rate_limit, summary.rejected.quota) == (1, 0)
    assert summary.quota.used == 1  # March's calls only: what the plan counts
    assert summary.quota.resets_at == "2026-04-01T00:00:00Z"
    assert summary.month == "2026-03"
    assert report["series"]["days"][0] == date(2026, 1, 31)
    assert report["series"]["calls"][0] == 1 and report["series"]["calls"][-1] == 1
    assert sum(report["series"]["calls"]) == 3
    assert [row["calls"] for row in report["tools"]] == [3]
    assert report["trend"][-1]["month"] == "2026-03"


def test_parse_period():
    today = date(2026, 3, 1)
    assert service.parse_period(None, today) == service.rolling_period(today)
    assert service.parse_period("", today).rolling
    february = service.parse_period("2026-02", today)
    assert (february.first, february.following, february.rolling) == (
        date(2026, 2, 1),
        date(2026, 3, 1),
        False,
    )
    assert (february.label, february.name) == ("February 2026", "February 2026")
    assert service.rolling_period(today).name == "the last 30 days"


def test_test_mode_calls_are_left_out_of_every_number_and_counted_apart(user, key, call, reject):
    test_key = create_key(user, "CI", is_test=True)[0]
    at = datetime(2026, 3, 10, 12, 0)
    call(user, key, "echo", at, tokens=3)
    call(user, key, "echo", at, status="error", tokens=1)
    reject(user, key, "echo", at)
    for n in range(3):  # as the gateway meters a test-mode key's call: not billable
        record_call(
            user_id=user.id,
            api_key_id=test_key.id,
            tool_name="sentiment",
            tool_version="v1",
            input_payload={"n": n},
            output_payload=None,
            status="error" if n else "success",
            execution_time_ms=10,
            tokens_used=50,
            error_message="boom" if n else None,
            error_code="tool_error" if n else None,
            at=at,
            billable=False,
        )
    reject(user, test_key, "sentiment", at, reason="rate_limit")

    month = month_usage(user.id, "free", *MARCH)
    assert (month.calls, month.tokens, month.errors, month.error_rate) == (2, 4, 1, 0.5)
    assert (month.rejected.rate_limit, month.rejected.quota) == (1, 0)
    assert [(day.calls, day.errors, day.tokens) for day in month.days] == [(2, 1, 4)]
    assert [tool.tool for tool in month.tools] == ["echo"]
    days = service.days_usage(user.id, "free", date(2026, 3, 1), date(2026, 3, 31), MARCH[0])
    assert (days.calls, days.tokens, days.errors) == (2, 4, 1)
    rows = service.daily_tool_rows(user.id, *MARCH)
    assert [(row["tool"], row["calls"]) for row in rows] == [("echo", 2)]
    assert [row["name"] for row in service.key_breakdown(user.id, *MARCH)] == ["Production"]
    assert [row["tool"] for row in service.tool_breakdown(user.id, *MARCH)] == ["echo"]
    assert service.test_calls(user.id, *MARCH) == {"calls": 3, "errors": 2}
    assert service.test_calls(user.id, *APRIL) == {"calls": 0, "errors": 0}
