"""The chart functions, without Flask or a database: traces, stacking, values, percentiles."""

import json
from datetime import date

import pytest

from dashboard.usage import charts
from dashboard.usage.charts import Percentile, latency_percentile

DAYS = [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]


def histogram(**counts) -> list[int]:
    """A 12-bucket histogram from bucket names: le_1=3, gt_5000=2, ..."""
    names = [f"le_{b}" for b in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)] + ["gt_5000"]
    return [counts.get(name, 0) for name in names]


def test_percentile_of_an_empty_histogram_is_none():
    assert latency_percentile(histogram(), 0.5) is None
    assert latency_percentile(histogram(), 0.95) is None


def test_percentile_interpolates_inside_the_bucket():
    # 10 calls in (5, 10] ms: the median is halfway through the bucket.
    counts = histogram(le_10=10)
    assert latency_percentile(counts, 0.5) == Percentile(7.5, False)
    assert latency_percentile(counts, 0.95) == Percentile(9.75, False)


def test_percentile_walks_cumulative_counts():
    # 50 calls ≤ 1 ms, 50 calls in (50, 100] ms.
    counts = histogram(le_1=50, le_100=50)
    # Rank 50 is the last call of the first bucket: its upper bound.
    assert latency_percentile(counts, 0.5) == Percentile(1.0, False)
    # Rank 95 is the 45th of 50 calls in (50, 100]: 50 + 50 * 45/50.
    assert latency_percentile(counts, 0.95) == Percentile(95.0, False)
    assert latency_percentile(counts, 1.0) == Percentile(100.0, False)


def test_first_bucket_starts_at_zero():
    assert latency_percentile(histogram(le_1=4), 0.5) == Percentile(0.5, False)


def test_percentile_in_the_open_bucket_is_its_lower_bound():
    everything_slow = histogram(gt_5000=7)
    p50 = latency_percentile(everything_slow, 0.5)
    assert p50 == Percentile(5000.0, True)
    assert p50.label == "> 5000 ms"
    # p50 in a closed bucket, p95 in the open one.
    mixed = histogram(le_200=90, gt_5000=10)
    assert latency_percentile(mixed, 0.5) == Percentile(100 + 100 * 50 / 90, False)
    assert latency_percentile(mixed, 0.95).open_ended


def test_percentile_labels():
    assert Percentile(3.25, False).label == "3.2 ms"
    assert Percentile(1234.4, False).label == "1234 ms"


def test_percentile_refuses_bad_input():
    with pytest.raises(ValueError, match="12 bucket counts"):
        latency_percentile([1, 2, 3], 0.5)
    with pytest.raises(ValueError, match="q must be"):
        latency_percentile(histogram(le_1=1), 0)


def test_layout_is_transparent_and_theme_neutral():
    layout = charts.tokens_chart(DAYS, [1, 2, 3]).layout
    assert layout.paper_bgcolor == charts.TRANSPARENT
    assert layout.plot_bgcolor == charts.TRANSPARENT
    assert layout.font.color == charts.NEUTRAL
    # The whole month shows, half a day beyond the first and last bars.
    assert list(layout.xaxis.range) == ["2026-02-28T12:00:00", "2026-03-03T12:00:00"]


def test_calls_by_tool_stacks_one_trace_per_tool_busiest_first():
    figure = charts.calls_by_tool_chart(DAYS, {"echo": [1, 0, 2], "summarize": [5, 5, 0]})
    assert figure.layout.barmode == "stack"
    *tools, total = figure.data
    assert [trace.name for trace in tools] == ["summarize", "echo"]
    assert all(trace.type == "bar" for trace in tools)
    assert list(figure.data[0].x) == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert list(figure.data[0].y) == [5, 5, 0]
    assert list(figure.data[1].y) == [1, 0, 2]
    assert figure.data[0].marker.color != figure.data[1].marker.color
    # The day's total rides along in the hover, drawn nowhere and listed in no legend.
    assert total.name == "Total" and total.showlegend is False
    assert list(total.y) == [6, 5, 2]
    assert list(total.customdata) == ["6 calls", "5 calls", "2 calls"]
    assert total.marker.color == charts.TRANSPARENT


def test_hover_labels_say_one_call_not_one_calls():
    figure = charts.calls_by_tool_chart(DAYS, {"echo": [1, 0, 1_234]})
    assert list(figure.data[0].customdata) == ["1 call", "0 calls", "1,234 calls"]
    assert "%{customdata}" in figure.data[0].hovertemplate
    assert list(charts.tokens_chart(DAYS, [1, 2, 0]).data[0].customdata) == [
        "1 token",
        "2 tokens",
        "0 tokens",
    ]
    assert list(charts.errors_chart(DAYS, [1, 0, 3], [2, 0, 3]).data[0].customdata) == [
        "1 error",
        "0 errors",
        "3 errors",
    ]


def test_a_few_calls_get_whole_number_ticks():
    few = charts.calls_by_tool_chart(DAYS, {"echo": [1, 0, 2]}).layout.yaxis
    assert few.tickformat == ",d" and few.dtick == 1  # 0, 1, 2: never "0.5 calls"
    many = charts.calls_by_tool_chart(DAYS, {"echo": [100, 0, 2_000]}).layout.yaxis
    assert many.tickformat == ",d" and many.dtick is None  # Plotly picks the step
    assert charts.tokens_chart(DAYS, [0, 0, 0]).layout.yaxis.dtick == 1


def test_more_than_six_tools_fold_into_other():
    by_tool = {f"tool{n}": [n, 0, 1] for n in range(1, 8)}  # tool7 busiest, tool1 quietest
    *tools, total = charts.calls_by_tool_chart(DAYS, by_tool).data
    assert [trace.name for trace in tools] == [
        "tool7",
        "tool6",
        "tool5",
        "tool4",
        "tool3",
        "Other (2 tools)",
    ]
    assert list(tools[-1].y) == [3, 0, 2]  # tool2 + tool1
    assert tools[-1].marker.color == charts.OTHER
    assert list(total.y) == [28, 0, 7]
    # Six tools are drawn as six: "Other" of one tool would hide its name for nothing.
    six = {f"tool{n}": [n, 0, 1] for n in range(1, 7)}
    names = [trace.name for trace in charts.calls_by_tool_chart(DAYS, six).data]
    assert "Other" not in " ".join(names) and len(names) == 7


def test_calls_by_outcome_has_the_four_outcomes_stacked():
    figure = charts.calls_by_outcome_chart(DAYS, [9, 8, 7], [1, 2, 3], [4, 0, 0], [0, 0, 6])
    assert figure.layout.barmode == "stack"
    *outcomes, total = figure.data
    assert [trace.name for trace in outcomes] == [
        "Success",
        "Error",
        "Refused: rate limit",
        "Refused: quota",
    ]
    assert [list(trace.y) for trace in outcomes] == [[9, 8, 7], [1, 2, 3], [4, 0, 0], [0, 0, 6]]
    assert list(total.customdata) == ["14 calls", "10 calls", "16 calls"]


def test_tokens_chart():
    figure = charts.tokens_chart(DAYS, [10, 0, 30])
    assert len(figure.data) == 1
    assert list(figure.data[0].y) == [10, 0, 30]


def test_errors_chart_puts_the_rate_on_a_second_axis():
    figure = charts.errors_chart(DAYS, [1, 0, 0], [4, 0, 10])
    bars, rate = figure.data
    assert bars.type == "bar" and list(bars.y) == [1, 0, 0]
    assert rate.type == "scatter" and rate.yaxis == "y2"
    # A day without calls is a gap, not a 0% day.
    assert list(rate.y) == [0.25, None, 0.0]
    assert figure.layout.yaxis2.overlaying == "y"
    assert figure.layout.yaxis2.side == "right"
    # Two axes, each saying which series it measures.
    assert figure.layout.yaxis.title.text == "Errors (bars)"
    assert figure.layout.yaxis2.title.text == "Error rate (line)"


def test_latency_chart_shows_median_and_p95_per_day():
    histograms = [histogram(le_10=10), histogram(), histogram(gt_5000=3)]
    median, p95 = charts.latency_chart(DAYS, histograms).data
    assert median.name == "Median" and p95.name == "95th percentile"
    assert list(median.y) == [7.5, None, 5000.0]
    assert list(p95.y) == [9.75, None, 5000.0]
    assert list(median.customdata) == ["7.5 ms", "no calls", "> 5000 ms"]


def test_trend_chart_highlights_the_selected_month():
    months = ["2026-01", "2026-02", "2026-03"]
    figure = charts.trend_chart(months, [1, 2, 3], [10, 20, 30], selected="2026-02")
    calls, tokens = figure.data
    assert list(calls.x) == ["2026-01-01", "2026-02-01", "2026-03-01"]
    assert list(calls.y) == [1, 2, 3]
    assert list(tokens.y) == [10, 20, 30] and tokens.yaxis == "y2"
    colors = list(calls.marker.color)
    assert colors[1] == charts.PRIMARY and colors[0] != charts.PRIMARY
    assert tokens.line.color == charts.SECONDARY != charts.PRIMARY
    assert figure.layout.yaxis2.title.text == "Tokens (line)"


def test_figure_json_cannot_close_the_script_element():
    figure = charts.calls_by_tool_chart(DAYS, {"</script><b>&": [1, 1, 1]})
    text = charts.figure_json(figure)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text)["data"][0]["name"] == "</script><b>&"


def test_month_figures_builds_every_chart():
    series = {
        "days": DAYS,
        "calls": [3, 0, 1],
        "errors": [1, 0, 0],
        "tokens": [30, 0, 10],
        "rejected_rate_limit": [0, 2, 0],
        "rejected_quota": [0, 0, 1],
        "histograms": [histogram(le_5=3), histogram(), histogram(le_1=1)],
        "by_tool": {"echo": [3, 0, 1]},
    }
    trend = [{"month": "2026-02", "calls": 5, "tokens": 50}]
    figures = charts.month_figures(series, trend, "2026-03")
    assert set(figures) == {
        "calls-by-tool",
        "calls-by-outcome",
        "tokens",
        "errors",
        "latency",
        "trend",
    }
    # Success is calls minus errors.
    assert list(figures["calls-by-outcome"].data[0].y) == [2, 0, 1]
    summaries = charts.summaries(series, trend)
    assert summaries["calls-by-tool"].startswith("4 calls this month; the busiest day was March 1")
    assert "3 were refused" in summaries["calls-by-outcome"]


def test_every_chart_passes_plotlys_validation():
    # The page builds figures without plotly.py's per-property checks (for speed): check here.
    import plotly.graph_objects as go

    series = {
        "days": DAYS,
        "calls": [3, 0, 1],
        "errors": [1, 0, 0],
        "tokens": [30, 0, 10],
        "rejected_rate_limit": [0, 2, 0],
        "rejected_quota": [0, 0, 1],
        "histograms": [histogram(le_5=3), histogram(), histogram(gt_5000=1)],
        "by_tool": {"echo": [3, 0, 1], "summarize": [0, 0, 0]},
    }
    trend = [{"month": "2026-02", "calls": 5, "tokens": 50}]
    for name, figure in charts.month_figures(series, trend, "2026-02").items():
        validated = go.Figure(figure.to_dict())  # raises ValueError on any unknown property
        assert validated.to_plotly_json()["data"] == figure.to_plotly_json()["data"], name
        assert figure.to_plotly_json()["layout"]["template"] == {}, name  # no 6 kB theme


def test_a_tool_keeps_its_colour_whatever_its_rank():
    days = [date(2026, 3, 1), date(2026, 3, 2)]
    busy_echo = charts.calls_by_tool_chart(days, {"echo": [9, 9], "keywords": [1, 1]})
    busy_keywords = charts.calls_by_tool_chart(days, {"echo": [1, 1], "keywords": [9, 9]})
    colours = [
        {trace.name: trace.marker.color for trace in fig.data} for fig in (busy_echo, busy_keywords)
    ]
    assert colours[0] == colours[1]
    assert colours[0]["echo"] == charts.tool_color("echo")


def test_the_current_months_charts_end_today():
    days = [date(2026, 3, d) for d in range(1, 32)]
    series = {
        "days": days,
        "calls": [1] * 31,
        "errors": [0] * 31,
        "tokens": [2] * 31,
        "rejected_rate_limit": [0] * 31,
        "rejected_quota": [0] * 31,
        "histograms": [[1] + [0] * 11 for _ in days],
        "by_tool": {"echo": [1] * 31},
    }
    figures = charts.month_figures(series, [], "2026-03", today=date(2026, 3, 10))
    for name in ("calls-by-tool", "calls-by-outcome", "tokens", "errors", "latency"):
        x = figures[name].data[0].x
        assert len(x) == 10 and x[-1] == "2026-03-10", name
        assert figures[name].layout.xaxis.range[1].startswith("2026-03-10"), name
    whole = charts.month_figures(series, [], "2026-03", today=date(2026, 4, 2))
    assert len(whole["tokens"].data[0].x) == 31


def test_the_built_in_tools_have_distinct_colours():
    names = (
        "echo",
        "json_validate",
        "keywords",
        "language",
        "markdown",
        "readability",
        "sentiment",
    )
    assert len({charts.tool_color(name) for name in names}) == len(names)
